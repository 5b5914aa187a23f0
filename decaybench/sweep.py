"""``run_sweep``: many configurations of one shape, vectorised over them, in compiled calls of a quarter second.

The configurations share ``epochs``, ``dtype``, ``size`` and ``record_every`` (the shape of the
compiled loop) and may differ in everything else: ``initial_learning_rate``, ``decay_rate``,
``decay_steps``, ``staircase`` and ``w0``. The sweep runs the very loop of its mode on a
``[configs, size]`` ``w`` (:mod:`decaybench.sweep_loops`), so each configuration's trace is
bit for bit the trace of ``run(config, mode)`` (``tests/test_sweep.py``), in chunks of epochs
as a long run is (:mod:`decaybench.modes._scaffold.chunks`): Ctrl-C and SIGTERM stop it between two.

Only ``xla`` and ``xla-exact`` (the same loop with the products kept rounded and the loss
summed in Eigen's order, :mod:`decaybench.modes.exact`) are offered. XLA's ``pow`` on a vector
is the C library's ``pow`` element by element, as on a scalar; TensorFlow's kernel outside XLA computes a vector ``pow`` with Eigen's
``generic_pow``, which differs from ``pow`` in about 45% of float64 cases, so a ``graph`` sweep
could not equal ``graph`` runs.

>>> from decaybench.config import DecayConfig
>>> run_sweep([DecayConfig(epochs=3), DecayConfig(epochs=4)])
Traceback (most recent call last):
...
decaybench.validation.InvalidValue: configs[1].epochs must equal configs[0].epochs (3): a sweep shares epochs, dtype, size and ..., got 4
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from decaybench.config import DecayConfig
from decaybench.memory import footprint, require_memory
from decaybench.modes import BUILTIN
from decaybench.modes._scaffold.chunks import chunk_length, spans, step_cost
from decaybench.progress import epoch_bar
from decaybench.schedule import loop_columns
from decaybench.trace import Trace
from decaybench.validation import InvalidType, InvalidValue

__all__ = ["SHARED", "run_sweep", "sweep_modes"]

# The fields that fix the compiled loop's shapes.
SHARED = ("epochs", "dtype", "size", "record_every")


def sweep_modes() -> tuple[str, ...]:
    """The modes a sweep runs: those whose :class:`~decaybench.modes.ModeSpec` says ``sweep``.

    decaybench's own only: the vectorised loops below are theirs (a declared mode cannot say ``sweep``).

    >>> sweep_modes()
    ('xla', 'xla-exact')
    """
    return tuple(name for name, spec in BUILTIN.items() if spec.sweep)


def _checked(configs: Sequence[DecayConfig], mode: str) -> tuple[DecayConfig, ...]:
    if isinstance(configs, (str, bytes, DecayConfig)) or not isinstance(configs, Sequence):
        raise InvalidType("configs", configs, "must be a sequence of DecayConfig")
    if not configs:
        raise InvalidValue("configs", configs, "must hold at least one DecayConfig")
    for index, config in enumerate(configs):
        if not isinstance(config, DecayConfig):
            raise InvalidType(f"configs[{index}]", config, "must be a DecayConfig")
    if mode not in sweep_modes():
        raise InvalidValue(
            "mode",
            mode,
            f"must be {' or '.join(sweep_modes())}: only XLA's vector pow is the C library's pow, "
            "so only an xla sweep equals its single runs",
        )
    first = configs[0]
    for index, config in enumerate(configs[1:], start=1):
        for name in SHARED:
            if getattr(config, name) != getattr(first, name):
                raise InvalidValue(
                    f"configs[{index}].{name}",
                    getattr(config, name),
                    f"must equal configs[0].{name} ({getattr(first, name)}): a sweep shares {', '.join(SHARED[:-1])} and {SHARED[-1]}",
                )
    needed = len(configs) * footprint(first, (mode,)).total  # each cell's trace copies, as one run of the mode
    require_memory(needed, "configs", f"<{len(configs)} configs>", "for their traces", "record fewer with record_every")
    return tuple(configs)


def _sweep_rows(*args: Any) -> tuple[Any, ...]:
    from decaybench.sweep_loops import sweep_rows  # loads TensorFlow

    return sweep_rows(*args)


def run_sweep(configs: Sequence[DecayConfig], mode: str = "xla") -> list[Trace]:
    """Run every configuration of ``configs`` in compiled calls of about a quarter second each (Ctrl-C
    and SIGTERM stop it between two); one :class:`Trace` each.

    Args:
        configs: one or more :class:`DecayConfig` with equal ``epochs``, ``dtype``, ``size`` and
            ``record_every``.
        mode: ``"xla"`` or ``"xla-exact"`` (the modes a sweep can reproduce exactly; see the module
            doc). ``"xla-exact"`` cells also equal ``run(configs[i], "eager")`` bit for bit.

    Returns:
        ``traces[i]`` equal, bit for bit, to ``run(configs[i], mode)``, mode included.

    Raises:
        InvalidType: ``configs`` is not a sequence of :class:`DecayConfig`.
        InvalidValue: no configs, configs of different shapes, another mode, or traces that
            cannot fit in memory; the message names the argument and the value.
    """
    configs = _checked(configs, mode)
    first = configs[0]
    w: Any = np.stack([np.full(first.size, config.w0, dtype=first.dtype) for config in configs])
    columns = [loop_columns(config.schedule) for config in configs]
    integers = np.array([integer for integer, _ in columns], dtype=np.int64)
    floats = np.array([real for _, real in columns], dtype=np.float64)
    count, dtype = first.recorded_count, np.dtype(first.dtype)
    rows = np.empty((count, len(configs), first.size), dtype), np.empty((count, len(configs)), dtype), np.empty((count, len(configs)))
    # Chunks of about CHUNK_SECONDS, sized as one run of the whole batch's elements: Ctrl-C stops between two.
    length = chunk_length(dataclasses.replace(first, size=first.size * len(configs)), step_cost(mode))
    with epoch_bar(first.epochs, False, "sweep") as bar:  # disabled, it still raises a pending Ctrl-C
        for begin, end in spans(0, first.epochs, None, length):
            low, high = first.recorded_before(begin), first.recorded_before(end)
            *out, w = _sweep_rows(mode, w, first, integers, floats, begin, end)
            for array, part in zip(rows, out, strict=True):
                array[low:high] = part
            bar.update(end - begin)
    # Rows are [row, config, ...]: one transposing copy makes every config's rows contiguous.
    w, loss, lr = (np.ascontiguousarray(np.moveaxis(array, 1, 0)) for array in rows)
    epoch = first.recorded()
    return [Trace(epoch=epoch, w=w[i], loss=loss[i], lr=lr[i], config=config, mode=mode) for i, config in enumerate(configs)]
