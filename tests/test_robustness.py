"""Robustness: every bad input refused clearly, through the API and the CLI; no partial files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from decaybench import cli
from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.schedule import exponential_decay
from decaybench.validation import ArgumentError

HUGE_EPOCHS = 10**13  # 10**13 rows of 24 bytes: far beyond any machine's memory

# (API argument, bad value): each must be refused by DecayConfig / run with the argument and value named.
API_CASES: list[tuple[str, Any]] = [
    ("decay_rate", 0.0),
    ("decay_rate", -0.5),
    ("decay_rate", math.nan),
    ("decay_rate", math.inf),
    ("decay_rate", "fast"),
    ("decay_rate", None),
    ("decay_steps", 0),
    ("decay_steps", -2),
    ("decay_steps", 1.5),
    ("decay_steps", True),
    ("decay_steps", "3"),
    ("initial_learning_rate", -0.1),
    ("initial_learning_rate", math.nan),
    ("initial_learning_rate", math.inf),
    ("epochs", -3),
    ("epochs", 2.5),
    ("epochs", HUGE_EPOCHS),
    ("w0", math.nan),
    ("w0", math.inf),
    ("w0", -math.inf),
    ("size", 0),
    ("size", -1),
    ("size", 2.0),
    ("dtype", "float16"),
    ("dtype", "int32"),
    ("staircase", "yes"),
    ("record_every", 0),
    ("mode", "warp"),
]


@pytest.mark.parametrize(("argument", "value"), API_CASES)
def test_api_refuses_bad_input_naming_argument_and_value(argument: str, value: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as raised:
        if argument == "mode":
            run(DecayConfig(epochs=1), mode=value)
        else:
            run(DecayConfig(**{argument: value}))
    assert isinstance(raised.value, ArgumentError) and raised.value.argument == argument
    assert argument in str(raised.value) and repr(value) in str(raised.value)


def test_too_many_epochs_are_refused_with_the_bytes_needed_before_running() -> None:
    with pytest.raises(ValueError, match=r"needs 720,000,000,000,000 bytes .* record_every \(--record-every\)"):
        run(DecayConfig(epochs=HUGE_EPOCHS))
    # The same run, recorded every 10**9 epochs, fits: it is refused for nothing but memory.
    assert DecayConfig(epochs=HUGE_EPOCHS, record_every=10**9).trace_bytes < 10**6


# (CLI arguments, the flag the one-line error must name, the value it must show).
CLI_CASES: list[tuple[list[str], str, str]] = [
    (["run", "--decay-rate", "0"], "--decay-rate", "0"),
    (["run", "--decay-rate", "-1"], "--decay-rate", "-1"),
    (["run", "--decay-rate", "nan"], "--decay-rate", "nan"),
    (["run", "--decay-rate", "inf"], "--decay-rate", "inf"),
    (["run", "--decay-rate", "fast"], "--decay-rate", "fast"),
    (["run", "--decay-steps", "0"], "--decay-steps", "0"),
    (["run", "--decay-steps", "-2"], "--decay-steps", "-2"),
    (["run", "--decay-steps", "1.5"], "--decay-steps", "1.5"),
    (["run", "--decay-steps", "True"], "--decay-steps", "True"),
    (["run", "--initial-lr", "-0.1"], "--initial-lr", "-0.1"),
    (["run", "--initial-lr", "nan"], "--initial-lr", "nan"),
    (["run", "--initial-lr", "inf"], "--initial-lr", "inf"),
    (["run", "--epochs", "-3"], "--epochs", "-3"),
    (["run", "--epochs", "2.5"], "--epochs", "2.5"),
    (["run", "--epochs", str(HUGE_EPOCHS)], "--epochs", str(HUGE_EPOCHS)),
    (["run", "--w0", "nan"], "--w0", "nan"),
    (["run", "--w0", "inf"], "--w0", "inf"),
    (["run", "--size", "0"], "--size", "0"),
    (["run", "--size", "-1"], "--size", "-1"),
    (["run", "--record-every", "0"], "--record-every", "0"),
    (["run", "--mode", "warp"], "--mode", "warp"),
    (["run", "--dtype", "float16"], "--dtype", "float16"),
    (["run", "--format", "xml"], "--format", "xml"),
    (["verify", "--format", "csv"], "--format", "csv"),
    (["verify", "--decay-rate", "0"], "--decay-rate", "0"),
    (["frobnicate"], "COMMAND", "frobnicate"),
]


@pytest.mark.parametrize(("args", "flag", "value"), CLI_CASES)
def test_cli_refuses_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], flag: str, value: str
) -> None:
    output = tmp_path / "out"
    status = cli.main([*args, "--output", str(output)] if args[0] in ("run", "verify") else args)
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert flag in captured.err and value in captured.err and "Traceback" not in captured.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["missing-dir/out.txt", "."])
def test_cli_refuses_an_output_it_cannot_write(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    status = cli.main(["run", "--epochs", "2", "--output", str(tmp_path / where)])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == "" and len(captured.err.strip().splitlines()) == 1 and "--output" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda path: path.unlink(), "seed_documented.txt: golden file is missing"),
        (lambda path: path.write_text("\n".join(path.read_text().splitlines()[:9]) + "\n"), "seed_documented.txt:9: truncated"),
        (lambda path: path.write_text(path.read_text().replace("w is 1.174400", "w is 1.17")), "seed_documented.txt:2: not a seed line"),
    ],
)
def test_cli_names_the_golden_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: Any, message: str) -> None:
    from decaybench.golden import DOCUMENTED, golden_dir

    (tmp_path / DOCUMENTED).write_text((golden_dir() / DOCUMENTED).read_text())
    damage(tmp_path / DOCUMENTED)
    status = cli.main(["golden", "--dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == "" and message in captured.err and len(captured.err.strip().splitlines()) == 1


def test_a_diverging_run_says_so_on_stderr_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["run", "--initial-lr", "0.9", "--decay-rate", "1.05", "--epochs", "30"])
    captured = capsys.readouterr()
    assert status == 0
    assert len(captured.out.splitlines()) == 30
    assert captured.err.strip().splitlines()[-1] == "decaybench: diverged at epoch 3"


def test_reference_refuses_bad_steps_naming_them() -> None:
    with pytest.raises(ValueError, match=r"step must be >= 0, got -7"):
        exponential_decay(-7, 0.2, 1, 0.99)
