"""``decaybench sweep``: exact cells against ``decaybench run``, the outputs, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from decaybench.cli import main
from decaybench.grid import DEFAULT_RANGES, parse_range
from decaybench.plot import PNG_SIGNATURE
from decaybench.sweep import sweep_modes

if TYPE_CHECKING:
    from tests.conftest import Command


def run_csv(capsys: pytest.CaptureFixture[str], row: dict[str, str], mode: str) -> list[dict[str, str]]:
    flags = ["--initial-lr", row["initial_learning_rate"], "--decay-rate", row["decay_rate"], "--decay-steps", row["decay_steps"]]
    flags += [
        "--epochs",
        row["epochs"],
        "--w0",
        row["w0"],
        "--dtype",
        row["dtype"],
        *(["--staircase"] if row["staircase"] == "True" else []),
    ]
    capsys.readouterr()
    assert main(["run", "--mode", mode, "--format", "csv", *flags]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


@pytest.mark.parametrize("mode", sweep_modes())
def test_a_30_by_30_csv_is_decaybench_run_on_random_cells(
    decaybench: Command, tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    """Five random cells of the CSV against `decaybench run --mode MODE`: final loss, epochs to tol, divergence."""
    target = tmp_path / "grid.csv"
    done = decaybench("sweep", "--initial-lr", "0.05:1.5:30", "--decay-rate", "0.8:1.1:30", "--mode", mode, "--output", str(target))
    assert done.returncode == 0 and done.stdout == "", done.stderr
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == 900
    # Both modes also equal eager when the mode is exact (xla-exact's contract).
    references = (mode, "eager") if mode == "xla-exact" else (mode,)
    for index in np.random.default_rng(16).choice(len(rows), 5, replace=False):
        row = rows[index]
        for reference in references:
            trace = run_csv(capsys, row, reference)
            losses = [float(line["loss"]) for line in trace]
            assert row["final_loss"] == trace[-1]["loss"], (reference, row)  # the same repr: the same bits
            below = [int(line["epoch"]) for line in trace if float(line["loss"]) < 1e-6]
            assert row["epochs_to_tol"] == (str(below[0]) if below else ""), (reference, row)
            assert len(losses) == int(row["epochs"])
        assert main(["run", "--mode", mode, "--initial-lr", row["initial_learning_rate"], "--decay-rate", row["decay_rate"]]) == 0
        stderr = capsys.readouterr().err
        assert stderr == ("" if row["diverged_at"] == "" else f"decaybench: diverged at epoch {row['diverged_at']}\n")


def test_png_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--initial-lr", "0.1:1.3:7", "--decay-rate", "0.9:1.0:6", "--output", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").read_bytes()[:8] == PNG_SIGNATURE
    assert main(["sweep", "--initial-lr", "0.2,1.5", "--decay-rate", "0.99", "--output", str(tmp_path / "g.json")]) == 0
    document = json.loads((tmp_path / "g.json").read_text())
    assert document["metrics"] == ["final_loss", "epochs_to_tol", "diverged_at"]
    assert [cell["diverged_at"] for cell in document["cells"]] == [None, 0]
    assert document["cells"][0]["epochs_to_tol"] == 20  # the seed
    capsys.readouterr()
    assert main(["sweep", "--initial-lr", "0.2", "--decay-rate", "0.99"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["initial_lr", "decay_rate", "decay_steps", "final_loss", "epochs_to_tol", "diverged_at"]
    assert table[1].endswith("<- seed") and len(table) == 2


def test_the_defaults_hold_the_seed() -> None:
    assert 0.2 in parse_range("initial_learning_rate", DEFAULT_RANGES["initial_learning_rate"])
    assert 0.99 in parse_range("decay_rate", DEFAULT_RANGES["decay_rate"])


@pytest.mark.parametrize(
    ("args", "named", "value"),
    [
        (["--initial-lr", "0.1:0.5"], "--initial-lr", "0.1:0.5"),
        (["--initial-lr", "a:b:3"], "--initial-lr", "a:b:3"),
        (["--decay-rate", "0.5:0.1:0"], "--decay-rate", "0.5:0.1:0"),
        (["--decay-rate", "0.9:1.0:-4"], "--decay-rate", "0.9:1.0:-4"),
        (["--decay-rate", "0.9:1.0:0"], "--decay-rate", "0.9:1.0:0"),
        (["--initial-lr=-0.1,0.2"], "--initial-lr", "-0.1"),
        (["--decay-rate", "0,0.5"], "--decay-rate", "0.0"),
        (["--decay-steps", "1.5"], "--decay-steps", "1.5"),
        (["--decay-steps", "0:4:5"], "--decay-steps", "0"),
        (["--epochs", "0"], "--epochs", "0"),
        (["--tol", "-1"], "--tol", "-1"),
        (["--metric", "speed"], "--metric", "speed"),
        (["--output", "grid.xml"], "--output", "grid.xml"),
        (["--initial-lr", "0:1:100000", "--decay-rate", "0.5:1:100000", "--decay-steps", "1:1000:1000"], "--decay-rate", "0.5:1:100000"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], named: str, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    output = [] if "--output" in args else ["--output", "grid.csv"]
    assert main(["sweep", *args, *output]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1, captured.err
    assert named in captured.err and value in captured.err and "Traceback" not in captured.err
    assert list(tmp_path.iterdir()) == []


def test_too_large_grid_says_the_bytes_and_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--initial-lr", "0:1:100000", "--decay-rate", "0.5:1:100000", "--decay-steps", "1:1000:1000"]) == 2
    error = capsys.readouterr().err
    assert "10,000,000,000,000 cells" in error and "bytes" in error and "smaller num" in error
