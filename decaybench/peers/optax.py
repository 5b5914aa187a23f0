"""The optax peer: ``optax.exponential_decay`` with ``optax.sgd``, one jitted ``lax.scan``.

What optax computes (``optax/schedules/_schedule.py``, ``exponential_decay``)::

    p = count / transition_steps                 # int32 count; XLA divides as count * f32(1/d)
    p = floor(p) if staircase else p
    lr = where(count <= 0, init_value, init_value * decay_rate ** p)      # float32

The multiplication by ``f32(1/d)`` rounds twice, so a staircase takes one decay too many even
below ``2**24`` (``d = 3``: from step 12_582_914 = 3 * 2**22 + 2). ``optax.sgd`` scales the
gradient by ``-lr`` and ``apply_updates`` adds it, which XLA fuses into one FMA (measured). The
count is int32 even with jax x64 enabled, so the schedule stays float32 for float64 parameters.

The like-for-like peer of our modes is :func:`optax_x64_schedule`: the same
``optax.exponential_decay`` fed a float64 count under jax x64, so that ``p`` and
``decay_rate ** p`` are float64 (XLA's float64 ``pow``, as mode ``xla``'s), rounded once to
float32 for ``optax.sgd``. Measured (``tests/test_peers.py``): on the seed and over 1e5 epochs its
float64 lr equals mode ``xla``'s bit for bit, and so do ``w`` and the loss (both fuse the update
into one FMA); against eager, ``w`` differs by 1 ULP at epochs 3-5, as optax's float32 run does.

The benchmarks time :func:`optax_scan` (jitted once) with either schedule, and vmap it over configs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from decaybench.config import DecayConfig
from decaybench.peers import import_library
from decaybench.schedule import Schedule
from decaybench.trace import Trace
from decaybench.validation import InvalidValue

__all__ = ["optax_epoch", "optax_scan", "optax_schedule", "optax_x64_scan", "optax_x64_schedule", "schedule", "train", "version"]

# optax counts steps in int32 (optax.numerics.safe_increment saturates there).
_INT32_MAX = 2**31 - 1


def version(name: str) -> str:
    """optax's and jax's versions; :class:`~decaybench.peers.PeerUnavailable` without them."""
    jax = import_library(name, "jax", "jax")
    optax = import_library(name, "optax", "optax")
    return f"optax {optax.__version__} (jax {jax.__version__})"


def optax_schedule(schedule: Schedule) -> Any:
    """``optax.exponential_decay`` for ``schedule``: ``count -> lr`` in float32."""
    import optax

    return optax.exponential_decay(
        schedule.initial_learning_rate,
        schedule.decay_steps,
        schedule.decay_rate,
        transition_begin=schedule.transition_begin,
        staircase=schedule.staircase,
        end_value=schedule.end_value,
    )


def optax_x64_schedule(schedule: Schedule) -> Any:
    """``count -> lr``: :func:`optax_schedule` evaluated in float64, rounded once to float32.

    The count is cast to float64, so ``p = count / transition_steps`` and ``decay_rate ** p`` are
    float64 as in :func:`decaybench.schedule.exponential_decay`. Trace and call it with jax x64
    enabled (:func:`optax_x64_scan` does); without, jax computes in float32.
    """
    import jax.numpy as jnp

    float64 = optax_schedule(schedule)
    return lambda count: float64(jnp.asarray(count, jnp.float64)).astype(jnp.float32)


def optax_x64_scan(config: DecayConfig) -> Callable[[Any], Any]:
    """``w0 -> (ws, losses, lrs)``: :func:`optax_scan` with :func:`optax_x64_schedule`, jitted once,
    each call under jax x64 (a thread-local context: x64 is back to its previous value after)."""
    import jax

    scan = jax.jit(optax_scan(optax_x64_schedule(config.schedule), config.epochs))

    def call(w0: Any) -> Any:
        with jax.enable_x64(True):
            return scan(w0)

    return call


def schedule(name: str, schedule: Schedule, steps: np.ndarray) -> np.ndarray:
    """optax's schedule at each of ``steps`` (at most int32's maximum): float32 values, as float64."""
    import jax
    import jax.numpy as jnp

    if steps.size and int(steps.max()) > _INT32_MAX:
        raise InvalidValue("steps", int(steps.max()), f"must be <= {_INT32_MAX}: optax counts steps in int32")
    # Jitted and scalar, as inside the jitted optax.sgd update of a training step.
    evaluate = jax.jit(optax_schedule(schedule))
    return np.array([float(evaluate(jnp.int32(step))) for step in steps.tolist()])


def optax_epoch(schedule: Any, optimizer: Any) -> Callable[[Any, Any], Any]:
    """One epoch of the seed with optax, as a ``lax.scan`` body.

    ``(w, state) -> ((w, state), (w, loss, lr))``: w after the update, the loss before it, and
    the lr ``optimizer`` (an ``optax.sgd(schedule)``) applies at this step.
    """
    import jax
    import jax.numpy as jnp
    import optax

    def epoch(carry: Any, _: Any) -> Any:
        w, state = carry
        lr = schedule(optax.tree_utils.tree_get(state, "count"))  # the value sgd applies below
        loss, grads = jax.value_and_grad(lambda w: jnp.sum(jnp.square(w + 1)))(w)
        updates, state = optimizer.update(grads, state, w)
        w = optax.apply_updates(w, updates)
        return (w, state), (w, loss, lr)

    return epoch


def optax_scan(schedule: Any, epochs: int) -> Callable[[Any], Any]:
    """``w0 -> (ws, losses, lrs)``: ``epochs`` epochs of :func:`optax_epoch` with ``optax.sgd(schedule)``
    in one ``lax.scan``, not jitted (the caller jits, vmaps or both)."""
    import jax
    import optax

    optimizer = optax.sgd(schedule)
    epoch = optax_epoch(schedule, optimizer)
    return lambda w: jax.lax.scan(epoch, (w, optimizer.init(w)), length=epochs)[1]


def train(name: str, config: DecayConfig) -> Trace:
    """The seed with ``optax.sgd(optax.exponential_decay(...))``; float64 under a local jax x64."""
    import jax

    if config.dtype == "float64":
        # A thread-local context: x64 is back to its previous value on exit, nothing leaks.
        with jax.enable_x64(True):
            return _train(name, config)
    return _train(name, config)


def _train(name: str, config: DecayConfig) -> Trace:
    import jax
    import jax.numpy as jnp

    w0 = jnp.full((config.size,), config.w0, dtype=config.dtype)
    ws, losses, lrs = jax.jit(optax_scan(optax_schedule(config.schedule), config.epochs))(w0)
    keep = config.recorded()
    return Trace(
        epoch=keep, w=np.asarray(ws)[keep], loss=np.asarray(losses)[keep], lr=np.asarray(lrs, np.float64)[keep], config=config, mode=name
    )
