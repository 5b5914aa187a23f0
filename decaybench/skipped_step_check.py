"""The skipped-step check for users' own mixed-precision loops (the pytest fixture ``skipped_step_check``).

Loss scaling skips a step whose gradient is not finite. Whether the learning-rate schedule waits
for it differs between libraries (Keras 3 waits, tf_keras and a PyTorch scheduler stepped every
epoch move on: :mod:`decaybench.peers.mixed`). Write the loop as
``train(epochs, overflow) -> lrs``: it trains ``epochs`` epochs, forces the gradient non-finite
(for example ``grad * inf``) at the epochs in the set ``overflow``, and returns the learning rate
each epoch's update uses, read before the step. The check runs it without and with the forced
overflow at ``overflow_at``. With ``s(e)`` the number of forced epochs before epoch ``e``, every
other epoch must use

* ``expect="waits"`` (the default): ``lr_plain[e - s(e)]``, the uninterrupted schedule shifted by
  the skipped steps, as if they had not happened;
* ``expect="moves"``: ``lr_plain[e]``, the schedule counting the skipped steps.

It fails naming the first epoch that does not, both learning rates and the skipped epochs. The
epochs compared must tell the two apart (a schedule that changes there), or it refuses to judge:

>>> def loop(counts_skipped):
...     def train(epochs, overflow):
...         step, lrs = 0, []
...         for epoch in range(epochs):
...             lrs.append(0.2 * 0.99**step)
...             step += 1 if counts_skipped or epoch not in overflow else 0
...         return lrs
...     return train
>>> check_skipped_steps(loop(counts_skipped=False), 6, [1, 2])
>>> check_skipped_steps(loop(counts_skipped=True), 6, [1, 2], expect="moves")
>>> check_skipped_steps(loop(counts_skipped=True), 6, [1, 2])
Traceback (most recent call last):
...
decaybench.skipped_step_check.SkippedStepMismatch: the schedule moved on a skipped step: epoch 3 uses lr 0.194059..., \
the uninterrupted lr of epoch 1 (epoch 3 less 2 skipped: epochs 1, 2) is 0.198; it is the uninterrupted lr of epoch 3
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["EXPECTATIONS", "SkippedStepMismatch", "check_skipped_steps"]

Train = Callable[[int, frozenset[int]], Sequence[Any]]
EXPECTATIONS = ("waits", "moves")


class SkippedStepMismatch(AssertionError):
    """A forced-overflow run's learning rates are not the uninterrupted ones as ``expect`` says; the message names the epoch."""


def _lrs(train: Train, epochs: int, overflow: frozenset[int]) -> np.ndarray:
    lrs = np.asarray(train(epochs, overflow))
    if lrs.shape != (epochs,) or lrs.dtype.kind not in "fiu":
        raise ValueError(f"train({epochs}, overflow) must return {epochs} learning rates, one an epoch; got {lrs.dtype}{list(lrs.shape)}")
    return lrs


def _epochs(epochs: Iterable[int]) -> str:
    return ", ".join(map(str, epochs))


def check_skipped_steps(train: Train, epochs: int, overflow_at: Iterable[int], expect: str = "waits") -> None:
    """Run ``train`` without and with the overflow at ``overflow_at``; raise :class:`SkippedStepMismatch` where ``expect`` fails."""
    overflow = frozenset(int(epoch) for epoch in overflow_at)
    if expect not in EXPECTATIONS:
        raise ValueError(f"expect must be one of {', '.join(EXPECTATIONS)}, got {expect!r}")
    if not overflow or not all(0 <= epoch < epochs - 1 for epoch in overflow):
        wanted = f"epochs from 0 to {epochs - 2} (one at least, each followed by an epoch)"
        raise ValueError(f"overflow_at must name {wanted}, got {sorted(overflow)}")
    plain, forced = _lrs(train, epochs, frozenset()), _lrs(train, epochs, overflow)
    compared = [(epoch, sum(skip < epoch for skip in overflow)) for epoch in range(epochs) if epoch not in overflow]
    if all(plain[epoch - shift] == plain[epoch] for epoch, shift in compared):
        raise ValueError("the uninterrupted schedule is the same at the epochs compared: it cannot tell waiting from moving on")
    for epoch, shift in compared:
        want = epoch - shift if expect == "waits" else epoch
        if forced[epoch] == plain[want]:
            continue
        skipped = sorted(skip for skip in overflow if skip < epoch)
        if expect == "waits":
            problem = f"the schedule moved on a skipped step: epoch {epoch} uses lr {forced[epoch]!s}, "
            problem += f"the uninterrupted lr of epoch {want} (epoch {epoch} less {shift} skipped: epochs {_epochs(skipped)}) "
            problem += f"is {plain[want]!s}"
        else:
            problem = f"the schedule waited through a skipped step: epoch {epoch} uses lr {forced[epoch]!s}, the uninterrupted lr of "
            problem += f"epoch {epoch} is {plain[want]!s} (skipped before it: epochs {_epochs(skipped)})"
        same = np.flatnonzero(plain == forced[epoch])
        raise SkippedStepMismatch(problem + (f"; it is the uninterrupted lr of epoch {same[0]}" if same.size else ""))
