"""The decaybench command, through a subprocess as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from decaybench.golden import golden_dir


def decaybench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "decaybench", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_run_prints_the_seeds_40_lines() -> None:
    done = decaybench("run")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (golden_dir() / "seed_trace.txt").read_text()
    assert done.stderr == ""


def test_run_writes_json_atomically(tmp_path: Path) -> None:
    done = decaybench("run", "--epochs", "3", "--format", "json", "--output", str(tmp_path / "t.json"))
    assert done.returncode == 0 and done.stdout == ""
    assert (tmp_path / "t.json").read_text().startswith('{"mode": "eager", "config": {')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--decay-rate", "nan"], "--decay-rate"),
        (["--decay-rate", "0"], "--decay-rate"),
        (["--decay-rate", "fast"], "--decay-rate"),
        (["--decay-steps", "1.5"], "--decay-steps"),
        (["--decay-steps", "0"], "--decay-steps"),
        (["--initial-lr", "-1"], "--initial-lr"),
        (["--epochs", "-3"], "--epochs"),
        (["--w0", "inf"], "--w0"),
        (["--dtype", "float16"], "--dtype"),
        (["--mode", "warp"], "--mode"),
        (["--format", "xml"], "--format"),
    ],
)
def test_bad_values_exit_2_with_one_line(tmp_path: Path, args: list[str], named: str) -> None:
    output = tmp_path / "out.txt"
    done = decaybench("run", *args, "--output", str(output))
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and named in done.stderr and args[1] in done.stderr
    assert "Traceback" not in done.stderr
    assert not output.exists() and list(tmp_path.iterdir()) == []


def test_unwritable_output_exits_2(tmp_path: Path) -> None:
    done = decaybench("run", "--output", str(tmp_path / "no" / "such" / "dir.txt"))
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1 and "--output" in done.stderr


def test_modes_and_help() -> None:
    assert decaybench("modes").stdout.split()[0] == "eager"
    for command in ([], ["run"], ["modes"], ["golden"]):
        done = decaybench(*command, "--help")
        assert done.returncode == 0 and "examples:" in done.stdout


def test_config_flags_come_from_decay_config() -> None:
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
