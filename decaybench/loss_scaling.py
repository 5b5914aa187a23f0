"""Keras's mixed-precision policies and dynamic loss scaling, as data: no TensorFlow here.

Under ``mixed_float16`` Keras keeps the variables in float32, computes in float16 and wraps the
optimizer in a ``LossScaleOptimizer``. Each step multiplies the loss by the scale ``s``, checks the
gradients, and then::

    finite:      g = g_s / s; apply g;   counter == 1999 ? (s, counter) = (2 s, 0) : counter += 1
    not finite:  skip the update;        (s, counter) = (s / 2, 0)      # tf_keras: max(s / 2, 1)

from ``s = 2**15``. The two Keras versions differ in what a skipped step does to the optimizer's
``iterations``, which is the step a schedule is evaluated at (:class:`KerasFlavour`):

* Keras 3 (``keras/src/optimizers/loss_scale_optimizer.py``) leaves it: the inner optimizer is not
  called, so the schedule waits through the skipped steps;
* tf_keras (Keras 2, ``LossScaleOptimizerV3.apply_gradients``' ``do_not_apply_fn``) adds 1: the
  schedule moves on.

>>> keras3, keras2 = KerasFlavour("Keras 3.15.1", 3), KerasFlavour("tf_keras 2.21.0", 2)
>>> state = LossScale()
>>> [state.update(False, keras2) or float(state.scale) for _ in range(3)], state.counter
([16384.0, 8192.0, 4096.0], 0)
>>> keras3.advances_on_skip, keras2.advances_on_skip
(False, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decaybench.rounding import flush_subnormals as ftz

__all__ = ["COMPUTE_DTYPES", "GROWTH_STEPS", "INITIAL_SCALE", "KerasFlavour", "LossScale", "Scaling", "scales_loss"]

# Each policy's compute dtype; the variables (and the schedule's lr) stay float32.
COMPUTE_DTYPES = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}
# Both Keras versions' defaults (Keras 3 LossScaleOptimizer, tf_keras _DEFAULT_INITIAL_SCALE / _GROWTH_STEPS).
INITIAL_SCALE = 2.0**15
GROWTH_STEPS = 2000


def scales_loss(policy: str | None) -> bool:
    """Whether ``compile`` wraps the optimizer in a ``LossScaleOptimizer``: only under ``mixed_float16``
    (bfloat16 has float32's exponent range, so Keras does not scale its loss).

    >>> scales_loss("mixed_float16"), scales_loss("mixed_bfloat16"), scales_loss(None)
    (True, False, False)
    """
    return policy == "mixed_float16"


@dataclass(frozen=True)
class KerasFlavour:
    """The Keras that runs: ``name`` (with its version) and its ``major`` version, 2 (tf_keras) or 3."""

    name: str
    major: int

    @property
    def advances_on_skip(self) -> bool:
        """Whether a skipped step advances ``iterations`` (so the schedule): tf_keras yes, Keras 3 no."""
        return self.major == 2

    @property
    def semantics(self) -> str:
        """The counting semantics in words."""
        verb = "advance" if self.advances_on_skip else "do not advance"
        return f"{self.name}: skipped steps {verb} iterations"

    def to_dict(self) -> dict[str, Any]:
        return {"keras": self.name, "skipped_steps_advance_iterations": self.advances_on_skip}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KerasFlavour:
        name, advances = data["keras"], data["skipped_steps_advance_iterations"]
        if not isinstance(name, str) or not isinstance(advances, bool):
            raise ValueError(f"keras must be a string and skipped_steps_advance_iterations a bool, got {data!r}")
        return cls(name, 2 if advances else 3)


@dataclass
class LossScale:
    """The dynamic loss scale's state: ``scale`` (float32) and ``counter``, updated after each step's finite check."""

    scale: np.float32 = field(default_factory=lambda: np.float32(INITIAL_SCALE))
    counter: int = 0

    def update(self, finite: bool, keras: KerasFlavour) -> None:
        """One step's update, as the module doc writes it (float32 products, flushed as TensorFlow's CPU kernels flush)."""
        if finite:
            grown = self.counter + 1 >= GROWTH_STEPS
            doubled = ftz(self.scale * np.float32(2))
            # tf_keras assigns the doubled scale only when it is finite (_assign_if_finite).
            self.scale = np.float32(doubled) if grown and (keras.major == 3 or np.isfinite(doubled)) else self.scale
            self.counter = 0 if grown else self.counter + 1
            return
        halved = ftz(self.scale * np.float32(0.5)) if keras.major == 3 else np.maximum(ftz(self.scale / np.float32(2)), np.float32(1))
        self.scale, self.counter = np.float32(halved), 0


@dataclass(frozen=True, eq=False)
class Scaling:
    """Per recorded epoch of a run whose loss Keras scales: whether a step of the epoch was ``skipped``
    (non-finite gradients, no update), the ``loss_scale`` after the epoch, the optimizer's ``iterations``
    after it, and the ``keras`` that ran (its counting semantics); ``skipped_steps`` counts the run's
    skipped steps, recorded or not."""

    skipped: np.ndarray
    loss_scale: np.ndarray
    iterations: np.ndarray
    keras: KerasFlavour
    skipped_steps: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "skipped", np.asarray(self.skipped, dtype=bool))
        object.__setattr__(self, "loss_scale", np.asarray(self.loss_scale, dtype=np.float32))
        object.__setattr__(self, "iterations", np.asarray(self.iterations, dtype=np.int64))
        if not len(self.skipped) == len(self.loss_scale) == len(self.iterations):
            raise ValueError("Scaling's skipped, loss_scale and iterations must have one value per recorded epoch")

    def same(self, other: Scaling | None) -> bool:
        """Whether ``other`` records the same skips, scales, iterations and Keras."""
        arrays = ("skipped", "loss_scale", "iterations")
        same = other is not None and self.keras == other.keras and self.skipped_steps == other.skipped_steps
        return same and all(np.array_equal(getattr(self, a), getattr(other, a)) for a in arrays)

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields: ``skipped``, ``loss_scale`` (exact: powers of two), ``iterations`` and ``loss_scaling``."""
        return {
            "skipped": self.skipped.tolist(),
            "loss_scale": [float(scale) for scale in self.loss_scale],
            "iterations": self.iterations.tolist(),
            "loss_scaling": {**self.keras.to_dict(), "skipped_steps": self.skipped_steps},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scaling:
        skipped, iterations = data["skipped"], data["iterations"]
        if not all(type(value) is bool for value in skipped) or not all(type(value) is int for value in iterations):
            raise ValueError("skipped must hold booleans and iterations integers")
        count = data["loss_scaling"]["skipped_steps"]
        if type(count) is not int:
            raise ValueError(f"skipped_steps must be an integer, got {count!r}")
        scales = np.asarray(data["loss_scale"], dtype=np.float64)
        return cls(skipped, scales, iterations, KerasFlavour.from_dict(data["loss_scaling"]), count)

    KEYS = ("skipped", "loss_scale", "iterations", "loss_scaling")
