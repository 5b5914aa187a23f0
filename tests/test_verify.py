"""verify: the table's verdicts on the seed, on vectors, and through the CLI."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from decaybench.bounds import bound_emulation
from decaybench.config import DecayConfig
from decaybench.loops import MODES
from decaybench.modes import REGISTRY
from decaybench.modes.emulation import emulate
from decaybench.report import verify_table
from decaybench.verify import ModeReport, compare, verify
from decaybench.xla_flags import xla_contracts
from tests.test_bounds import bound_in_fractions

if TYPE_CHECKING:
    from tests.conftest import Command


def test_seed_every_mode_reproduces_and_meets_its_bound() -> None:
    report = verify()
    assert report.ok
    rows = {row.mode: row for row in report.rows}
    assert list(rows)[: len(MODES)] == list(MODES)
    for mode in MODES:
        row = rows[mode]
        assert row.documented == "15/15" and row.golden == "40/40", row
        assert row.within_bound
        if REGISTRY[mode].contract == "exact" and mode != "numpy":  # numpy's row is the emulation against itself
            assert row.bit_identical and row.max_ulp_w == 0 and row.max_ulp_loss == 0
    # The modes whose ModeSpec counts traces: the repeat neither traces nor compiles; the others show "-".
    assert [mode for mode in MODES if REGISTRY[mode].traces is not None] == ["function", "graph", "xla", "xla-exact"]
    for mode in MODES:
        assert rows[mode].traces.endswith(" then 0") if REGISTRY[mode].traces is not None else rows[mode].traces == "-"
    # tf.keras's own schedule (float32 pow): the 15 documented lines, but not the whole golden trace.
    reference = rows["tf.keras"]
    assert reference.contract == "reference" and reference.documented == "15/15" and reference.golden != "40/40"
    # tf.keras computes 0.2f * pow(0.99f, t) in float32; decaybench rounds its float64 rate once.
    keras_lr = _tf_keras_lrs(DecayConfig())
    same = int(np.sum(keras_lr == DecayConfig().schedule.lr(np.arange(40)).astype(np.float32)))
    assert 0 < same < 40 and rows["eager"].lr_vs_tf_keras.startswith(f"{same}/40 equal")
    # The model each row is held to: xla its own (fused where XLA contracts), bit for bit; the rest plain.
    assert rows["xla"].model == ("fused" if xla_contracts() else "plain") and rows["xla"].model_identical
    assert {rows[mode].model for mode in MODES if mode != "xla"} == {"plain"}


def _tf_keras_lrs(config: DecayConfig) -> np.ndarray:
    """tf.keras's own ExponentialDecay over the seed's epochs, straight from TensorFlow (Keras 3 or 2)."""
    import tensorflow as tf  # only this test needs TensorFlow itself

    schedule = tf.keras.optimizers.schedules.ExponentialDecay(config.initial_learning_rate, config.decay_steps, config.decay_rate)
    return np.array([float(schedule(step)) for step in range(config.epochs)], dtype=np.float32)


def _round32(value: Fraction) -> np.float32:
    """``value`` rounded once to float32, to nearest, ties to even."""
    near = np.float32(float(value))  # float() rounds once to float64: the float32 neighbours of value are near it
    candidates = [np.nextafter(near, np.float32(-np.inf)), near, np.nextafter(near, np.float32(np.inf))]
    return min(candidates, key=lambda c: (abs(Fraction(float(c)) - value), int(c.view(np.int32)) % 2))


def _ordered(value: np.float32) -> int:
    bits = int(np.float32(value).view(np.int32))
    return bits if bits >= 0 else -(bits & 0x7FFFFFFF)


def seed_distances_in_fractions() -> tuple[int, int]:
    """The seed run fused and plain, each operation rounded by :func:`_round32`: the largest ULP gaps of w and loss."""
    config = DecayConfig()
    plain = fused = np.float32(config.w0)
    worst_w = worst_loss = 0
    for lr64 in config.schedule.lr(np.arange(config.epochs)).tolist():
        lr, losses = Fraction(float(np.float32(lr64))), []
        for w in (plain, fused):
            x = _round32(Fraction(float(w)) + 1)
            losses.append(_round32(Fraction(float(x)) ** 2))
        x_plain, x_fused = (Fraction(float(_round32(Fraction(float(w)) + 1))) for w in (plain, fused))
        plain = _round32(Fraction(float(plain)) - Fraction(float(_round32(lr * 2 * x_plain))))
        fused = _round32(Fraction(float(fused)) - lr * 2 * x_fused)
        worst_w = max(worst_w, abs(_ordered(plain) - _ordered(fused)))
        worst_loss = max(worst_loss, abs(_ordered(losses[0]) - _ordered(losses[1])))
    return worst_w, worst_loss


def test_divergence_is_reported_for_every_mode_alike() -> None:
    report = verify(DecayConfig(initial_learning_rate=0.9, decay_rate=1.05, epochs=30), reference=False)
    assert report.ok
    assert {row.diverged_at for row in report.rows} == {3}  # 0.9 * 1.05**3 = 1.04 > 1


def test_table_names_every_mode() -> None:
    text = verify_table(verify(DecayConfig(epochs=3), reference=False))
    for mode in MODES:
        assert f"\n{mode} " in text
    assert text.endswith("compared before any divergence")


def test_cli_json_and_exit_status(decaybench: Command, tmp_path: Path) -> None:
    output = tmp_path / "verify.json"
    done = decaybench("verify", "--epochs", "5", "--format", "json", "--output", str(output), timeout=600)
    assert done.returncode == 0, done.stderr
    document = json.loads(output.read_text())
    assert document["ok"] is True and [row["mode"] for row in document["modes"]][: len(MODES)] == list(MODES)
    assert document["config"]["epochs"] == 5


def test_compare_the_fused_emulation_on_the_seed() -> None:
    config = DecayConfig()
    found = compare(emulate(config, fused=True), emulate(config), "fused-update", bound_emulation(config))
    assert found.stop is None and found.compared.all()
    assert found.worst == seed_distances_in_fractions()
    assert found.worst_bound == tuple(max(bound) for bound in bound_in_fractions(emulate(config)))
    assert not found.identical and found.within_bound
    # Per epoch: the largest distance against the largest bound would hide an epoch over its own bound.
    tight = dataclasses.replace(found, bound_w=found.ulp_w.copy())
    tight.bound_w[np.argmax(found.ulp_w)] -= 1
    assert tight.worst_bound[0] >= tight.worst[0] and not tight.within_bound


def test_compare_stops_at_the_first_diverged_epoch() -> None:
    config = DecayConfig(initial_learning_rate=0.9, decay_rate=1.05, epochs=30)
    found = compare(emulate(config, fused=True), emulate(config), "fused-update", bound_emulation(config))
    assert found.stop == 3 and found.compared.tolist() == [epoch < 3 for epoch in range(30)]
    shown = found.shown(found.ulp_loss)
    assert np.isnan(shown[3:]).all() and np.isfinite(shown[:3]).all()


def test_compare_without_a_contract_or_the_full_emulation_has_no_bound() -> None:
    config = DecayConfig(epochs=5)
    for contract, full in ((None, bound_emulation(config)), ("exact", None)):
        found = compare(emulate(config), emulate(config), contract, full)
        assert found.bound_w is found.bound_loss is None and found.bounds == ()
        assert found.identical and found.within_bound and found.worst_bound == (0, 0)
    with pytest.raises(ValueError, match="same recorded epochs"):
        compare(emulate(config), emulate(DecayConfig(epochs=4)), "exact")


def test_the_report_carries_each_rows_comparison_but_the_json_does_not() -> None:
    report = verify(DecayConfig(epochs=3), modes=("numpy",), reference=False)
    found = report.comparisons["numpy"]
    (row,) = report.rows
    assert (row.max_ulp_w, row.max_ulp_loss) == found.worst and (row.bound_w, row.bound_loss) == found.worst_bound
    assert found.contract == row.contract == "exact" and found.epochs.tolist() == [0, 1, 2]
    assert list(report.to_dict()) == ["config", "ok", "modes"]
    assert list(report.to_dict()["modes"][0]) == [field.name for field in dataclasses.fields(ModeReport)]
