"""Mixed precision, library by library: does the schedule move on a step that loss scaling skipped.

A loss-scaled step whose gradient is not finite is skipped: ``w`` stays put and the loss scale
halves. Whether the *schedule* waits for it depends on the library, and the libraries disagree.
:func:`mixed_precision` runs each peer of :data:`MIXED_PEERS` on the seed for the steps of
:data:`FORCED` (the gradient forced to ``inf`` and ``nan`` at steps 1 and 3,
:mod:`decaybench.peers.mixed_runs`) and states what it measured:

* ``skipped``: the steps that left ``w`` bit for bit unchanged;
* the step counter after the last step, and for every applied step the schedule step whose lr it
  used (its lr matched against the library's own schedule at steps ``0 .. 4``);
* ``waits`` when no skipped step changes the lr of the step after it, ``moves`` otherwise.

Measured (pinned in ``tests/test_peers.py``): Keras 3's ``LossScaleOptimizer`` waits (``iterations``
3 after 5 steps, the applied steps use lr(0), lr(1), lr(2)); tf_keras's moves (``iterations`` 5:
lr(0), lr(2), lr(4)); torch's ``GradScaler`` skips ``optimizer.step()`` but the scheduler steps
anyway, so it moves (pytorch#55585), under autocast bfloat16 and float16 alike. optax has no loss
scaling (jmp, JAX's loss-scaling library, is separate): ``optax.sgd`` on bfloat16 params applies a
non-finite gradient, and ``optax.apply_if_finite``, optax's own skip, waits.

>>> FORCED
('finite', 'inf', 'finite', 'nan', 'finite')
>>> on_skip((0.2, 0.198, 0.198, 0.196, 0.196), (False, True, False, True, False))
'waits'
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from decaybench.peers import PeerUnavailable
from decaybench.peers.keras import version as keras_version
from decaybench.peers.mixed_runs import SkipRun, keras_run, optax_run, tf_keras_run, torch_run
from decaybench.validation import check_choice

__all__ = ["FORCED", "MIXED_PEERS", "MixedPeer", "MixedRow", "mixed_precision", "on_skip", "row"]

FORCED = ("finite", "inf", "finite", "nan", "finite")


def _keras3(gradients: tuple[str, ...]) -> SkipRun:
    version = keras_version("keras3")  # PeerUnavailable unless keras >= 3 on TensorFlow
    return keras_run(importlib.import_module("keras"), gradients, version)


def _tf_keras(gradients: tuple[str, ...]) -> SkipRun:
    if importlib.util.find_spec("tf_keras") is None:
        raise PeerUnavailable("keras2", "cannot import tf_keras; install tf-keras")
    return tf_keras_run(gradients)


@dataclass(frozen=True)
class MixedPeer:
    """One library's mixed-precision step: ``run(gradients)`` measures it; ``note`` names a known report of what it shows."""

    name: str
    precision: str
    run: Callable[[tuple[str, ...]], SkipRun]
    note: str = ""


MIXED_PEERS: dict[str, MixedPeer] = {
    peer.name: peer
    for peer in (
        MixedPeer("keras3", "LossScaleOptimizer(SGD(ExponentialDecay)), float32 w", _keras3),
        MixedPeer("keras2", "tf_keras LossScaleOptimizer(SGD(ExponentialDecay)), float32 w", _tf_keras, "TF_USE_LEGACY_KERAS=1"),
        MixedPeer(
            "torch bfloat16",
            "autocast('cpu', bfloat16), GradScaler('cpu'), SGD, ExponentialLR",
            functools.partial(torch_run, dtype="bfloat16"),
            "scheduler.step() runs after a skipped optimizer.step(), pytorch#55585",
        ),
        MixedPeer(
            "torch float16",
            "autocast('cpu', float16), GradScaler('cpu'), SGD, ExponentialLR",
            functools.partial(torch_run, dtype="float16"),
            "scheduler.step() runs after a skipped optimizer.step(), pytorch#55585",
        ),
        MixedPeer("optax bfloat16", "optax.sgd(exponential_decay), bfloat16 w", functools.partial(optax_run, skip=False)),
        MixedPeer(
            "optax apply_if_finite",
            "optax.apply_if_finite(optax.sgd(exponential_decay)), bfloat16 w",
            functools.partial(optax_run, skip=True),
        ),
    )
}


@dataclass(frozen=True)
class MixedRow:
    """One peer's run of :data:`FORCED`.

    Attributes:
        peer, version, precision: which library, which version, what it runs.
        compute_dtype: the dtype the forward pass computed the loss in (measured).
        skipped: the steps that left ``w`` unchanged.
        counter: the step counter's name and its value after the last step (``"iterations 3"``).
        applied: for each step that was not skipped, the schedule step whose lr it used (``None``: no match).
        on_skip: ``"waits"``, ``"moves"``, or ``"-"`` when no step was skipped.
        cause: the measurements in one sentence.
        unavailable: why the peer did not run (then the other results are empty).
    """

    peer: str
    version: str
    precision: str
    compute_dtype: str
    skipped: tuple[int, ...]
    counter: str
    applied: tuple[int | None, ...]
    on_skip: str
    cause: str
    unavailable: str | None = None


def on_skip(lr: Iterable[float], skipped: Iterable[bool]) -> str:
    """``"moves"`` when the lr after some skipped step differs from the lr at it; ``"waits"`` when none does; ``"-"`` without a skip."""
    lr, skipped = list(lr), list(skipped)
    followed = [step for step, skip in enumerate(skipped) if skip and step + 1 < len(lr)]
    if not any(skipped):
        return "-"
    return "moves" if any(lr[step + 1] != lr[step] for step in followed) else "waits"


def _schedule_step(lr: float, schedule: tuple[float, ...]) -> int | None:
    return schedule.index(lr) if lr in schedule else None


def row(peer: MixedPeer, run: SkipRun, gradients: tuple[str, ...] = FORCED) -> MixedRow:
    """The row of ``run`` (of ``peer`` on ``gradients``): what it measured, and the sentence that says why."""
    skipped = tuple(step for step, skip in enumerate(run.skipped) if skip)
    applied = tuple(_schedule_step(lr, run.schedule) for lr, skip in zip(run.lr, run.skipped, strict=True) if not skip)
    verdict = on_skip(run.lr, run.skipped)
    counter = f"{run.counter} {run.counters[-1]}"
    used = ", ".join("?" if step is None else f"lr({step})" for step in applied)
    if verdict == "-":
        forced = [step for step, kind in enumerate(gradients) if kind != "finite"]
        cause = f"no step skipped: the non-finite gradient of step {forced[0]} is applied, w is {run.w[-1]} at the end" if forced else ""
        cause += f"; {_no_loss_scaling()}" if peer.name.startswith("optax") else ""
    else:
        advances = "advances" if verdict == "moves" else "does not advance"
        cause = f"a skipped step {advances} {run.counter}: the applied steps use {used}"
    unforced = [step for step in skipped if gradients[step] == "finite"]
    if unforced:
        scales = ", ".join(f"{run.scales[step]:g}" for step in unforced) if run.scales else "?"
        overflowed = f"the {run.compute_dtype} gradient overflowed at loss scale {scales}"
        cause += f"; steps {', '.join(map(str, unforced))} skipped unforced: {overflowed}"
    cause += f" ({peer.note})" if peer.note else ""
    return MixedRow(peer.name, run.version, peer.precision, run.compute_dtype, skipped, counter, applied, verdict, cause)


def _no_loss_scaling() -> str:
    jmp = "installed, not used" if importlib.util.find_spec("jmp") is not None else "not installed"
    return f"optax has no loss scaling (jmp, JAX's loss-scaling library, is a separate package: {jmp})"


def mixed_precision(peers: Iterable[str] | None = None, gradients: tuple[str, ...] = FORCED) -> list[MixedRow]:
    """Run every mixed-precision peer (or those named in ``peers``) on ``gradients``; a missing library gives a row saying so."""
    names = list(MIXED_PEERS) if peers is None else [check_choice("peers", name, tuple(MIXED_PEERS)) for name in peers]
    rows = []
    for name in names:
        peer = MIXED_PEERS[name]
        try:
            run = peer.run(gradients)
        except (ImportError, PeerUnavailable) as error:
            reason = error.reason if isinstance(error, PeerUnavailable) else str(error)
            rows.append(MixedRow(name, "-", peer.precision, "-", (), "-", (), "-", f"skipped: {reason}", reason))
            continue
        rows.append(row(peer, run, gradients))
    return rows
