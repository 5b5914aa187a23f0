"""verify: the table's verdicts on the seed, on vectors, and through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from decaybench.config import DecayConfig
from decaybench.loops import MODES
from decaybench.modes import REGISTRY
from decaybench.report import verify_table
from decaybench.verify import verify


def test_seed_every_mode_reproduces_and_meets_its_bound() -> None:
    report = verify()
    assert report.ok
    rows = {row.mode: row for row in report.rows}
    assert list(rows)[: len(MODES)] == list(MODES)
    for mode in MODES:
        row = rows[mode]
        assert row.documented == "15/15" and row.golden == "40/40", row
        assert row.within_bound
        if REGISTRY[mode].contract == "exact":
            assert row.bit_identical and row.max_ulp_w == 0 and row.max_ulp_loss == 0
    for mode in ("function", "graph", "xla"):
        assert rows[mode].traces.endswith("then 0")  # the repeat neither traces nor compiles
    # tf.keras's own schedule (float32 pow): the 15 documented lines, but not the whole golden trace.
    reference = rows["tf.keras"]
    assert reference.contract == "reference" and reference.documented == "15/15" and reference.golden != "40/40"
    assert rows["eager"].lr_vs_tf_keras.startswith("4/40 equal")


def test_divergence_is_reported_for_every_mode_alike() -> None:
    report = verify(DecayConfig(initial_learning_rate=0.9, decay_rate=1.05, epochs=30), reference=False)
    assert report.ok
    assert {row.diverged_at for row in report.rows} == {3}  # 0.9 * 1.05**3 = 1.04 > 1


def test_table_names_every_mode() -> None:
    text = verify_table(verify(DecayConfig(epochs=3), reference=False))
    for mode in MODES:
        assert f"\n{mode} " in text
    assert text.endswith("compared before any divergence")


def test_cli_json_and_exit_status(tmp_path: Path) -> None:
    output = tmp_path / "verify.json"
    done = subprocess.run(
        [sys.executable, "-m", "decaybench", "verify", "--epochs", "5", "--format", "json", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(output.read_text())
    assert document["ok"] is True and [row["mode"] for row in document["modes"]][: len(MODES)] == list(MODES)
    assert document["config"]["epochs"] == 5
