"""Benchmarks: workloads, peers, floors, and ratios with intervals, for ``benchmarks/`` and ``decaybench bench``.

A :class:`Workload` is one thing to time: a mode through the public API (``run``, ``run_sweep``,
the schedule, one compiled step), another library doing the same job (a *peer*), or the least
work the job needs (a *floor*). ``benchmarks/`` hands each workload to pytest-benchmark, the one
timing engine: :func:`run_benchmarks` runs that suite and reads pytest-benchmark's JSON back
(:mod:`decaybench.bench.engine`), and :func:`ratios` and :func:`targets` compare results measured
in the same run, each ratio with its 95% interval (:mod:`decaybench.intervals`).

Groups, one question each (see ``docs/benchmarks.md``)::

    seed      the 40-epoch seed trace, returned to Python
    long      1e3, 1e5 and 1e6 epochs; ns per step, against a native loop (the limit)
    vector    one training step of 1e3 .. 1e7 float32 values, against a copy of the same bytes
    schedule  the schedule alone over 1e7 steps
    compile   the first call: tracing and compiling, apart from the steady state
    sweep     1000 configurations x 1000 epochs in one call, against 1000 calls

>>> [w.name for w in workloads("seed", devices=("cpu",))][:3]
['eager', 'function', 'graph']
"""

from __future__ import annotations

from decaybench.bench.compare import Target, ratios, targets
from decaybench.bench.engine import BenchmarkError, load, pytest_args, run_benchmarks
from decaybench.bench.groups import workloads
from decaybench.bench.report import EXPLAINED, Report, machine, table, target_rows
from decaybench.bench.results import Result, results_of
from decaybench.bench.workload import (
    DEVICES,
    FLOAT64,
    GROUPS,
    KINDS,
    LONG_EPOCHS,
    NATIVE,
    OPTAX_FLOAT32,
    OPTAX_FLOAT64,
    SMALL,
    VECTOR_SIZES,
    XLA_CALL,
    Call,
    Unavailable,
    Workload,
    unavailable,
)

__all__ = [
    "DEVICES",
    "EXPLAINED",
    "FLOAT64",
    "GROUPS",
    "KINDS",
    "LONG_EPOCHS",
    "NATIVE",
    "OPTAX_FLOAT32",
    "OPTAX_FLOAT64",
    "SMALL",
    "VECTOR_SIZES",
    "XLA_CALL",
    "BenchmarkError",
    "Call",
    "Report",
    "Result",
    "Target",
    "Unavailable",
    "Workload",
    "load",
    "machine",
    "pytest_args",
    "ratios",
    "results_of",
    "run_benchmarks",
    "table",
    "target_rows",
    "targets",
    "unavailable",
    "workloads",
]
