"""Modes ``fit`` and ``callback``: what ``model.fit`` compiles, the rates it applies, steps per epoch."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from numpy.testing import assert_array_equal

from decaybench import cli
from decaybench.config import DecayConfig
from decaybench.keras_schedule import ExponentialDecay
from decaybench.loops import MODES, run
from decaybench.modes.emulation import emulate, emulate_steps
from decaybench.modes.fit import EpochRecorder, applied_lr, fit_model
from decaybench.steps import per_epoch_schedule, several_steps, step_lrs
from decaybench.validation import InvalidValue
from decaybench.verify import verify

LEGACY = os.environ.get("TF_USE_LEGACY_KERAS") == "1"


def _fit(config: DecayConfig) -> tuple[object, EpochRecorder]:
    recorder = EpochRecorder(config, applied_lr)
    schedule = ExponentialDecay(**dataclasses.asdict(config.schedule), dtype=config.dtype)
    return fit_model(config, schedule, [recorder]), recorder


def test_fit_compiles_without_xla_here_so_it_is_exact() -> None:
    # The cause of the contract, measured: tf_keras's default jit_compile is None (a plain
    # tf.function); Keras 3's "auto" resolves to False on a machine with no GPU.
    if tf.config.list_physical_devices("GPU") and not LEGACY:
        pytest.skip("with a GPU, Keras 3 resolves jit_compile='auto' to XLA")
    config = DecayConfig()
    model, recorder = _fit(config)
    assert not model.jit_compile
    emulated = emulate(config)
    w, loss, _ = recorder.record.arrays()
    assert_array_equal(w, emulated.w)
    assert_array_equal(loss, emulated.loss)
    # The rate the optimizer applied: the reference rounded once to float32, at every epoch.
    assert_array_equal(np.asarray(recorder.applied, np.float32), emulated.lr.astype(np.float32))


OTHER_KERAS = """
    import numpy as np
    from decaybench import DecayConfig, run
    from decaybench.modes.emulation import emulate
    for config in (DecayConfig(), DecayConfig(dtype="float64", size=3, epochs=7, staircase=True, decay_steps=2)):
        emulated = emulate(config)
        for mode in ("fit", "callback"):
            trace = run(config, mode)
            assert np.array_equal(trace.w, emulated.w) and np.array_equal(trace.loss, emulated.loss), (mode, config)
    import tensorflow as tf
    print(tf.keras.__name__.split(".")[0], "bit-identical")
"""


def test_the_other_keras_is_exact_too() -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if LEGACY:
        env.pop("TF_USE_LEGACY_KERAS")
    else:
        pytest.importorskip("tf_keras", reason="Keras 2 needs the tf-keras package")
        env["TF_USE_LEGACY_KERAS"] = "1"
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(OTHER_KERAS)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "bit-identical"


STEPS = 4


def test_per_epoch_decay_through_a_schedule_needs_s_times_the_decay_steps_and_staircase() -> None:
    # The callback decays once per epoch; an optimizer schedule counts steps. With S steps per
    # epoch it needs decay_steps = S * LR_STEP and staircase=True to apply the callback's rate.
    callback_config = DecayConfig(epochs=15, steps_per_epoch=STEPS)
    fixed = per_epoch_schedule(callback_config)
    assert (fixed.decay_steps, fixed.staircase) == (STEPS, True)
    callback, fit, naive = run(callback_config, "callback"), run(fixed, "fit"), run(callback_config, "fit")
    assert_array_equal(fit.w, callback.w)
    assert_array_equal(fit.loss, callback.loss)
    assert_array_equal(fit.lr.astype(np.float32), callback.lr.astype(np.float32))
    assert not np.array_equal(naive.w, callback.w)  # decay_steps=1 decays S times per epoch
    assert naive.lr[-1] == pytest.approx(0.2 * 0.99 ** (14 * STEPS))
    for trace, mode in ((callback, "callback"), (fit, "fit")):
        emulated = emulate_steps(trace.config, step_lrs(trace.config, mode))
        assert_array_equal(trace.w, emulated.w)
        assert_array_equal(trace.loss, emulated.loss)


def test_verify_puts_fit_and_callback_side_by_side_when_s_exceeds_1() -> None:
    report = verify(DecayConfig(epochs=6, steps_per_epoch=3))
    assert [row.mode for row in report.rows] == ["fit", "callback"] == list(several_steps()) and report.ok
    assert all(row.bit_identical for row in report.rows)
    assert report.notes[0] == "steps per epoch 3: the lr of each epoch's first update"
    assert report.notes[-1] == "fit applies the callback's lr at 1/6 epochs; with decay_steps = 3 * 1 and staircase=True at 6/6"
    assert report.to_dict()["notes"] == list(report.notes)


@pytest.mark.parametrize("mode", [mode for mode in MODES if mode not in several_steps()])
def test_other_modes_refuse_several_steps_per_epoch(mode: str) -> None:
    with pytest.raises(InvalidValue, match=rf"steps_per_epoch must be 1 in mode {mode}: only fit and callback"):
        run(DecayConfig(epochs=2, steps_per_epoch=2), mode)


def test_cli_refuses_steps_per_epoch_for_other_modes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--mode", "eager", "--steps-per-epoch", "3"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip().splitlines() == [
        "decaybench: error: --steps-per-epoch: must be 1 in mode eager: only fit and callback run several steps per epoch, got 3"
    ]
