"""decaybench: the reference for exponential-decay learning-rate schedules in TensorFlow 2.

``lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase``
the exponent is ``step // decay_steps``. Data flows one way::

    DecayConfig -> run(config, mode) -> Trace -> checks (golden, oracle, cross-mode) -> report

Names are imported on first use, so ``import decaybench`` does not load TensorFlow.

>>> import decaybench
>>> decaybench.exponential_decay(2, 0.2, 1, 0.99) == 0.2 * 0.99 ** 2
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decaybench.config import DecayConfig
    from decaybench.keras_schedule import ExponentialDecay
    from decaybench.loops import MODES, run
    from decaybench.modes.exact import exact_update
    from decaybench.schedule import exponential_decay
    from decaybench.trace import Trace

from decaybench import keras_registration

# Saved models using decaybench.ExponentialDecay then load without custom_objects; TensorFlow stays unloaded.
keras_registration.install()

__all__ = ["MODES", "DecayConfig", "ExponentialDecay", "Trace", "exact_update", "exponential_decay", "run"]
__version__ = "0.1.0"

_HOMES = {
    "DecayConfig": "decaybench.config",
    "MODES": "decaybench.loops",
    "run": "decaybench.loops",
    "ExponentialDecay": "decaybench.keras_schedule",  # importing it loads TensorFlow: only on first use
    "exponential_decay": "decaybench.schedule",
    "exact_update": "decaybench.modes.exact",
    "Trace": "decaybench.trace",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'decaybench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
