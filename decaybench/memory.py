r"""The one memory check: what a run, ``verify`` or ``plot`` will allocate, refused up front if it cannot fit.

A path's peak is a :class:`Footprint`, three sums of bytes that a user can shrink with three flags:

.. math::

    \text{bytes} = \underbrace{E \cdot b_\text{epoch}}_{\text{--epochs}}
                 + \underbrace{R \cdot b_\text{row}}_{\text{--record-every}}
                 + \underbrace{R \cdot n \cdot b_\text{element}}_{\text{--size}}

with ``E`` epochs (times ``steps_per_epoch`` where a mode keeps a value per update), ``R`` recorded
rows and ``n = size``. The constants were measured with ``tracemalloc`` (``tests/test_memory.py``
holds each one above what it measures): a recorded row of a trace is 24 bytes at ``size=1``
float32, and a trace exists :data:`PEAK_COPIES` times at the peak; the per-epoch Python loops keep
each row as NumPy objects first (800-1,000 bytes); the ``numpy`` mode evaluates the schedule of
every epoch as arrays (about 64 bytes an epoch, whatever ``record_every``); the exact oracle of
``verify`` keeps three 128-bit mpmath numbers an epoch (about 740 bytes).

>>> check_memory(DecayConfig(epochs=10**13))
Traceback (most recent call last):
...
decaybench.validation.InvalidValue: epochs needs 10,760,000,000,000,000 bytes to run mode eager ...
>>> footprint(DecayConfig(epochs=10**10, record_every=10**9), ["numpy"]).per_epoch
800000000000
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from decaybench.config import DecayConfig
from decaybench.modes import REGISTRY, update_orders
from decaybench.validation import InvalidValue

__all__ = ["ALWAYS_FITS", "PEAK_COPIES", "Footprint", "available_memory", "check_memory", "footprint", "require_memory"]

Task = Literal["run", "verify", "plot"]

# A trace exists up to three times at the peak: the compiled loop's buffers, the stacked
# result, and the NumPy copy the Trace keeps.
PEAK_COPIES = 3
# Below this many bytes no machine refuses a run, so it skips reading /proc/meminfo
# (a tenth of a seed run's cost in the compiled modes).
ALWAYS_FITS = 64 * 2**20

# Bytes per recorded row that the per-epoch Python loops hold as NumPy objects before stacking
# (modes._scaffold.recording.Recorder: a w array, a 0-d loss array, a float and three list slots). A 400-epoch
# run of mode function peaked at 810 bytes a row under TF 2.21 / NumPy 2.4 and 940-970 under
# TF 2.15 / NumPy 1.26 (tests/test_memory.py, in every tox env).
RECORDER_ROW = 1000
# Bytes per epoch of the schedule evaluated as arrays (int64 steps and their copies, the float64
# exponent, an object array of Python floats from pow, the float64 lrs); measured 64-72.
SCHEDULE_EPOCH = 80
# Bytes per epoch of verify's exact oracle: three mpmath numbers (w, loss, lr); measured 710-740.
ORACLE_EPOCH = 800
# Bytes per update of steps.schedule_steps' lists of step numbers (the oracle's input, modes fit/callback).
STEP_LIST = 48
# Bytes per row and per mode that plot draws: matplotlib keeps float64 x and y per line and its path.
PLOT_ROW = 256


@dataclass(frozen=True)
class Footprint:
    """Peak bytes, split by the flag that shrinks them: ``--epochs``, ``--record-every``, ``--size``."""

    per_epoch: int = 0
    per_row: int = 0
    per_element: int = 0

    @property
    def total(self) -> int:
        return self.per_epoch + self.per_row + self.per_element

    def __add__(self, other: Footprint) -> Footprint:
        return Footprint(self.per_epoch + other.per_epoch, self.per_row + other.per_row, self.per_element + other.per_element)

    def times(self, count: int) -> Footprint:
        """``count`` of these alive at once."""
        return Footprint(self.per_epoch * count, self.per_row * count, self.per_element * count)


def available_memory() -> int:
    """Bytes the kernel says a new allocation can take (MemAvailable), else physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def _trace(config: DecayConfig, copies: int = 1) -> Footprint:
    # Config.trace_bytes split: per row an int64 epoch, a loss and a float64 lr; per element a w value.
    itemsize = np.dtype(config.dtype).itemsize
    rows = config.recorded_count
    return Footprint(0, copies * rows * (8 + itemsize + 8), copies * rows * config.size * itemsize)


def _run(config: DecayConfig, mode: str) -> Footprint:
    """One run of ``mode``: its trace copies plus what its :class:`~decaybench.modes.ModeSpec` says it keeps
    besides: its rows as objects (``keeps_rows``), the schedule of every epoch or update (``schedule_arrays``)."""
    spec = REGISTRY.get(mode)
    if spec is None:
        raise ValueError(f"decaybench.memory does not know what mode {mode!r} allocates: it is no mode of decaybench.modes.REGISTRY")
    result = _trace(config, PEAK_COPIES)
    if spec.keeps_rows:
        result += Footprint(0, config.recorded_count * RECORDER_ROW, config.recorded_count * config.size * np.dtype(config.dtype).itemsize)
    if spec.schedule_arrays is not None:
        updates = config.epochs * (config.steps_per_epoch if spec.schedule_arrays == "update" else 1)
        result += Footprint(updates * SCHEDULE_EPOCH)
    return result


def _verify(config: DecayConfig, modes: Sequence[str]) -> Footprint:
    """The emulation of record in each update order of the modes, the bounds' emulation (every epoch,
    size 1), the exact oracle, then each mode run twice (both traces alive) and tf.keras's own
    schedule, the comparisons kept."""
    updates = config.epochs * config.steps_per_epoch
    bound_config = DecayConfig(epochs=config.epochs, dtype=config.dtype)
    emulations = len(update_orders(modes, config.size, config.dtype))
    kept = (
        _run(config, "numpy").times(emulations)
        + _run(bound_config, "numpy")
        + Footprint(config.epochs * ORACLE_EPOCH + updates * STEP_LIST)
    )
    kept += Footprint(config.epochs * SCHEDULE_EPOCH, len(modes) * 4 * 8 * config.recorded_count)  # bounds, comparisons
    worst = max((_run(config, mode) for mode in (*modes, "keras")), key=lambda need: need.total)
    return kept + worst + _trace(config)


def _plot(config: DecayConfig, modes: Sequence[str]) -> Footprint:
    """Every mode's trace kept, the peak of the largest run, the emulation and the drawn lines."""
    kept = _trace(config, len(modes)) + _run(config, "numpy") + Footprint(config.epochs * SCHEDULE_EPOCH)
    worst = max((_run(config, mode) for mode in modes), key=lambda need: need.total)
    return kept + worst + Footprint(0, (len(modes) + 2) * PLOT_ROW * config.recorded_count)


def footprint(config: DecayConfig, modes: Sequence[str] = ("eager",), task: Task = "run") -> Footprint:
    """The peak bytes of ``task`` (``run``: the one mode of ``modes``) on ``config``."""
    if task == "verify":
        return _verify(config, modes)
    if task == "plot":
        return _plot(config, modes)
    return max((_run(config, mode) for mode in modes), key=lambda need: need.total)


def require_memory(needed: int, argument: str, value: object, what: str, advice: str = "") -> None:
    """Refuse ``needed`` bytes beyond what is available: an :class:`InvalidValue` naming ``argument``,
    ``value``, the bytes needed ``what`` for, the bytes available, then ``advice``."""
    if needed <= ALWAYS_FITS:
        return
    available = available_memory()
    if needed > available:
        tail = f"; {advice}" if advice else ""
        raise InvalidValue(argument, value, f"needs {needed:,} bytes {what}, more than the {available:,} bytes available{tail}")


def check_memory(config: DecayConfig, modes: str | Sequence[str] = "eager", task: Task = "run") -> None:
    """Refuse, before any work, a ``task`` whose :func:`footprint` cannot fit in memory.

    The error names the flag that can make it fit: ``epochs`` when what a path keeps per epoch
    (the ``numpy`` mode, ``verify``'s oracle) is most of it or alone too much, ``size`` for wide
    rows, else ``epochs`` with the advice to record fewer rows (``record_every``).
    """
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    need = footprint(config, modes, task)
    if need.total <= ALWAYS_FITS:
        return
    what = f"to {task} mode{'s' if len(modes) > 1 else ''} {', '.join(modes)}"
    rows = f"{config.recorded_count:,} recorded epochs of size {config.size:,}"
    if 2 * need.per_epoch >= need.total or need.per_epoch > available_memory():
        require_memory(need.total, "epochs", config.epochs, what, "it keeps data for every epoch, whatever record_every; run fewer epochs")
    elif need.per_element > need.per_row:
        require_memory(need.total, "size", config.size, f"{what} ({rows})", "use a smaller size")
    else:
        require_memory(need.total, "epochs", config.epochs, f"{what} ({rows})", "record fewer with record_every (--record-every)")
