"""``verify``: every mode on one configuration, checked against the emulation, the oracle and the seed.

For each mode of :data:`decaybench.modes.REGISTRY` the report gives: the documented seed lines
(and the full golden trace's lines) it reproduces when the configuration is the seed's; whether
it is bit-identical to the NumPy emulation of record; its largest ULP distance to that emulation
for w and the loss, against the bound of the mode's contract (:data:`decaybench.bounds.BOUNDS`:
0 for ``exact`` modes, :func:`~decaybench.bounds.fused_update_bound` for ``fused-update`` ones,
0 for w and :func:`~decaybench.bounds.summation_order_bound` for the loss of ``sharded-sum``
ones); its largest relative error against the exact oracle; whether its lr agrees with
tf.keras's own ``ExponentialDecay``; how many times it traced or compiled
(:meth:`decaybench.modes.ModeSpec.tracing_count`); whether a second run repeats the first bit
for bit; and whether the run stopped after its middle epoch and resumed from its checkpoint is the same run,
bit for bit (``resume``, :mod:`decaybench.checkpoint`; ``-`` for a mode that does not checkpoint); and the model it is
held to bit for bit (``model``): ``plain``, the emulation of record, or, for a ``fused-update`` mode where XLA
contracts, ``fused`` (:func:`decaybench.modes.emulation.xla_model`: one rounding per update, the loss in XLA's
order), with whether it is that model bit for bit (``model_identical``). Each mode is held to the emulation in its
own update order (``order``, :attr:`decaybench.modes.ModeSpec.update_order`): where Grappler or XLA multiplies ``lr``
by 2 first, so does the emulation it is compared with, and the two are then bit for bit, overflow and subnormals included.
With ``steps_per_epoch > 1`` the modes that run several steps are checked instead, against
the emulation and the oracle of their own per-update rates (:mod:`decaybench.steps`).
tf.keras's own schedule is run beside the modes as a labelled reference row that has no bound.

The numbers behind each row are one :class:`Comparison` (:func:`compare`): per recorded epoch,
the ULP distances to the emulation and the bounds, and the epoch where the comparison stops,
the first at which either run diverged (:attr:`decaybench.trace.Trace.diverged_at`).
:mod:`decaybench.plot` draws the same object.

>>> from decaybench.modes.emulation import emulate, xla_model
>>> config = DecayConfig(epochs=6)
>>> found = compare(emulate(config, fused=True), emulate(config), "fused-update", bound_emulation(config))
>>> found.ulp_w.tolist(), found.bound_w.tolist(), found.stop, found.within_bound
([0, 0, 0, 1, 1, 1], [2, 5, 17, 27, 5, 4], None, True)
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from decaybench.bounds import bound_emulation, recorded_bounds, summation_order_bound  # the last re-exported
from decaybench.config import DecayConfig
from decaybench.golden import check_documented, read_golden_trace
from decaybench.loops import run, run_split
from decaybench.memory import check_memory
from decaybench.modes import REGISTRY, SEED_ORDER, Contract, modes_for, update_orders
from decaybench.modes.emulation import emulate, emulate_steps, xla_model
from decaybench.oracle import exact_trajectory, relative_error, ulp_distance
from decaybench.peers import PEERS, PeerUnavailable
from decaybench.rounding import HALF_DTYPES
from decaybench.steps import schedule_steps, several_steps, side_by_side, step_lrs
from decaybench.trace import Trace
from decaybench.xla_flags import xla_contracts

__all__ = ["Comparison", "ModeReport", "VerifyReport", "compare", "summation_order_bound", "verify"]

REFERENCE = "tf.keras"


@dataclass(frozen=True)
class ModeReport:
    """One row of the verification table."""

    mode: str
    contract: str
    documented: str
    golden: str
    bit_identical: bool
    max_ulp_w: int
    max_ulp_loss: int
    bound_w: int
    bound_loss: int
    oracle_rel_w: float
    oracle_rel_loss: float
    lr_vs_tf_keras: str
    traces: str
    repeatable: bool
    diverged_at: int | None
    seconds: float
    within_bound: bool
    resume: str = "-"  # "yes": stopped at the middle epoch and resumed, bit for bit the run; "NO"; "-": no checkpoints
    model: str = "plain"  # "fused": one rounding per update (XLA contracting); "plain": the emulation of record
    model_identical: bool | None = None  # whether the run is its model bit for bit; None: the bit-identical column says
    order: str = SEED_ORDER  # how the mode associates the update's product (ModeSpec.update_order), and its emulation


@dataclass(frozen=True)
class VerifyReport:
    """All rows for one configuration; ``ok`` when every mode meets its bound and repeats itself.

    ``comparisons`` holds, by mode, the per-epoch :class:`Comparison` behind each row (not in
    :meth:`to_dict`: the JSON has the rows only).
    """

    config: DecayConfig
    rows: tuple[ModeReport, ...]
    comparisons: Mapping[str, Comparison] = field(default_factory=dict, compare=False, repr=False)
    notes: tuple[str, ...] = ()  # lines after the table: fit and callback side by side when steps_per_epoch > 1

    @property
    def ok(self) -> bool:
        return all(row.within_bound and row.repeatable and row.resume != "NO" for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "ok": self.ok,
            "modes": [dataclasses.asdict(row) for row in self.rows],
            **({"notes": list(self.notes)} if self.notes else {}),
        }


@dataclass(frozen=True, eq=False)
class Comparison:
    """A run against the emulation of record, per recorded epoch.

    Attributes:
        contract: what the run promises; ``None`` for one that promises nothing (tf.keras's own
            schedule, a foreign trace), which has no bound.
        epochs: int64, the recorded epochs.
        ulp_w: uint64, the ULP distance of w (its largest element) at each epoch.
        ulp_loss: uint64, the ULP distance of the loss at each epoch.
        bound_w: uint64, the contract's bound for ``ulp_w`` at each epoch; ``None`` without one.
        bound_loss: the same for ``ulp_loss``.
        stop: the first epoch at which either run diverged; it and later epochs are not compared.
    """

    contract: Contract | None
    epochs: np.ndarray
    ulp_w: np.ndarray
    ulp_loss: np.ndarray
    bound_w: np.ndarray | None
    bound_loss: np.ndarray | None
    stop: int | None

    @property
    def compared(self) -> np.ndarray:
        """Which recorded epochs are compared: those before :attr:`stop`."""
        return self.epochs < self.stop if self.stop is not None else np.ones(len(self.epochs), dtype=bool)

    @property
    def worst(self) -> tuple[int, int]:
        """The largest compared ULP distance of w and of the loss (0 when nothing is compared)."""
        kept = self.compared
        return int(self.ulp_w[kept].max(initial=0)), int(self.ulp_loss[kept].max(initial=0))

    @property
    def bounds(self) -> tuple[np.ndarray, ...]:
        """``(bound_w, bound_loss)``, or ``()`` without a bound."""
        return () if self.bound_w is None or self.bound_loss is None else (self.bound_w, self.bound_loss)

    @property
    def worst_bound(self) -> tuple[int, int]:
        """The largest compared bound of w and of the loss (0 without a bound)."""
        kept = self.compared
        w, loss = (int(bound[kept].max(initial=0)) for bound in self.bounds) if self.bounds else (0, 0)
        return w, loss

    @property
    def identical(self) -> bool:
        """No compared epoch is even one ULP apart."""
        return self.worst == (0, 0)

    @property
    def within_bound(self) -> bool:
        """Every compared epoch within that epoch's bound (true without a bound)."""
        # Per epoch, not max against max: a bound is only as good as the epoch it bounds.
        kept = self.compared
        pairs = zip((self.ulp_w, self.ulp_loss), self.bounds, strict=False)
        return all(bool(np.all(ulps[kept] <= bound[kept])) for ulps, bound in pairs)

    def shown(self, values: np.ndarray) -> np.ndarray:
        """``values`` (per recorded epoch) as float64, NaN from :attr:`stop` on: what a plot draws."""
        return np.where(self.compared, np.asarray(values).astype(np.float64), np.nan)


def compare(trace: Trace, emulated: Trace, contract: Contract | None, full: Trace | None = None) -> Comparison:
    """``trace`` against ``emulated`` (the emulation of record of the same epochs), per epoch.

    ``full`` is :func:`decaybench.bounds.bound_emulation` of the configuration; the bounds of
    ``contract`` are computed when it is given (and ``contract`` is not ``None``).
    """
    if not np.array_equal(trace.epoch, emulated.epoch):
        raise ValueError(f"compare needs the same recorded epochs, got {len(trace)} and {len(emulated)} rows")
    stop = min((epoch for epoch in (trace.diverged_at, emulated.diverged_at) if epoch is not None), default=None)
    bound_w, bound_loss = recorded_bounds(contract, trace.config, full) if contract is not None and full is not None else (None, None)
    return Comparison(
        contract=contract,
        epochs=trace.epoch,
        ulp_w=ulp_distance(trace.w, emulated.w).max(axis=1, initial=0),
        ulp_loss=ulp_distance(trace.loss, emulated.loss),
        bound_w=bound_w,
        bound_loss=bound_loss,
        stop=stop,
    )


def _seed_lines(trace: Trace, config: DecayConfig) -> tuple[str, str]:
    if not config.is_seed or config.record_every != 1:
        return "-", "-"
    checks = check_documented(trace)
    stored = read_golden_trace().lines()
    same = sum(a == b for a, b in zip(trace.lines(), stored, strict=False))
    return f"{sum(check.ok for check in checks)}/{len(checks)}", f"{same}/{len(stored)}"


def _twice(mode: str, config: DecayConfig) -> tuple[Trace, str, bool]:
    """Run twice: the traces of the first run and of the repeat, and whether both agree bit for bit."""
    count = REGISTRY[mode].tracing_count
    before = count()
    trace = run(config, mode)
    middle = count()
    repeat = run(config, mode)
    after = count()
    traces = "-" if before is None or middle is None or after is None else f"{middle - before} then {after - middle}"
    return trace, traces, trace.identical(repeat)


def _reference_lr(config: DecayConfig) -> tuple[np.ndarray, str]:
    try:
        values = PEERS[REFERENCE].schedule(config.schedule, config.recorded())
    except PeerUnavailable as error:
        return np.array([]), error.reason
    return values, ""


def _lr_agreement(trace: Trace, reference: np.ndarray, note: str) -> str:
    if note:
        return f"n/a ({note})"
    applied = trace.lr.astype(trace.config.dtype) if trace.mode != REFERENCE else trace.lr.astype(np.float32)
    cast = reference.astype(applied.dtype)
    same = int(np.sum(applied == cast))
    worst = int(ulp_distance(applied, cast).max()) if len(cast) else 0
    return f"{same}/{len(cast)} equal" + (f", max {worst} ULP" if worst else "")


def _model(mode: str, config: DecayConfig, trace: Trace) -> dict[str, Any]:
    """The model ``mode`` is held to bit for bit: the plain emulation, or XLA's as this CPU runs it."""
    if REGISTRY[mode].contract != "fused-update":
        return {"model": "plain"}
    if config.dtype in HALF_DTYPES:  # XLA rounds each 16-bit operation: no contraction (xla_model)
        return {"model": "plain", "model_identical": trace.identical(xla_model(config))}
    return {"model": "fused" if xla_contracts() else "plain", "model_identical": trace.identical(xla_model(config))}


def _resume(mode: str, config: DecayConfig, trace: Trace) -> str:
    """Whether ``mode`` stopped after its middle epoch and resumed in this process gives ``trace`` bit for bit."""
    if REGISTRY[mode].checkpoints is None:
        return "-"
    with tempfile.TemporaryDirectory(prefix="decaybench-resume-") as directory:
        resumed = run_split(config, mode, max(1, config.epochs // 2), Path(directory) / "run")
    return "yes" if resumed.identical(trace) else "NO"


def verify(config: DecayConfig | None = None, modes: tuple[str, ...] | None = None, reference: bool = True) -> VerifyReport:
    """Run ``modes`` (default: all) and tf.keras's own schedule on ``config``; see the module doc."""
    config = config if config is not None else DecayConfig()
    modes = modes if modes is not None else modes_for(config.dtype)
    check_memory(config, modes, "verify")
    if config.steps_per_epoch > 1:
        return _verify_steps(config, modes)
    models = {order: emulate(config, order=order) for order in update_orders(modes, config.size, config.dtype)}
    full = bound_emulation(config)
    exact = exact_trajectory(config)
    reference_lr = _reference_lr(config)
    rows, comparisons = [], {}
    for mode in modes:
        started = time.perf_counter()
        trace, traces, repeatable = _twice(mode, config)
        seconds = (time.perf_counter() - started) / 2
        order = REGISTRY[mode].order_at(config.size, config.dtype)
        comparisons[mode] = compare(trace, models[order], REGISTRY[mode].contract, full)
        row = _row(mode, trace, models[order], comparisons[mode], exact, reference_lr, traces, repeatable, seconds)
        model = _model(mode, config, trace)
        rows.append(dataclasses.replace(row, resume=_resume(mode, config, trace), order=order, **model))
    emulated = models[SEED_ORDER]
    if reference:
        try:
            started = time.perf_counter()
            trace = PEERS[REFERENCE].train(config)
            seconds = time.perf_counter() - started
            repeatable = trace.identical(PEERS[REFERENCE].train(config))
            comparisons[REFERENCE] = compare(trace, emulated, None)
            rows.append(_row(REFERENCE, trace, emulated, comparisons[REFERENCE], exact, reference_lr, "-", repeatable, seconds))
        except PeerUnavailable:
            pass
    return VerifyReport(config, tuple(rows), comparisons)


def _verify_steps(config: DecayConfig, modes: tuple[str, ...]) -> VerifyReport:
    """:func:`verify` when ``steps_per_epoch > 1``: the modes of ``modes`` that run several steps
    (``fit``, ``callback``), each against the emulation and the exact oracle of its own per-update
    rates, then ``fit`` and ``callback`` side by side (:func:`decaybench.steps.side_by_side`)."""
    rows, comparisons, traces = [], {}, {}
    for mode in several_steps(modes):
        started = time.perf_counter()
        trace, counts, repeatable = _twice(mode, config)
        seconds = (time.perf_counter() - started) / 2
        lrs = step_lrs(config, mode)
        emulated = emulate_steps(config, lrs)
        full = emulate_steps(dataclasses.replace(config, size=1, record_every=1), lrs)
        comparisons[mode] = compare(trace, emulated, REGISTRY[mode].contract, full)
        exact = exact_trajectory(config, schedule_steps(config, mode))
        no_reference = (np.array([]), f"steps_per_epoch {config.steps_per_epoch}")
        rows.append(_row(mode, trace, emulated, comparisons[mode], exact, no_reference, counts, repeatable, seconds))
        traces[mode] = trace
    notes = side_by_side(traces["fit"], traces["callback"]) if {"fit", "callback"} <= set(traces) else ()
    return VerifyReport(config, tuple(rows), comparisons, notes)


def _row(
    mode: str,
    trace: Trace,
    emulated: Trace,
    comparison: Comparison,
    exact: Any,
    reference: tuple[np.ndarray, str],
    traces: str,
    repeatable: bool,
    seconds: float,
) -> ModeReport:
    compared = comparison.compared
    (max_ulp_w, max_ulp_loss), (bound_w, bound_loss) = comparison.worst, comparison.worst_bound
    documented, golden_lines = _seed_lines(trace, trace.config)
    errors = relative_error(trace, exact)
    return ModeReport(
        mode=mode,
        contract=comparison.contract or "reference",
        documented=documented,
        golden=golden_lines,
        bit_identical=bool(
            np.array_equal(trace.w[compared], emulated.w[compared]) and np.array_equal(trace.loss[compared], emulated.loss[compared])
        ),
        max_ulp_w=max_ulp_w,
        max_ulp_loss=max_ulp_loss,
        bound_w=bound_w,
        bound_loss=bound_loss,
        oracle_rel_w=errors["w"],
        oracle_rel_loss=errors["loss"],
        lr_vs_tf_keras=_lr_agreement(trace, *reference),
        traces=traces,
        repeatable=repeatable,
        diverged_at=trace.diverged_at,
        seconds=seconds,
        within_bound=comparison.within_bound,
    )
