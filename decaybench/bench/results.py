"""A workload as pytest-benchmark timed it: its rounds (seconds per call), or why it was skipped.

pytest-benchmark's JSON (``--benchmark-json``) holds, per benchmark, the ``extra_info`` that
``benchmarks/conftest.py`` fills from :meth:`Workload.info` and the rounds in ``stats.data``;
``benchmarks/conftest.py`` adds the skipped workloads under ``skipped``. :func:`results_of`
reads them back.

>>> document = {"benchmarks": [{"extra_info": {"group": "seed", "implementation": "xla", "kind": "mode",
...     "device": "cpu", "epochs": 40, "size": 1, "steps": 40}, "stats": {"data": [2e-4, 3e-4, 4e-4]}}]}
>>> [(r.workload.id, r.median) for r in results_of(document)]
[('seed-xla-cpu-e40-n1', 0.0003)]
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from decaybench.bench.workload import GROUPS, Call, Workload
from decaybench.intervals import Interval, median_interval

__all__ = ["Result", "results_of", "workload_of"]


@dataclass(frozen=True)
class Result:
    """A workload's rounds: seconds per call, one per round; or why it did not run.

    ``interleaved``: the seconds of the workload's ``interleaved`` implementation, one call timed
    just before each round (``extra_info["interleaved_seconds"]``).
    """

    workload: Workload
    seconds: tuple[float, ...] = ()
    skipped: str | None = None
    interleaved: tuple[float, ...] = ()

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def interval(self) -> Interval | None:
        """The median and its 95% interval (:mod:`decaybench.intervals`)."""
        return median_interval(self.seconds) if self.seconds else None

    @property
    def per_step_ns(self) -> float | None:
        return None if self.median is None else self.median / self.workload.steps * 1e9

    def to_dict(self) -> dict[str, Any]:
        info = self.workload.info()
        interval = self.interval
        info.update(
            {
                "rounds": len(self.seconds),
                "median_s": self.median,
                "median_interval_s": None if interval is None else list(interval[1:]),
                "per_step_ns": self.per_step_ns,
                "skipped": self.skipped,
            }
        )
        return info


def _recorded() -> Call:
    raise RuntimeError("a workload read back from pytest-benchmark's JSON is a record: it cannot be run again")


def workload_of(info: dict[str, Any]) -> Workload:
    """The :class:`Workload` that :meth:`Workload.info` described (its ``setup`` cannot run)."""
    return Workload(
        info["group"],
        info["implementation"],
        info["kind"],
        info["device"],
        _recorded,
        epochs=info.get("epochs"),
        size=info.get("size"),
        configs=info.get("configs"),
        steps=info.get("steps") or 1,
        note=info.get("note") or "",
        mode=info.get("mode"),
    )


def _rounds(benchmark: dict[str, Any]) -> tuple[float, ...]:
    data = benchmark.get("stats", {}).get("data")
    if not data:
        name = benchmark.get("fullname", benchmark.get("name", "?"))
        raise ValueError(f"{name}: no per-round data; pytest-benchmark writes it with --benchmark-json or --benchmark-save-data")
    return tuple(float(seconds) for seconds in data)


def results_of(document: dict[str, Any]) -> list[Result]:
    """Every workload in a pytest-benchmark JSON document, timed or skipped, in group order."""
    timed = [
        Result(workload_of(b["extra_info"]), _rounds(b), interleaved=tuple(b["extra_info"].get("interleaved_seconds") or ()))
        for b in document.get("benchmarks", [])
        if "group" in b.get("extra_info", {})
    ]
    skipped = [Result(workload_of(info), skipped=info.get("reason") or "skipped") for info in document.get("skipped", [])]
    return _in_group_order([*timed, *skipped])


def _in_group_order(results: Iterable[Result]) -> list[Result]:
    order = {group: index for index, group in enumerate(GROUPS)}
    return sorted(results, key=lambda r: order.get(r.workload.group, len(order)))
