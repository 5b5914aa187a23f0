"""Comparing results measured in the same run: ratios against eager, peers, floors and baselines; the targets.

Every ratio is ``median(reference rounds) / median(rounds)`` with its 95% interval
(:func:`decaybench.intervals.ratio_interval`); every target compares the whole interval with its
threshold (:func:`decaybench.intervals.verdict`): met, missed or inconclusive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from decaybench.bench.results import Result
from decaybench.bench.workload import (
    FLOAT64,
    GRID_SHAPES,
    LONG_EPOCHS,
    NATIVE,
    OPTAX_FLOAT32,
    OPTAX_FLOAT64,
    SWEEP_CONFIGS,
    VECTOR_SIZES,
    XLA_CALL,
)
from decaybench.intervals import Interval, ratio_interval, verdict

__all__ = ["REFERENCES", "Target", "ratios", "targets"]

# Each ratio column: the kind (and name) of the reference it divides by.
REFERENCES = {"vs_eager": ("mode", "eager"), "vs_peer": ("peer", None), "vs_floor": ("floor", None), "vs_baseline": ("baseline", None)}


def _fastest(case: Sequence[Result], kind: str, name: str | None) -> Result | None:
    found = [r for r in case if r.workload.kind == kind and (name is None or r.workload.name == name) and r.median]
    return min(found, key=lambda r: r.median or 0.0, default=None)


def ratios(results: Iterable[Result]) -> dict[str, dict[str, Interval | None]]:
    """For each workload id: how many times faster it is than eager, than the fastest peer, than
    the fastest floor and than the baseline of its case (below 1 is slower), each with its interval."""
    by_case: dict[tuple[Any, ...], list[Result]] = {}
    for result in results:
        if result.median is not None:
            by_case.setdefault(result.workload.case, []).append(result)
    table: dict[str, dict[str, Interval | None]] = {}
    for case in by_case.values():
        references = {column: _fastest(case, kind, name) for column, (kind, name) in REFERENCES.items()}
        for result in case:
            table[result.workload.id] = {
                column: None if reference is None else ratio_interval(reference.seconds, result.seconds)
                for column, reference in references.items()
            }
    return table


@dataclass(frozen=True)
class Target:
    """One target, as measured: ``interval`` (estimate, low, high) against ``threshold``.

    ``higher_is_better``: the estimate is a speed-up and must reach the threshold; otherwise it
    is a time or a slowdown and must stay at or below it.
    """

    name: str
    claim: str
    interval: Interval | None
    threshold: float
    higher_is_better: bool = True
    detail: str = ""
    unit: str = "x"

    @property
    def measured(self) -> float | None:
        return None if self.interval is None else self.interval[0]

    @property
    def verdict(self) -> str:
        """``met``, ``missed``, ``inconclusive`` or ``not run``."""
        bounds = None if self.interval is None else self.interval[1:]
        return verdict(bounds, self.threshold, self.higher_is_better)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "claim": self.claim,
            "measured": self.measured,
            "interval": None if self.interval is None else list(self.interval[1:]),
            "threshold": self.threshold,
            "higher_is_better": self.higher_is_better,
            "unit": self.unit,
            "verdict": self.verdict,
            "detail": self.detail,
        }


def _finder(results: Sequence[Result], device: str) -> Callable[..., Result | None]:
    def find(group: str, name: str, **shape: Any) -> Result | None:
        for result in results:
            w = result.workload
            if w.group == group and w.name == name and w.device == device and result.median is not None:
                if all(getattr(w, key) == value for key, value in shape.items()):
                    return result
        return None

    return find


def _interleaved_ratio(this: Result | None, inverse: bool = False) -> Interval | None:
    """t(the implementation interleaved with ``this``) / t(``this``), from the same rounds' pairs
    (``inverse``: t(``this``) / t(the other))."""
    if this is None or not this.interleaved:
        return None
    return ratio_interval(this.seconds, this.interleaved) if inverse else ratio_interval(this.interleaved, this.seconds)


def _seed_targets(find: Callable[..., Result | None]) -> list[Target]:
    return [
        Target(
            "seed run overhead",
            "run(seed, 'xla') within 1.5x of its bare compiled call: t(run) / t(call) <= 1.5, timed in turn",
            _interleaved_ratio(find("seed", XLA_CALL)),
            1.5,
            higher_is_better=False,
        ),
        Target(
            "seed vs optax (stretch)",
            "xla within 3x of optax's jitted scan (float32 schedule): t(xla) / t(optax) <= 3, timed in turn",
            _interleaved_ratio(find("seed", OPTAX_FLOAT32)),
            3.0,
            higher_is_better=False,
        ),
    ]


def _long_targets(find: Callable[..., Result | None]) -> list[Target]:
    """Each mode against the native floor, the limit, in each dtype; and xla against optax."""
    epochs = LONG_EPOCHS[-1]
    limits = [
        Target(
            f"long {mode}{suffix} vs the limit",
            f"{mode} at 1e6 epochs ({dtype}) within 1.2x of the {NATIVE}: t({mode}) / t(limit) <= 1.2, timed in turn",
            _interleaved_ratio(find("long", f"{mode}{suffix}", epochs=epochs), inverse=True),
            1.2,
            higher_is_better=False,
        )
        for suffix, dtype in (("", "float32"), (FLOAT64, "float64"))
        for mode in ("xla", "xla-exact")
    ]
    optax = Target(
        "long vs optax",
        "xla at 1e6 epochs no slower than optax computing the same float64 schedule, timed in turn",
        _interleaved_ratio(find("long", OPTAX_FLOAT64, epochs=epochs), inverse=True),
        1.0,
    )
    return [*limits, optax]


def _compile_targets(find: Callable[..., Result | None]) -> list[Target]:
    first, cached = find("compile", "xla"), find("compile", "xla, new process, cached")
    return [
        Target(
            "compile xla",
            "xla first call on the seed <= 0.3 s",
            None if first is None else first.interval,
            0.3,
            higher_is_better=False,
            detail="a new tf.function",
            unit="s",
        ),
        Target(
            "compile xla, new process, cached",
            "xla first call on the seed in a new process, XLA's persistent cache filled, <= 0.5 s",
            None if cached is None else cached.interval,
            0.5,
            higher_is_better=False,
            detail="--compile-cache DIR; up to the result",
            unit="s",
        ),
    ]


def targets(results: Sequence[Result], device: str = "cpu") -> list[Target]:
    """The targets, each a ratio (or a time) of results measured in the same run (``not run`` if absent)."""
    find = _finder(results, device)
    big = VECTOR_SIZES[-1]
    return [
        *_seed_targets(find),
        *_long_targets(find),
        Target(
            "vector vs copy",
            "xla step of 1e7 float32 >= 80% of the copy floor's bandwidth, timed in turn",
            _interleaved_ratio(find("vector", "copy", size=big), inverse=True),
            0.8,
        ),
        *_compile_targets(find),
        Target(
            "sweep vs runs",
            "run_sweep >= 10x the config-steps/s of separate xla runs, timed in turn",
            _interleaved_ratio(find("sweep", "xla runs", configs=SWEEP_CONFIGS), inverse=True),
            10.0,
        ),
        *_sweep_targets(find),
    ]


def _sweep_targets(find: Callable[..., Result | None]) -> list[Target]:
    # run_grid xla-exact is timed just before each round of the floor and of optax (Workload.interleaved).
    cells, epochs = GRID_SHAPES[-1]
    rows = [
        Target(
            "sweep vs floor",
            f"run_grid xla-exact at {cells:,} cells x {epochs:,} epochs within 2x of the native floor: t(grid) / t(floor) <= 2, in turn",
            _interleaved_ratio(find("sweep", "native floor", configs=cells, epochs=epochs)),
            2.0,
            higher_is_better=False,
        )
    ]
    for cells, epochs in GRID_SHAPES:
        rows.append(
            Target(
                f"sweep vs optax {cells:,} x {epochs:,}",
                f"run_grid xla-exact no slower than optax's vmap at {cells:,} x {epochs:,}: t(grid) / t(optax) <= 1, in turn",
                _interleaved_ratio(find("sweep", "optax vmap", configs=cells, epochs=epochs)),
                1.0,
                higher_is_better=False,
            )
        )
    return rows
