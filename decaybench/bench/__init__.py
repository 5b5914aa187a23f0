"""Benchmarks: workloads, peers and floors, timing, ratios and targets, for ``benchmarks/`` and ``decaybench bench``.

A :class:`Workload` is one thing to time: a mode through the public API (``run``, ``run_sweep``,
the schedule, one compiled step), another library doing the same job (a *peer*), or the least
work the job needs (a *floor*). ``benchmarks/`` hands each workload to pytest-benchmark;
:func:`run_benchmarks` times the very same workloads for the command line and the docs, and
:func:`ratios` and :func:`targets` compare results measured in the same run.

Groups, one question each (see ``docs/benchmarks.md``)::

    seed      the 40-epoch seed trace, returned to Python
    long      1e3, 1e5 and 1e6 epochs; ns per step
    vector    one training step of 1e3 .. 1e7 float32 values, against a copy of the same bytes
    schedule  the schedule alone over 1e7 steps
    compile   the first call: tracing and compiling, apart from the steady state
    sweep     1000 configurations x 1000 epochs in one call, against 1000 calls

>>> [w.name for w in workloads("seed", devices=("cpu",))][:3]
['eager', 'function', 'graph']
>>> plan(2e-5, quick=True)
(50, 200, 1)
"""

from __future__ import annotations

from decaybench.bench.compare import Target, ratios, targets
from decaybench.bench.groups import workloads
from decaybench.bench.report import Report, diagnose, machine, main, markdown, run_benchmarks, table
from decaybench.bench.subjects import _sweep_configs
from decaybench.bench.timing import Result, measure, plan, warm
from decaybench.bench.workload import (
    DEVICES,
    GROUPS,
    KINDS,
    LONG_EPOCHS,
    SCHEDULE_STEPS,
    STEP_PASSES,
    SWEEP_CONFIGS,
    SWEEP_EPOCHS,
    VECTOR_SIZES,
    Call,
    Unavailable,
    Workload,
    unavailable,
)

__all__ = [
    "DEVICES",
    "GROUPS",
    "KINDS",
    "LONG_EPOCHS",
    "SCHEDULE_STEPS",
    "STEP_PASSES",
    "SWEEP_CONFIGS",
    "SWEEP_EPOCHS",
    "VECTOR_SIZES",
    "Call",
    "Report",
    "Result",
    "Target",
    "Unavailable",
    "Workload",
    "_sweep_configs",
    "diagnose",
    "machine",
    "main",
    "markdown",
    "measure",
    "plan",
    "ratios",
    "run_benchmarks",
    "table",
    "targets",
    "unavailable",
    "warm",
    "workloads",
]
