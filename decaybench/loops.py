"""Running a configuration in a mode: ``run(config, mode) -> Trace``.

``MODES`` lists the modes in registry order; ``decaybench.modes.REGISTRY`` says what each does.

>>> MODES[0]
'eager'
"""

from __future__ import annotations

import os

from decaybench.config import DecayConfig
from decaybench.modes import REGISTRY
from decaybench.trace import Trace
from decaybench.validation import InvalidType, InvalidValue, check_choice

__all__ = ["MODES", "DecayConfig", "available_memory", "check_memory", "run"]

MODES: tuple[str, ...] = tuple(REGISTRY)

# A trace exists up to three times at the peak: the compiled loop's buffers, the stacked
# result, and the NumPy copy the Trace keeps.
PEAK_COPIES = 3
# Below this many bytes no machine refuses a trace, so a run skips reading /proc/meminfo
# (a tenth of a seed run's cost in the compiled modes).
ALWAYS_FITS = 64 * 2**20


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


def check_memory(config: DecayConfig) -> None:
    """Refuse, before running, a trace that cannot fit in memory; suggest ``record_every``."""
    needed = PEAK_COPIES * config.trace_bytes
    if needed <= ALWAYS_FITS:
        return
    available = available_memory()
    if needed > available:
        raise InvalidValue(
            "epochs",
            config.epochs,
            f"needs {needed:,} bytes to record {config.recorded_count:,} epochs of size {config.size}, more than the "
            f"{available:,} bytes available; record fewer with record_every (--record-every)",
        )


def run(config: DecayConfig | None = None, mode: str = "eager", progress: bool | None = None) -> Trace:
    """Train the seed problem described by ``config`` (default: the seed) in ``mode``.

    ``progress`` draws a bar on stderr for per-epoch Python loops that run longer than ~2 s:
    ``None`` (the default) when stderr is a terminal, ``True`` always, ``False`` never.

    Example:
        >>> trace = run()
        >>> trace.lines()[0]
        'After 0 epoch,w is 2.600000,loss is 36.000000,lr is 0.200000'
    """
    if config is None:
        config = DecayConfig()
    if not isinstance(config, DecayConfig):
        raise InvalidType("config", config, "must be a DecayConfig")
    check_choice("mode", mode, MODES)
    check_memory(config)
    return REGISTRY[mode].runner()(config, progress)
