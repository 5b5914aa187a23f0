"""``DecayConfig``: what to run. Its defaults are the seed's.

>>> DecayConfig()
DecayConfig(initial_learning_rate=0.2, decay_rate=0.99, decay_steps=1, staircase=False, epochs=40,
            w0=5.0, dtype='float32', size=1, record_every=1)
>>> DecayConfig(decay_steps=True)
Traceback (most recent call last):
...
decaybench.validation.InvalidType: decay_steps must be a positive integer, got True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from decaybench.validation import (
    check_choice,
    check_decay_rate,
    check_decay_steps,
    check_finite,
    check_initial_learning_rate,
    check_positive_int,
    check_staircase,
)

__all__ = ["DTYPES", "DecayConfig"]

DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class DecayConfig:
    """One training run of ``w -= lr(epoch) * d/dw sum((w + 1)**2)``.

    Attributes:
        initial_learning_rate, decay_rate, decay_steps, staircase: the schedule
            ``lr(e) = initial_learning_rate * decay_rate ** (e / decay_steps)``.
        epochs: number of updates; epoch ``e`` uses ``lr(e)``.
        w0: the starting value of every element of ``w``.
        dtype: ``"float32"`` (the seed's) or ``"float64"``.
        size: the number of elements of ``w``; the loss sums over them.
        record_every: keep every K-th epoch in the trace (plus the first and the last).
    """

    initial_learning_rate: float = 0.2
    decay_rate: float = 0.99
    decay_steps: int = 1
    staircase: bool = False
    epochs: int = 40
    w0: float = 5.0
    dtype: str = "float32"
    size: int = 1
    record_every: int = 1

    def __post_init__(self) -> None:
        checked = {
            "initial_learning_rate": check_initial_learning_rate(self.initial_learning_rate),
            "decay_rate": check_decay_rate(self.decay_rate),
            "decay_steps": check_decay_steps(self.decay_steps),
            "staircase": check_staircase(self.staircase),
            "epochs": check_positive_int("epochs", self.epochs),
            "w0": check_finite("w0", self.w0),
            "dtype": check_choice("dtype", self.dtype, DTYPES),
            "size": check_positive_int("size", self.size),
            "record_every": check_positive_int("record_every", self.record_every),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @property
    def recorded_count(self) -> int:
        """How many epochs the trace keeps (the length of :meth:`recorded`), without building it."""
        kept = (self.epochs - 1) // self.record_every + 1
        return kept + (0 if (self.epochs - 1) % self.record_every == 0 else 1)

    def recorded(self) -> np.ndarray:
        """The recorded epoch numbers, int64: 0, K, 2K, ... and always the last epoch.

        >>> DecayConfig(epochs=10, record_every=4).recorded().tolist()
        [0, 4, 8, 9]
        """
        kept = np.arange(0, self.epochs, self.record_every, dtype=np.int64)
        return kept if kept[-1] == self.epochs - 1 else np.append(kept, self.epochs - 1)

    @property
    def trace_bytes(self) -> int:
        """Bytes of the recorded trace: per row an int64 epoch, ``size`` w values, a loss, a float64 lr."""
        itemsize = np.dtype(self.dtype).itemsize
        return self.recorded_count * (8 + (self.size + 1) * itemsize + 8)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-ready)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecayConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"config has unknown keys {unknown}")
        return cls(**data)

    @property
    def is_seed(self) -> bool:
        """True when this is the course note's configuration (record_every aside)."""
        return dataclasses.replace(self, record_every=1) == DecayConfig()
