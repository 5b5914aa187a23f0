"""Reporting a run: ``decaybench bench``'s table and JSON; every ratio with its 95% interval."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from decaybench.bench.compare import REFERENCES, Target, ratios, targets
from decaybench.bench.results import Result
from decaybench.intervals import METHOD, Interval
from decaybench.modes import REGISTRY
from decaybench.tables import cpu, format_duration, load_average, version
from decaybench.tables import table as table_of

__all__ = ["EXPLAINED", "HEADER", "TARGET_HEADER", "Report", "machine", "result_rows", "shown_results", "table", "target_rows"]

# The two sentences the table, docs/benchmarks.md and the README give.
EXPLAINED = (
    "Every ratio is a ratio of medians over pytest-benchmark's rounds, with a 95% interval from a "
    f"{METHOD}. A target is met when the whole interval clears its threshold, missed when the whole "
    "interval falls short of it, and inconclusive when the interval straddles it."
)


@dataclass(frozen=True)
class Report:
    """A run: the results read from pytest-benchmark's JSON (``document``), where and when.

    ``status`` is pytest's exit status (1: a benchmark failed, or a comparison found a regression).
    """

    results: tuple[Result, ...]
    machine: dict[str, Any]
    quick: bool
    document: dict[str, Any] = field(default_factory=dict, repr=False)
    status: int = 0

    @property
    def modes(self) -> list[str]:
        """Every mode timed (not skipped), in registry order."""
        timed = {r.workload.info()["mode"] for r in self.results if r.median is not None}
        return [mode for mode in REGISTRY if mode in timed]

    def to_dict(self) -> dict[str, Any]:
        """pytest-benchmark's JSON document, with decaybench's reading of it beside its keys."""
        table = ratios(self.results)
        rows = []
        for result in self.results:
            row = result.to_dict()
            for column, interval in table.get(result.workload.id, {}).items():
                row[column] = None if interval is None else interval[0]
                row[f"{column}_interval"] = None if interval is None else list(interval[1:])
            rows.append(row)
        return {
            **self.document,
            "machine": self.machine,
            "quick": self.quick,
            "intervals": METHOD,
            "modes": self.modes,
            "implementations": sorted({r.workload.name for r in self.results if r.median is not None}),
            "results": rows,
            "targets": [t.to_dict() for t in targets(self.results)],
        }


def machine() -> dict[str, Any]:
    """The machine and the versions: what a benchmark number means nothing without."""
    return {
        "cpu": cpu()["model"],
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            name: version(name) for name in ("tensorflow", "keras", "numpy", "jax", "jaxlib", "optax", "torch", "pytest-benchmark")
        },
        "load_average": load_average(),
    }


def _times(interval: Interval | None) -> str:
    """A ratio and its interval.

    >>> _times((125.0, 110.2, 140.0)), _times(None)
    ('125x [110, 140]', '-')
    """
    if interval is None:
        return "-"
    value, low, high = interval
    return f"{value:.3g}x [{low:.3g}, {high:.3g}]"


def _shape(result: Result) -> str:
    w = result.workload
    return " ".join(f"{k}={v:g}" for k, v in (("epochs", w.epochs), ("size", w.size), ("configs", w.configs)) if v)


def result_rows(results: Sequence[Result]) -> list[list[str]]:
    """One row of :data:`HEADER` per result: its shape, median, rounds, ns per step and ratios (a skipped one says why)."""
    table = ratios(results)
    rows = []
    for result in results:
        w = result.workload
        if result.median is None:
            rows.append(
                [w.group, w.device, _shape(result), w.name, w.kind, f"skipped: {result.skipped}", "", "", *("" for _ in REFERENCES)]
            )
            continue
        per = f"{result.per_step_ns:.3g} ns" if w.steps > 1 else "-"
        cells = [_times(table[w.id][column]) for column in REFERENCES]
        rows.append(
            [w.group, w.device, _shape(result), w.name, w.kind, format_duration(result.median), str(len(result.seconds)), per, *cells]
        )
    return rows


HEADER = [
    "group",
    "device",
    "shape",
    "implementation",
    "kind",
    "median",
    "rounds",
    "per step",
    "vs eager",
    "vs peer",
    "vs floor",
    "vs baseline",
]


def _measured(target: Target) -> str:
    if target.interval is None:
        return "-"
    if target.unit == "s":
        value, low, high = target.interval
        return f"{format_duration(value)} [{format_duration(low)}, {format_duration(high)}]"
    return _times(target.interval)


def target_rows(results: Sequence[Result]) -> list[list[str]]:
    """One row per target: name, claim, measured with its interval, verdict, detail."""
    return [[t.name, t.claim, _measured(t), t.verdict, t.detail] for t in targets(results)]


TARGET_HEADER = ["target", "claim", "measured [95% interval]", "verdict", "detail"]


def shown_results(results: Sequence[Result]) -> tuple[list[Result], str]:
    """The results to list, and one line instead of the GPU rows when none of them ran."""
    gpu = [r for r in results if r.workload.device == "gpu"]
    if not gpu or any(r.median is not None for r in gpu):
        return list(results), ""
    host = "its cpu row is the comparison"
    reasons = sorted({r.skipped or "skipped" for r in gpu if not (r.skipped or "").endswith(host)})
    hosted = sum(1 for r in gpu if (r.skipped or "").endswith(host))
    return [r for r in results if r.workload.device != "gpu"], f"gpu: all {len(gpu)} workloads skipped: {'; '.join(reasons)}" + (
        f" ({hosted} run on the host only: {host})" if hosted else ""
    )


def table(report: Report) -> str:
    """The results as a terminal table: medians, then ratios (``Nx [low, high]``: N times faster), then the targets."""
    shown, gpu = shown_results(report.results)
    return (
        table_of(HEADER, result_rows(shown))
        + (f"\n{gpu}" if gpu else "")
        + "\n\nratios: t(eager, fastest peer, fastest floor or baseline) / t(this), [95% interval]; below 1 is slower\n\n"
        + table_of(TARGET_HEADER, target_rows(report.results))
        + "\n\n"
        + EXPLAINED
    )
