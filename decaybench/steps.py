r"""Several optimizer steps per epoch: what ``model.fit`` users get, and the schedule they need.

With ``steps_per_epoch = S`` each epoch runs ``S`` updates on the same sample. The two Keras
ways to decay the rate then differ:

* an optimizer schedule (mode ``fit``) counts *steps*: update ``j`` of epoch ``e`` applies
  ``lr(e S + j)``;
* ``LearningRateScheduler`` (mode ``callback``) counts *epochs*: every update of epoch ``e``
  applies ``lr(e)``.

Which modes run several steps, and what each counts, is its
:attr:`~decaybench.modes.ModeSpec.several_steps`.

The seed decays once per epoch (``LR_STEP = 1``). Through an optimizer schedule that takes
``decay_steps = S * LR_STEP`` and ``staircase=True``: then ``floor((e S + j) / (S L)) = floor(e / L)``
for every ``0 <= j < S``, so each update of epoch ``e`` applies ``lr0 * r ** floor(e / L)``, the
callback's rate whenever ``e / L`` is whole (always with ``L = 1``).

>>> from decaybench.config import DecayConfig
>>> config = DecayConfig(epochs=3, steps_per_epoch=2)
>>> step_lrs(config, "fit").round(4).tolist()
[[0.2, 0.198], [0.196, 0.1941], [0.1921, 0.1902]]
>>> step_lrs(config, "callback").round(4).tolist()
[[0.2, 0.2], [0.198, 0.198], [0.196, 0.196]]
>>> step_lrs(per_epoch_schedule(config), "fit").round(4).tolist()
[[0.2, 0.2], [0.198, 0.198], [0.196, 0.196]]
"""

from __future__ import annotations

import dataclasses

import numpy as np

from decaybench.config import DecayConfig
from decaybench.modes import REGISTRY
from decaybench.trace import Trace

__all__ = ["per_epoch_schedule", "schedule_steps", "several_steps", "side_by_side", "step_lrs"]


def several_steps(modes: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Those of ``modes`` (default: all) that run ``steps_per_epoch > 1``; every other mode refuses it.

    >>> several_steps()
    ('fit', 'callback')
    """
    return tuple(mode for mode in (modes if modes is not None else REGISTRY) if REGISTRY[mode].several_steps is not None)


def _lr(config: DecayConfig, steps: np.ndarray) -> np.ndarray:
    return np.asarray(config.schedule.lr(steps), dtype=np.float64)


def step_lrs(config: DecayConfig, mode: str) -> np.ndarray:
    """The float64 rate of each update, ``[epochs, S]``: ``lr(e S + j)`` for ``fit``, ``lr(e)`` for ``callback``."""
    if mode not in several_steps():
        raise ValueError(f"mode must be one of {', '.join(several_steps())}, got {mode!r}")
    size = config.steps_per_epoch
    epochs = np.arange(config.epochs, dtype=np.int64)
    if REGISTRY[mode].several_steps == "epochs":
        return np.repeat(_lr(config, epochs)[:, np.newaxis], size, axis=1)
    return _lr(config, epochs[:, np.newaxis] * size + np.arange(size, dtype=np.int64)).reshape(config.epochs, size)


def schedule_steps(config: DecayConfig, mode: str) -> list[list[int]]:
    """``steps[e]``: the schedule steps epoch ``e``'s updates evaluate (for :func:`decaybench.oracle.exact_trajectory`)."""
    size = config.steps_per_epoch
    if REGISTRY[mode].several_steps == "epochs":
        return [[epoch] * size for epoch in range(config.epochs)]
    return [list(range(epoch * size, (epoch + 1) * size)) for epoch in range(config.epochs)]


def per_epoch_schedule(config: DecayConfig) -> DecayConfig:
    """``config`` with ``decay_steps = S * decay_steps`` and ``staircase=True``: an optimizer
    schedule that decays once per epoch, as the callback does."""
    return dataclasses.replace(config, decay_steps=config.steps_per_epoch * config.decay_steps, staircase=True)


def side_by_side(fit: Trace, callback: Trace) -> tuple[str, ...]:
    """Per recorded epoch, the rate of its first update: ``fit``'s, the callback's, and what
    ``fit`` applies with :func:`per_epoch_schedule`; then how often each equals the callback's."""
    config = fit.config
    steps = config.steps_per_epoch
    fixed = per_epoch_schedule(config)
    fixed_lr = _lr(fixed, fit.epoch * steps)
    dtype = np.dtype(config.dtype)
    lines = [
        f"steps per epoch {steps}: the lr of each epoch's first update",
        f"{'epoch':>7}  {'fit':>10}  {'callback':>10}  {'fit, decay_steps=' + str(fixed.decay_steps) + ', staircase':>30}",
    ]
    lines += [
        f"{epoch:>7}  {a:>10.6f}  {b:>10.6f}  {c:>30.6f}"
        for epoch, a, b, c in zip(fit.epoch.tolist(), fit.lr, callback.lr, fixed_lr, strict=True)
    ]
    # Compared in the run's dtype: the rate each update actually multiplies by.
    same = int(np.sum(fit.lr.astype(dtype) == callback.lr.astype(dtype)))
    fixed_same = int(np.sum(fixed_lr.astype(dtype) == callback.lr.astype(dtype)))
    lines.append(
        f"fit applies the callback's lr at {same}/{len(fit)} epochs; with decay_steps = {steps} * {config.decay_steps} "
        f"and staircase=True at {fixed_same}/{len(fit)}"
    )
    return tuple(lines)
