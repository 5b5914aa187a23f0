"""The decaybench command: as a user runs it (a process of its own), and every bad input refused in one line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from decaybench import cli
from decaybench.golden import golden_dir

if TYPE_CHECKING:
    from tests.conftest import Command

HUGE_EPOCHS = 10**13  # 10**13 rows of 24 bytes: far beyond any machine's memory
INT64_MAX = 2**63 - 1


def test_run_prints_the_seeds_40_lines(decaybench: Command) -> None:
    done = decaybench("run")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (golden_dir() / "seed_trace.txt").read_text()
    assert done.stderr == ""


def test_run_writes_json_atomically(decaybench: Command, tmp_path: Path) -> None:
    done = decaybench("run", "--epochs", "3", "--format", "json", "--output", str(tmp_path / "t.json"))
    assert done.returncode == 0 and done.stdout == ""
    assert (tmp_path / "t.json").read_text().startswith('{"mode": "eager", "config": {')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


# The process as a user runs it, for a value and for a choice; every refusal is in CLI_CASES below, in-process.
@pytest.mark.parametrize(("args", "named"), [(["--decay-rate", "nan"], "--decay-rate"), (["--mode", "warp"], "--mode")])
def test_bad_values_exit_2_with_one_line(decaybench: Command, tmp_path: Path, args: list[str], named: str) -> None:
    output = tmp_path / "out.txt"
    done = decaybench("run", *args, "--output", str(output))
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and named in done.stderr and args[1] in done.stderr
    assert "Traceback" not in done.stderr
    assert not output.exists() and list(tmp_path.iterdir()) == []


def test_modes_and_help(decaybench: Command) -> None:
    assert decaybench("modes").stdout.split()[0] == "eager"
    for command in ([], ["run"], ["modes"], ["golden"]):
        done = decaybench(*command, "--help")
        assert done.returncode == 0 and "examples:" in done.stdout


def test_config_flags_come_from_decay_config(decaybench: Command) -> None:
    import dataclasses

    from decaybench.cli import build_parser
    from decaybench.cli.parsing import config_from
    from decaybench.config import DecayConfig

    assert config_from(build_parser().parse_args(["run"])) == DecayConfig()
    args = build_parser().parse_args(["verify", "--initial-lr", "0.5", "--staircase", "--record-every", "3", "--dtype", "float64"])
    assert config_from(args) == DecayConfig(initial_learning_rate=0.5, staircase=True, record_every=3, dtype="float64")
    help_text = decaybench("plot", "--help").stdout
    for field in dataclasses.fields(DecayConfig):
        assert field.metadata["flag"] in help_text, field.name


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
    (["run", "--dtype", "float8"], "--dtype", "float8"),
    (["run", "--format", "xml"], "--format", "xml"),
    (["verify", "--format", "csv"], "--format", "csv"),
    (["verify", "--decay-rate", "0"], "--decay-rate", "0"),
    (["run", "--transition-begin", "-1"], "--transition-begin", "-1"),
    (["run", "--transition-begin", "2.5"], "--transition-begin", "2.5"),
    (["run", "--transition-begin", "true"], "--transition-begin", "true"),
    (["run", "--end-value", "nan"], "--end-value", "nan"),
    (["run", "--end-value", "-1"], "--end-value", "-1"),
    (["run", "--end-value", "inf"], "--end-value", "inf"),
    (["run", "--steps-per-epoch", "0"], "--steps-per-epoch", "0"),
    (["run", "--steps-per-epoch", "-2"], "--steps-per-epoch", "-2"),
    (["run", "--mode", "xla", "--steps-per-epoch", "2"], "--steps-per-epoch", "2"),
    (["frobnicate"], "COMMAND", "frobnicate"),
    # Integers past int64: refused before TensorFlow sees them (it would raise an out-of-range error).
    (["run", "--mode", "graph", "--decay-steps", str(10**30)], "--decay-steps", str(10**30)),
    (["run", "--mode", "numpy", "--epochs", str(10**30), "--record-every", str(10**30)], "--epochs", str(10**30)),
    (["run", "--mode", "xla", "--record-every", str(10**30)], "--record-every", str(10**30)),
    (["run", "--mode", "xla", "--epochs", str(2**63)], "--epochs", str(2**63)),
    (["run", "--size", str(2**63)], "--size", str(2**63)),
    (["run", "--transition-begin", str(2**63)], "--transition-begin", str(2**63)),
    (["run", "--mode", "fit", "--steps-per-epoch", str(2**64)], "--steps-per-epoch", str(2**64)),
    (["verify", "--decay-steps", str(2**63)], "--decay-steps", str(2**63)),
    (["plot", "--epochs", str(10**19)], "--epochs", str(10**19)),
    (["run", "--decay-rate", "1e400"], "--decay-rate", "inf"),
    # The memory check counts what each path allocates: the numpy mode's per-epoch schedule,
    # verify's oracle (one mpmath row per epoch, whatever record_every), wide rows, plot.
    (["run", "--mode", "numpy", "--epochs", "10000000000", "--record-every", "1000000000"], "--epochs", "needs 800,000,000,"),
    (["verify", "--epochs", "1000000000000"], "--epochs", "1000000000000"),
    (["verify", "--epochs", "1000000000000", "--record-every", "1000000000000"], "--epochs", "run fewer epochs"),
    (["run", "--mode", "xla", "--size", "100000000000"], "--size", "use a smaller size"),
    (["run", "--mode", "graph", "--epochs", str(INT64_MAX)], "--epochs", "record fewer with record_every"),
    (["plot", "--epochs", "10000000000000"], "--epochs", "to plot modes"),
    # Empty paths name their flag, rather than meaning stdout or the default directory.
    (["run", "--output", ""], "--output", "the path is empty"),
    (["verify", "--output", ""], "--output", "the path is empty"),
    (["bench", "--output", ""], "--output", "the path is empty"),
    (["golden", "--update", "--dir", ""], "--dir", "the path is empty"),
    (["golden", "--dir", ""], "--dir", "the path is empty"),
    # Control characters in argv stay on one line, escaped.
    (["run", "--bogus\nflag"], "--bogus\\nflag", "unrecognized arguments"),
    (["run", "--mode", "warp\nspeed"], "--mode", "warp\\nspeed"),
    (["golden", "--dir", "no\nsuch\rdir"], "no\\nsuch\\rdir", "golden file is missing"),
    # Checkpoints (more in tests/test_checkpoint.py: a directory of another run, corrupt, unwritable).
    (["run", "--resume"], "--resume", "needs a checkpoint directory"),
    (["run", "--checkpoint-every", "3"], "--checkpoint-every", "needs a checkpoint directory"),
    (["run", "--checkpoint-dir", "never-made", "--checkpoint-every", "0"], "--checkpoint-every", "0"),
    (["run", "--checkpoint-dir", "never-made", "--checkpoint-every", "-2"], "--checkpoint-every", "-2"),
    (["run", "--checkpoint-dir", "no-such-run", "--resume"], "--checkpoint-dir", "no-such-run"),
]


@pytest.mark.parametrize(("args", "flag", "value"), CLI_CASES)
def test_cli_refuses_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], flag: str, value: str
) -> None:
    output = tmp_path / "out"
    has_output = "--output" in args or args[0] not in ("run", "verify", "plot")
    status = cli.main(args if has_output else [*args, "--output", str(output)])
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


def test_a_diverging_run_says_so_on_stderr_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["run", "--initial-lr", "0.9", "--decay-rate", "1.05", "--epochs", "30"])
    captured = capsys.readouterr()
    assert status == 0
    assert len(captured.out.splitlines()) == 30
    assert captured.err.strip().splitlines()[-1] == "decaybench: diverged at epoch 3"
