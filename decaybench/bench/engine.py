"""One timing engine: ``decaybench bench`` runs the ``benchmarks/`` suite through pytest-benchmark.

:func:`run_benchmarks` runs ``python -m pytest benchmarks/test_<group>_bench.py ...
--benchmark-only --benchmark-json FILE`` in a new interpreter (pytest's output goes to stderr,
so stdout stays the report's), then reads the rounds back from that JSON
(:func:`decaybench.bench.results.results_of`): the tables, the ratios and the targets are computed
from pytest-benchmark's own numbers. ``--quick`` is pytest-benchmark's options for a short run:
``--benchmark-max-time 0.05 --benchmark-min-rounds 5 -m "not slow"``.

A saved run is pytest-benchmark's: ``save`` stores this run (``--benchmark-save``), ``compare``
compares it with a stored one (``--benchmark-compare``) and ``compare_fail`` fails on a
regression (``--benchmark-compare-fail``), in ``storage`` (``--benchmark-storage``, by default
``./.benchmarks``).

>>> pytest_args(["seed"], "out.json", quick=True)[-9:]
['--benchmark-only', '--benchmark-json', 'out.json', '--benchmark-min-rounds', '5', '--benchmark-max-time', '0.05', '-m', 'not slow']
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from decaybench.bench.report import Report, machine
from decaybench.bench.results import results_of
from decaybench.bench.workload import GROUPS
from decaybench.tables import load_average

__all__ = ["MIN_ROUNDS", "SUITE", "BenchmarkError", "load", "pytest_args", "run_benchmarks"]

SUITE = Path(__file__).resolve().parents[2] / "benchmarks"
MIN_ROUNDS = 5
# Seconds pytest-benchmark spends on one workload, beyond its least rounds: its default, and --quick's.
MAX_TIME = {False: 1.0, True: 0.05}


class BenchmarkError(RuntimeError):
    """pytest did not produce its JSON (the suite is missing, or pytest failed to start)."""


def pytest_args(
    groups: Sequence[str],
    json_path: str | Path,
    quick: bool = False,
    save: str | None = None,
    compare: str | None = None,
    compare_fail: Sequence[str] = (),
    storage: str | None = None,
) -> list[str]:
    """The ``pytest`` command line (after ``python -m pytest``) that times ``groups``."""
    unknown = [group for group in groups if group not in GROUPS]
    if unknown:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}, got {unknown[0]!r}")
    args = [str(SUITE / f"test_{group}_bench.py") for group in groups]
    # The repository's configuration and conftest.py whatever the working directory; no xdist
    # (pytest-benchmark does not time under it), pytest's output on stderr.
    args += ["-c", str(SUITE.parent / "pyproject.toml"), "--rootdir", str(SUITE.parent), "-p", "no:xdist", "-q"]
    for flag, value in (("--benchmark-save", save), ("--benchmark-storage", storage)):
        if value:
            args += [flag, value]
    if compare is not None:
        args.append(f"--benchmark-compare={compare}" if compare else "--benchmark-compare")
    for expression in compare_fail:
        args += ["--benchmark-compare-fail", expression]
    if save:
        args.append("--benchmark-save-data")
    args += ["--benchmark-only", "--benchmark-json", str(json_path), "--benchmark-min-rounds", str(MIN_ROUNDS)]
    args += ["--benchmark-max-time", f"{MAX_TIME[quick]:g}"]
    return [*args, "-m", "not slow"] if quick else args


def load(document: dict[str, Any], quick: bool = False, facts: dict[str, Any] | None = None, status: int = 0) -> Report:
    """A :class:`Report` from a pytest-benchmark JSON document (``--benchmark-json``)."""
    return Report(tuple(results_of(document)), facts or machine(), quick, document, status)


def _pytest(command: list[str], environ: dict[str, str], stream: IO[str]) -> subprocess.CompletedProcess[str]:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):  # a stream without a file descriptor: pass the text on
        done = subprocess.run(command, capture_output=True, text=True, env=environ, check=False)
        stream.write(done.stdout + done.stderr)
        return done
    stream.flush()
    return subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT, text=True, env=environ, check=False)


def run_benchmarks(
    groups: Sequence[str] = GROUPS,
    quick: bool = False,
    save: str | None = None,
    compare: str | None = None,
    compare_fail: Sequence[str] = (),
    storage: str | None = None,
    stream: IO[str] | None = None,
) -> Report:
    """Time ``groups`` with pytest-benchmark in a new interpreter; its output goes to ``stream`` (stderr).

    ``status`` of the report is pytest's exit status: 1 when a benchmark failed or a comparison
    found a regression (``compare_fail``). Raises :class:`BenchmarkError` when pytest wrote no JSON.
    """
    if not SUITE.is_dir():
        raise BenchmarkError(f"{SUITE}: no benchmarks/ directory; decaybench bench runs from a source checkout")
    before = machine()
    with tempfile.TemporaryDirectory(prefix="decaybench-bench-") as directory:
        json_path = Path(directory) / "pytest-benchmark.json"
        command = [sys.executable, "-m", "pytest", *pytest_args(groups, json_path, quick, save, compare, compare_fail, storage)]
        # Not an xdist worker's variables (a test run under pytest -n): pytest-benchmark would not time.
        environ = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_XDIST")}
        environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        done = _pytest(command, environ, stream or sys.stderr)
        if not json_path.exists():
            raise BenchmarkError(f"pytest exited with status {done.returncode} and wrote no benchmark JSON (its output is above)")
        document = json.loads(json_path.read_text(encoding="utf-8"))
    return load(document, quick, {**before, "load_average_after": load_average() or None}, done.returncode)
