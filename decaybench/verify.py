"""``verify``: every mode on one configuration, checked against the emulation, the oracle and the seed.

For each mode in :data:`decaybench.loops.MODES` the report gives: the documented seed lines
(and the full golden trace's lines) it reproduces when the configuration is the seed's; whether
it is bit-identical to the NumPy emulation of record; its largest ULP distance to that emulation
for w and the loss, against the mode's stated bound (0 for ``exact`` modes, the derived
:func:`decaybench.oracle.fused_update_bound` for ``fused-update`` ones, 0 for w and
:func:`summation_order_bound` for the loss of ``sharded-sum`` ones); its largest relative
error against the exact oracle; whether its lr agrees with tf.keras's own ``ExponentialDecay``;
how many times it traced or compiled; and whether a second run repeats the first bit for bit.
tf.keras's own schedule is run beside the modes as a labelled reference row that has no bound.
Comparisons stop before the first diverged epoch.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from decaybench import golden
from decaybench.config import DecayConfig
from decaybench.loops import MODES, run
from decaybench.modes import REGISTRY
from decaybench.modes.emulation import emulate
from decaybench.oracle import exact_trajectory, fused_update_bound, relative_error, ulp_distance
from decaybench.trace import Trace

__all__ = ["ModeReport", "VerifyReport", "summation_order_bound", "verify"]

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


@dataclass(frozen=True)
class VerifyReport:
    """All rows for one configuration; ``ok`` when every mode meets its bound and repeats itself."""

    config: DecayConfig
    rows: tuple[ModeReport, ...]

    @property
    def ok(self) -> bool:
        return all(row.within_bound and row.repeatable for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "ok": self.ok,
            "modes": [dataclasses.asdict(row) for row in self.rows],
        }


def _compared(trace: Trace, emulated: Trace, stop: int | None) -> np.ndarray:
    """Recorded rows before the first diverged epoch."""
    keep = trace.epoch < stop if stop is not None else np.ones(len(trace), dtype=bool)
    return keep & (emulated.epoch == trace.epoch)


def summation_order_bound(emulated: Trace, size: int) -> np.ndarray:
    """Per epoch, the most ULPs apart two orders of summing the loss's ``size`` terms can land.

    Every element of ``w`` follows ``emulated`` (``size=1``), so the loss adds ``n = size``
    copies of one float ``s = fl(x**2) >= 0``: exactly ``S = n s``. Any order of the ``n - 1``
    additions errs by at most ``gamma(n - 1) S`` with ``gamma(k) = k u / (1 - k u)`` (Higham,
    *Accuracy and Stability of Numerical Algorithms*, (4.6)), so two orders differ by at most
    ``2 gamma(n - 1) S``; both lie above ``m = S (1 - gamma(n - 1))``, where floats are at least
    ``ulp(m)`` apart. The bound is ``2 gamma(n - 1) S / ulp(m)``, about ``4 (n - 1)`` ULPs.
    """
    dtype = np.finfo(emulated.config.dtype)
    ku = (size - 1) * float(dtype.eps) / 2
    gamma = ku / (1 - ku) if ku < 1 else np.inf
    exact = size * emulated.loss.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        floor = np.maximum(exact * (1 - gamma), float(dtype.tiny))
        ulp = np.ldexp(1.0, np.frexp(floor)[1] - dtype.nmant - 1)
        ulps = np.floor(2 * gamma * exact / ulp * (1 + 1e-6))
    unbounded = ~np.isfinite(ulps) | (ulps >= 2.0**63)
    return np.where(unbounded, np.iinfo(np.uint64).max, np.where(unbounded, 0, ulps).astype(np.uint64))


def _bounds(config: DecayConfig, contract: str, emulated_full: Trace | None) -> tuple[np.ndarray, np.ndarray]:
    if contract == "exact":
        zeros = np.zeros(config.recorded_count, dtype=np.uint64)
        return zeros, zeros
    assert emulated_full is not None
    if contract == "sharded-sum":  # w exact: each gradient element is one term plus exact zeros
        zeros = np.zeros(config.recorded_count, dtype=np.uint64)
        return zeros, summation_order_bound(emulated_full, config.size)[config.recorded()]
    w_bound, loss_bound = fused_update_bound(emulated_full, size=config.size)
    return w_bound[config.recorded()], loss_bound[config.recorded()]


def _seed_lines(trace: Trace, config: DecayConfig) -> tuple[str, str]:
    if not config.is_seed or config.record_every != 1:
        return "-", "-"
    checks = golden.check_documented(trace)
    stored = golden.read_golden_trace().lines()
    same = sum(a == b for a, b in zip(trace.lines(), stored, strict=False))
    return f"{sum(check.ok for check in checks)}/{len(checks)}", f"{same}/{len(stored)}"


def _same(first: Trace, second: Trace) -> bool:
    return all(np.array_equal(getattr(first, name), getattr(second, name), equal_nan=True) for name in ("epoch", "w", "loss", "lr"))


def _twice(mode: str, config: DecayConfig) -> tuple[Trace, str, bool]:
    """Run twice: the traces of the first run and of the repeat, and whether both agree bit for bit."""
    counts = _tracing_counts
    before = counts().get(mode)
    trace = run(config, mode)
    middle = counts().get(mode)
    repeat = run(config, mode)
    after = counts().get(mode)
    traces = "-" if before is None or middle is None or after is None else f"{middle - before} then {after - middle}"
    return trace, traces, _same(trace, repeat)


def _tracing_counts() -> dict[str, int]:
    from decaybench.modes.compiled import tracing_counts

    return tracing_counts()


def _reference_lr(config: DecayConfig) -> tuple[np.ndarray, str]:
    from decaybench.peers import PEERS, PeerUnavailable

    try:
        values = PEERS[REFERENCE].schedule(
            config.recorded(), config.initial_learning_rate, config.decay_steps, config.decay_rate, config.staircase
        )
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


def verify(config: DecayConfig | None = None, modes: tuple[str, ...] = MODES, reference: bool = True) -> VerifyReport:
    """Run ``modes`` (default: all) and tf.keras's own schedule on ``config``; see the module doc."""
    config = config if config is not None else DecayConfig()
    emulated = emulate(config)
    needs_full = any(REGISTRY[mode].contract != "exact" for mode in modes)
    emulated_full = emulate(dataclasses.replace(config, size=1, record_every=1)) if needs_full else None
    exact = exact_trajectory(config)
    reference_lr, reference_note = _reference_lr(config)
    rows = []
    for mode in modes:
        started = time.perf_counter()
        trace, traces, repeatable = _twice(mode, config)
        seconds = (time.perf_counter() - started) / 2
        rows.append(
            _row(
                mode,
                REGISTRY[mode].contract,
                trace,
                emulated,
                emulated_full,
                exact,
                (reference_lr, reference_note),
                traces,
                repeatable,
                seconds,
            )
        )
    if reference:
        from decaybench.peers import PEERS, PeerUnavailable

        try:
            started = time.perf_counter()
            trace = PEERS[REFERENCE].train(config)
            seconds = time.perf_counter() - started
            repeatable = _same(trace, PEERS[REFERENCE].train(config))
            rows.append(
                _row(REFERENCE, "reference", trace, emulated, None, exact, (reference_lr, reference_note), "-", repeatable, seconds)
            )
        except PeerUnavailable:
            pass
    return VerifyReport(config, tuple(rows))


def _row(
    mode: str,
    contract: str,
    trace: Trace,
    emulated: Trace,
    emulated_full: Trace | None,
    exact: Any,
    reference: tuple[np.ndarray, str],
    traces: str,
    repeatable: bool,
    seconds: float,
) -> ModeReport:
    config = trace.config
    stop = min((epoch for epoch in (trace.diverged_at, emulated.diverged_at) if epoch is not None), default=None)
    compared = _compared(trace, emulated, stop)
    w_ulp = ulp_distance(trace.w[compared], emulated.w[compared]).max(axis=1, initial=0)
    loss_ulp = ulp_distance(trace.loss[compared], emulated.loss[compared])
    if contract == "reference":
        bound_w = bound_loss = np.zeros(0, dtype=np.uint64)
    else:
        bounds = _bounds(config, contract, emulated_full)
        bound_w, bound_loss = bounds[0][compared], bounds[1][compared]
    documented, golden_lines = _seed_lines(trace, config)
    errors = relative_error(trace, exact)
    return ModeReport(
        mode=mode,
        contract=contract,
        documented=documented,
        golden=golden_lines,
        bit_identical=bool(
            np.array_equal(trace.w[compared], emulated.w[compared]) and np.array_equal(trace.loss[compared], emulated.loss[compared])
        ),
        max_ulp_w=int(w_ulp.max(initial=0)),
        max_ulp_loss=int(loss_ulp.max(initial=0)),
        bound_w=int(bound_w.max(initial=0)),
        bound_loss=int(bound_loss.max(initial=0)),
        oracle_rel_w=errors["w"],
        oracle_rel_loss=errors["loss"],
        lr_vs_tf_keras=_lr_agreement(trace, *reference),
        traces=traces,
        repeatable=repeatable,
        diverged_at=trace.diverged_at,
        seconds=seconds,
        # Per epoch, not max against max: a bound is only as good as the epoch it bounds.
        within_bound=contract == "reference" or bool(np.all(w_ulp <= bound_w) and np.all(loss_ulp <= bound_loss)),
    )
