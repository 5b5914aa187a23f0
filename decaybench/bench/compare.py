"""Comparing results measured in the same run: ratios against eager, peers, floors and baselines; the targets."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from decaybench.bench.timing import Result
from decaybench.bench.workload import LONG_EPOCHS, VECTOR_SIZES
from decaybench.modes import REGISTRY

# ---- comparing ----------------------------------------------------------------------------------


def ratios(results: Iterable[Result]) -> dict[str, dict[str, float | None]]:
    """For each workload id: how many times faster it is than eager, than the fastest peer, than
    the fastest floor and than the baseline of its case (values below 1 are slower)."""
    by_case: dict[tuple[Any, ...], list[Result]] = {}
    for result in results:
        if result.median is not None:
            by_case.setdefault(result.workload.case, []).append(result)
    table: dict[str, dict[str, float | None]] = {}
    for case in by_case.values():

        def fastest(kind: str, name: str | None = None, case: list[Result] = case) -> float | None:
            times = [r.median for r in case if r.workload.kind == kind and (name is None or r.workload.name == name) and r.median]
            return min(times) if times else None

        eager, peer, floor, baseline = fastest("mode", "eager"), fastest("peer"), fastest("floor"), fastest("baseline")
        for result in case:
            assert result.median is not None
            table[result.workload.id] = {
                "vs_eager": eager / result.median if eager else None,
                "vs_peer": peer / result.median if peer else None,
                "vs_floor": floor / result.median if floor else None,
                "vs_baseline": baseline / result.median if baseline else None,
            }
    return table


@dataclass(frozen=True)
class Target:
    """One target of issue 4, as measured: ``measured`` against ``threshold`` (a ratio or seconds)."""

    name: str
    claim: str
    measured: float | None
    threshold: float
    higher_is_better: bool = True
    detail: str = ""

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured >= self.threshold if self.higher_is_better else self.measured <= self.threshold


def targets(results: Sequence[Result], device: str = "cpu") -> list[Target]:
    """The five targets, each a ratio of results measured in the same run (``None`` if not run)."""

    def median(group: str, name: str, **shape: Any) -> float | None:
        for result in results:
            w = result.workload
            if w.group == group and w.name == name and w.device == device and all(getattr(w, k) == v for k, v in shape.items()):
                return result.median
        return None

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    compiled_modes = [m for m in REGISTRY if m != "numpy"]
    timed = {m: median("seed", m) for m in compiled_modes}
    fastest = min((m for m in timed if timed[m] is not None), key=lambda m: timed[m] or math.inf, default=None)
    best = timed.get(fastest) if fastest else None
    long_xla, long_optax, long_closed = (median("long", name, epochs=LONG_EPOCHS[-1]) for name in ("xla", "optax", "numpy closed form"))
    big = VECTOR_SIZES[-1]
    return [
        Target(
            "seed vs eager",
            "fastest TF mode >= 100x faster than eager",
            ratio(median("seed", "eager"), best),
            100.0,
            detail=f"fastest TF mode: {fastest}",
        ),
        Target(
            "seed vs keras",
            "fastest TF mode >= 400x faster than keras",
            ratio(median("seed", "keras"), best),
            400.0,
            detail=f"fastest TF mode: {fastest}",
        ),
        Target("long vs optax", "xla per step at 1e6 epochs no slower than optax scan", ratio(long_optax, long_xla), 1.0),
        Target("long vs closed form", "xla at 1e6 epochs >= 2x faster than the NumPy closed form", ratio(long_closed, long_xla), 2.0),
        Target(
            "vector vs copy",
            "xla step of 1e7 float32 >= 80% of the copy floor's bandwidth",
            ratio(median("vector", "copy", size=big), median("vector", "xla", size=big)),
            0.8,
        ),
        Target(
            "compile xla",
            "xla first call on the seed <= 0.3 s",
            median("compile", "xla"),
            0.3,
            higher_is_better=False,
            detail="a new tf.function",
        ),
        Target(
            "sweep vs runs",
            "run_sweep >= 10x the config-steps/s of separate xla runs",
            ratio(median("sweep", "xla runs"), median("sweep", "xla sweep")),
            10.0,
        ),
    ]
