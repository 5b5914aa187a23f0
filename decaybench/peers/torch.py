r"""The torch peer: ``torch.optim.SGD`` with ``ExponentialLR``, or ``StepLR`` for a staircase.

What PyTorch computes (``torch/optim/lr_scheduler.py``): ``ExponentialLR.get_lr`` returns
``group["lr"] * gamma`` and ``StepLR`` does so when ``k % step_size == 0``: a float64 *running
product* :math:`\mathrm{lr}_k = \mathrm{lr}_{k-1}\gamma`, not the closed form
``base_lr * gamma ** k`` (used only when ``step(epoch)`` is given an epoch). Continuous decay with
``d > 1`` uses ``gamma = r ** (1 / d)``. ``SGD`` calls ``param.add_(grad, alpha=-lr)``, which
rounds ``lr`` to the parameter's dtype and, as measured, fuses ``w + alpha * g`` into one FMA.
The product drifts from ``initial * gamma ** k`` (hundreds of float64 ULP by a million steps,
never enough to change a float32 lr there) and never underflows to 0 (see :func:`running_product`).
"""

from __future__ import annotations

import numpy as np

from decaybench.config import DecayConfig
from decaybench.peers import import_library
from decaybench.schedule import Schedule
from decaybench.trace import Trace

__all__ = ["running_product", "schedule", "train", "version"]

# np.multiply.accumulate folds left to right, one rounding per step; chunks bound the memory.
_CHUNK = 1 << 20


def version(name: str) -> str:
    """torch's version; :class:`~decaybench.peers.PeerUnavailable` without it."""
    return f"torch {import_library(name, 'torch', 'torch').__version__}"


def running_product(steps: np.ndarray, initial: float, gamma: float, every: int = 1) -> np.ndarray:
    """What torch's chainable schedulers hold at ``steps``: ``lr_k = lr_{k-1} * gamma`` in float64.

    ``every`` is StepLR's ``step_size``: ``lr_k`` is ``initial`` times ``k // every`` factors
    ``gamma``, multiplied one at a time from the left. This is the float64 arithmetic of torch's
    ``group["lr"] * gamma`` (the tests check it against the real schedulers), done in NumPy
    chunks so that a step of 1e8 takes a fraction of a second and little memory. For ``gamma``
    in (0.5, 1) the product never reaches 0, where ``pow`` goes: it sticks in the subnormals at
    the first ``x`` with ``x * gamma`` rounding back to ``x`` (``49 * 2**-1074`` for 0.99).

    >>> running_product(np.array([0, 2, 3, 5]), 1.0, 0.5, every=2).tolist()
    [1.0, 0.5, 0.5, 0.25]
    """
    factors = np.asarray(steps, dtype=np.int64) // every
    wanted, where = np.unique(factors, return_inverse=True)
    values = np.empty(wanted.size, dtype=np.float64)
    carry, done, found = float(initial), 0, 0  # carry = initial * gamma**done, as a fold
    while found < wanted.size:
        count = min(_CHUNK, int(wanted[-1]) - done)
        chunk = np.full(count + 1, gamma)
        chunk[0] = carry
        with np.errstate(over="ignore"):  # overflow is inf, as in torch
            folded = np.multiply.accumulate(chunk)  # a sequential left fold: one rounding per factor
        inside = wanted[found:][wanted[found:] <= done + count]
        values[found : found + inside.size] = folded[inside - done]
        found += inside.size
        carry, done = float(folded[-1]), done + count
        if carry * gamma == carry:  # a fixed point (0, inf, or stuck in the subnormals): it stays
            values[found:] = carry
            break
    return values[where].reshape(np.shape(steps))


def _gamma(schedule: Schedule) -> tuple[float, int]:
    """``(gamma, step_size)``: StepLR(step_size=d, gamma=r) for staircase; ExponentialLR(gamma=r ** (1 / d)) otherwise."""
    rate, decay_steps = schedule.decay_rate, schedule.decay_steps
    return (rate, decay_steps) if schedule.staircase or decay_steps == 1 else (rate ** (1.0 / decay_steps), 1)


def schedule(name: str, schedule: Schedule, steps: np.ndarray) -> np.ndarray:
    """The lr torch's scheduler for ``schedule`` holds at each of ``steps`` (float64)."""
    gamma, every = _gamma(schedule)
    return running_product(steps, schedule.initial_learning_rate, gamma, every)


def train(name: str, config: DecayConfig) -> Trace:
    """The seed with ``torch.optim.SGD`` and its scheduler, one ``optimizer.step()`` per epoch."""
    import torch

    gamma, every = _gamma(config.schedule)
    w = torch.full((config.size,), config.w0, dtype=getattr(torch, config.dtype), requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=config.initial_learning_rate)
    schedulers = torch.optim.lr_scheduler
    scheduler = schedulers.ExponentialLR(optimizer, gamma) if every == 1 else schedulers.StepLR(optimizer, every, gamma)
    keep = set(config.recorded().tolist())
    ws, losses, lrs = [], [], []
    for epoch in range(config.epochs):
        optimizer.zero_grad()
        loss = torch.square(w + 1).sum()
        loss.backward()
        if epoch in keep:
            lrs.append(float(optimizer.param_groups[0]["lr"]))
        optimizer.step()
        scheduler.step()
        if epoch in keep:
            ws.append(w.detach().numpy().copy())
            losses.append(loss.detach().numpy().copy())
    return Trace(epoch=config.recorded(), w=np.stack(ws), loss=np.stack(losses), lr=np.asarray(lrs), config=config, mode=name)
