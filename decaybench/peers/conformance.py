"""The conformance checks: every peer's run against the reference, and the replay that says why it differs.

:func:`conformance` trains each peer on a config and :func:`compare` turns one run into a
:class:`ConformanceRow`; :func:`explain` establishes the cause by replaying the run in NumPy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from decaybench.config import DecayConfig
from decaybench.golden import check_documented, read_golden_trace
from decaybench.loops import run
from decaybench.oracle import max_ulp
from decaybench.peers import PEERS, Peer, PeerUnavailable
from decaybench.peers.resume import resume_check
from decaybench.rounding import fused_multiply_subtract
from decaybench.trace import Trace
from decaybench.validation import check_choice

__all__ = ["ConformanceRow", "compare", "conformance", "explain", "reference_trace"]


@dataclass(frozen=True)
class ConformanceRow:
    """One peer's run against the reference trace (the golden trace for the seed config).

    Attributes:
        peer, version, lr_dtype: which library, which version, what dtype its lr is computed in.
        documented: documented seed lines printed identically (of 15); ``None`` off the seed.
        lines: printed lines identical to the reference's, of ``total``.
        differing_lines: the epochs whose printed line differs.
        max_ulp: the largest ULP distance of ``w`` from the reference.
        first_difference: the first epoch whose ``w`` or loss differs in any bit, or ``None``.
        cause: why, from the measurements of :func:`explain`.
        skipped: the reason the peer did not run (then the other results are empty).
        resume: the run stopped at its middle epoch and resumed the library's way, against the
            uninterrupted run: ``"yes"`` bit for bit (:func:`decaybench.peers.resume.resume_check`).
    """

    peer: str
    version: str | None
    lr_dtype: str
    documented: int | None
    lines: int
    total: int
    differing_lines: tuple[int, ...]
    max_ulp: int | None
    first_difference: int | None
    cause: str
    skipped: str | None = None
    resume: str = "-"


def conformance(config: DecayConfig | None = None, peers: Iterable[str] | None = None) -> list[ConformanceRow]:
    """Train every peer (or those named in ``peers``) on ``config`` and compare with the reference.

    The reference is the golden trace when ``config`` is the seed, else the ``eager`` mode's run.
    A peer whose library is missing gives a row with ``skipped`` set.
    """
    names = list(PEERS) if peers is None else [check_choice("peers", name, tuple(PEERS)) for name in peers]
    config = config if config is not None else DecayConfig()
    reference = reference_trace(config)
    rows = []
    for name in names:
        peer = PEERS[name]
        try:
            version = peer.version()
        except PeerUnavailable as error:
            rows.append(
                ConformanceRow(name, None, peer.lr_dtype, None, 0, len(reference), (), None, None, f"skipped: {error.reason}", error.reason)
            )
            continue
        trace = peer.train(config)
        rows.append(dataclasses.replace(compare(peer, trace, reference, version), resume=resume_check(name, config, whole=trace)))
    return rows


def compare(peer: Peer, trace: Trace, reference: Trace, version: str | None = None) -> ConformanceRow:
    """One row of :func:`conformance`: ``trace`` (a run of ``peer``) against ``reference``."""
    differing = tuple(int(e) for e, a, b in zip(reference.epoch, trace.lines(), reference.lines(), strict=True) if a != b)
    return ConformanceRow(
        peer=peer.name,
        version=version if version is not None else peer.version(),
        lr_dtype=peer.lr_dtype,
        documented=sum(check.ok for check in check_documented(trace)) if trace.config.is_seed else None,
        lines=len(reference) - len(differing),
        total=len(reference),
        differing_lines=differing,
        max_ulp=max_ulp(trace.w, reference.w),
        first_difference=_first_difference(trace, reference),
        cause=explain(trace, reference, peer),
    )


def reference_trace(config: DecayConfig) -> Trace:
    """The golden trace at ``config``'s recorded epochs for the seed; the ``eager`` run otherwise."""
    if not config.is_seed:
        return run(config, "eager")
    golden = read_golden_trace()
    keep = np.searchsorted(golden.epoch, config.recorded())
    return Trace(epoch=golden.epoch[keep], w=golden.w[keep], loss=golden.loss[keep], lr=golden.lr[keep], config=config, mode=golden.mode)


def _first_difference(trace: Trace, reference: Trace) -> int | None:
    same = _bits_equal(trace.w, reference.w).all(axis=1) & _bits_equal(trace.loss, reference.loss)
    return None if same.all() else int(trace.epoch[np.argmin(same)])


def _bits_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def explain(trace: Trace, reference: Trace, peer: Peer | None = None) -> str:
    """Why ``trace`` differs from ``reference`` (same config), established by replaying it.

    Two measurements, never a guess:

    * the learning rates: the epochs where ``trace.lr`` and ``reference.lr``, each rounded to
      ``w``'s dtype (what the update multiplies by), differ, and for a float32 schedule those
      whose step is not exact in float32 (past ``2**24``);
    * the update: the run is replayed in NumPy from ``w0`` with its own learning rates, once as
      the seed rounds (``lr * g``, then the subtraction) and once fused (one rounding, an FMA).
      The replay that reproduces every ``w`` bit for bit names the update; replaying it with the
      reference's learning rates tells whether the lr differences change ``w`` at all.

    Needs ``record_every=1`` (every epoch's lr) to replay; otherwise only the lr is reported.
    """
    config = trace.config
    dtype = np.dtype(config.dtype)
    arithmetic = peer.lr_arithmetic if peer is not None else "the schedule"
    applied, wanted = trace.lr.astype(dtype), reference.lr.astype(dtype)
    lr_epochs = trace.epoch[applied != wanted]
    first = _first_difference(trace, reference)
    facts = []
    if lr_epochs.size:
        facts.append(
            f"lr != {dtype}(reference) at {lr_epochs.size} of {len(trace)} epochs from epoch {lr_epochs[0]} "
            f"(max {max_ulp(applied, wanted)} ULP)" + (_step_cast(lr_epochs) if peer is not None and peer.lr_dtype == "float32" else "")
        )
    elif not np.array_equal(trace.lr, reference.lr):
        moved = trace.epoch[trace.lr != reference.lr]
        facts.append(f"{arithmetic} moves the float64 lr from epoch {moved[0]} but never its {dtype} rounding")
    if config.record_every != 1:
        return "; ".join([*facts, "no replay (record_every > 1)"]) if first is not None or facts else "none: bit-identical"
    update = next((fused for fused in (False, True) if _bits_equal(_replay(config, trace.lr, fused), trace.w).all()), None)
    if update is None:
        return "; ".join([*facts, "unexplained: neither a two-rounding nor a fused replay reproduces w"])
    if first is None:
        return "none: bit-identical" + (f" ({'; '.join(facts)})" if facts else "")
    causes = []
    lr_matters = lr_epochs.size and not _bits_equal(_replay(config, reference.lr, update), trace.w).all()
    if lr_matters:
        causes.append(f"{arithmetic}: {facts[0]}")
    if update:
        causes.append("fused multiply-add update (w - lr*g rounded once; a fused replay reproduces every epoch)")
    if lr_epochs.size and not lr_matters:
        causes.append(f"{arithmetic} does not change w ({facts[0]})")
    if not causes:
        causes.append("unexplained: a two-rounding replay reproduces w with the reference's lr, but not the reference")
    return "; ".join(causes)


def _step_cast(epochs: np.ndarray) -> str:
    # A float32 schedule casts the step first: past 2**24 it is not the step any more.
    off = epochs[epochs.astype(np.float32).astype(np.int64) != epochs]
    return f", at {off.size} of them a float32 step != the step, from epoch {off[0]}" if off.size else ""


def _replay(config: DecayConfig, lr: np.ndarray, fused: bool) -> np.ndarray:
    """The seed's trajectory from ``w0`` with the given per-epoch ``lr``, in NumPy."""
    kind = np.dtype(config.dtype).type
    w = np.full(config.size, config.w0, dtype=kind)
    rows = []
    with np.errstate(all="ignore"):
        for rate in lr:
            grad = kind(2) * (w + kind(1))  # d/dw (w + 1)**2; the doubling is exact
            step = kind(rate)
            w = fused_multiply_subtract(w, np.full_like(w, step), grad) if fused else w - step * grad
            rows.append(w)
    return np.stack(rows)
