"""Running a configuration in a mode: ``run(config, mode) -> Trace``.

``MODES`` lists the modes in registry order; ``decaybench.modes.REGISTRY`` says what each does.

>>> MODES[0]
'eager'
"""

from __future__ import annotations

from decaybench.config import DecayConfig
from decaybench.modes import REGISTRY
from decaybench.trace import Trace
from decaybench.validation import InvalidType, check_choice

__all__ = ["MODES", "DecayConfig", "run"]

MODES: tuple[str, ...] = tuple(REGISTRY)


def run(config: DecayConfig | None = None, mode: str = "eager") -> Trace:
    """Train the seed problem described by ``config`` (default: the seed) in ``mode``.

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
    return REGISTRY[mode].runner()(config)
