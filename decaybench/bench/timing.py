"""Timing: how many rounds and iterations a workload gets, warm-up, and the samples."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

from decaybench.bench.workload import Call, Unavailable, Workload, unavailable

# ---- timing -------------------------------------------------------------------------------------


def plan(seconds: float, quick: bool = False) -> tuple[int, int, int]:
    """``(iterations, rounds, warmup_rounds)`` for a call that took ``seconds`` once warm.

    Rounds of at least ~1 ms (calls under 100 µs repeat within a round), a time budget per
    workload, and at least 5 rounds whatever the budget; 3 for calls of seconds; ``quick``: 3,
    and 1 for calls over half a second.
    """
    iterations = 1 if seconds >= 1e-3 else min(1000, math.ceil(1e-3 / max(seconds, 1e-9)))
    if quick:
        budget, least = 0.3, 1 if seconds > 0.5 else 3
    else:
        budget, least = (1.5, 3) if seconds > 1.0 else (1.5, 5)
    rounds = max(least, min(200, int(budget / (seconds * iterations))))
    return iterations, rounds, 1 if seconds < 1e-4 else 0


def warm(target: Call) -> float:
    """Call ``target`` once to trace and compile, then time a call: the steady-state estimate."""
    started = time.perf_counter()
    target()
    first = time.perf_counter() - started
    if first > 0.1:  # the first call is a good enough estimate: plan only needs the magnitude
        return first
    started = time.perf_counter()
    target()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Result:
    """A workload's samples: seconds per call, one per round; or why it did not run."""

    workload: Workload
    seconds: tuple[float, ...] = ()
    skipped: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def per_step_ns(self) -> float | None:
        return None if self.median is None else self.median / self.workload.steps * 1e9

    def to_dict(self) -> dict[str, Any]:
        info = self.workload.info()
        info.update({"seconds": list(self.seconds), "median_s": self.median, "per_step_ns": self.per_step_ns, "skipped": self.skipped})
        return info


def measure(workload: Workload, quick: bool = False) -> Result:
    """Time ``workload`` as the benchmarks do: warm up, then rounds of ``plan``'s size."""
    reason = unavailable(workload)
    if reason is None:
        try:
            return Result(workload, _samples(workload, quick))
        except Unavailable as error:
            reason = error.reason
    return Result(workload, skipped=reason)


def _samples(workload: Workload, quick: bool) -> tuple[float, ...]:
    if workload.fresh:
        samples = []
        for _ in range(1 if workload.slow else 3):
            target = workload.setup()
            started = time.perf_counter()
            target()
            samples.append(time.perf_counter() - started)
        return tuple(samples)
    target = workload.setup()
    samples = []
    if workload.warmup:
        estimate = warm(target)
    else:
        started = time.perf_counter()
        target()
        samples.append(estimate := time.perf_counter() - started)
    iterations, rounds, warmup = plan(estimate, quick)
    for index in range(warmup + rounds - len(samples)):
        started = time.perf_counter()
        for _ in range(iterations):
            target()
        if index >= warmup:
            samples.append((time.perf_counter() - started) / iterations)
    return tuple(samples)
