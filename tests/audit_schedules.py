"""Four schedules for ``tests/test_audit.py``, importable by name as a user's module is (``tests.audit_schedules:NAME``).

Each is a factory (a callable with no arguments returning a schedule), so every fresh copy the
audit makes starts in its initial state. Importing this module loads TensorFlow.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

keras = tf.keras
PERIOD = 2**20  # at 2**24 the lr is lr0 / 2**16 and moves about 11 float32 ULPs a step: big steps are visible


def halving(step: int, initial_learning_rate: float = 0.1, period: int = PERIOD) -> float:
    """The float64 formula of :class:`Halving`: ``lr0 * 0.5 ** (step / period)``."""
    return initial_learning_rate * 0.5 ** (step / period)


@keras.utils.register_keras_serializable(package="decaybench_audit_tests")
class Halving(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """Correct: the formula in float64 from the int64 step (exact below 2**53), rounded once to float32."""

    def __init__(self, initial_learning_rate: float = 0.1, period: int = PERIOD) -> None:
        self.initial_learning_rate = initial_learning_rate
        self.period = period

    def __call__(self, step: Any) -> Any:
        exponent = tf.cast(step, tf.float64) / tf.constant(self.period, tf.float64)
        return tf.cast(self.initial_learning_rate * tf.pow(tf.constant(0.5, tf.float64), exponent), tf.float32)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "period": self.period}


@keras.utils.register_keras_serializable(package="decaybench_audit_tests")
class Forgetful(Halving):
    """``Halving`` whose ``get_config`` leaves out ``period``: a copy gets the default period."""

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate}


@keras.utils.register_keras_serializable(package="decaybench_audit_tests")
class Counting(Halving):
    """``Halving`` at its own count of calls, kept in Python, believing each call is a step."""

    def __init__(self, initial_learning_rate: float = 0.1, period: int = PERIOD) -> None:
        super().__init__(initial_learning_rate, period)
        self.calls = 0

    def __call__(self, step: Any) -> Any:
        self.calls += 1
        return super().__call__(tf.constant(self.calls - 1, tf.int64))


def correct() -> Halving:
    return Halving(0.1, period=PERIOD)


def forgetful() -> Forgetful:
    return Forgetful(0.1, period=1000)  # the default period is PERIOD


def counting() -> Counting:
    return Counting(0.1, period=1000)


def keras_exponential() -> Any:
    """Keras's own ``ExponentialDecay``: the step in float32, so 2**24 + 1 is 2**24."""
    return keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=PERIOD, decay_rate=0.5)
