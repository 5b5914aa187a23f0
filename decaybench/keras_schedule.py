"""``ExponentialDecay``: the schedule as a Keras ``LearningRateSchedule``. Importing this module loads TensorFlow.

The class subclasses ``tf.keras.optimizers.schedules.LearningRateSchedule`` as resolved when this
module is imported: tf_keras's with ``TF_USE_LEGACY_KERAS=1`` (Keras 2), Keras 3's otherwise. It is
registered for serialization as ``decaybench>ExponentialDecay`` by its definition (and, before this module
is imported, by :mod:`decaybench.keras_registration`, so saved models load). Users reach it lazily as
``decaybench.ExponentialDecay``; the float64 reference it rounds is :mod:`decaybench.schedule`'s.

>>> import tensorflow as tf
>>> from decaybench.schedule import exponential_decay
>>> schedule = ExponentialDecay(0.2, 1, 0.99)
>>> float(schedule(1)) == float(np.float32(0.2 * 0.99))
True
>>> schedule = ExponentialDecay(0.1, 3, 0.96, staircase=True, dtype="float64")
>>> float(schedule(100)) == exponential_decay(100, 0.1, 3, 0.96, staircase=True)
True
>>> ExponentialDecay.from_config(schedule.get_config()).get_config() == schedule.get_config()
True
>>> sgd = tf.keras.optimizers.SGD(learning_rate=schedule)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from decaybench.schedule import Schedule
from decaybench.validation import INT64_MAX, InvalidType, InvalidValue, check_dtype, check_step

__all__ = ["ExponentialDecay"]


@tf.keras.utils.register_keras_serializable(package="decaybench")
class ExponentialDecay(tf.keras.optimizers.schedules.LearningRateSchedule):
    """The schedule as a Keras ``LearningRateSchedule``, exact in float64.

    ``lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps)``, evaluated in
    float64 from an int64 step (integer floor division when ``staircase``) and cast once to
    ``dtype``, so each value equals :func:`~decaybench.schedule.exponential_decay` correctly
    rounded to ``dtype``, ``transition_begin`` and ``end_value`` included (optax's semantics).
    Works with any ``tf.keras`` optimizer (Keras 2 or 3), in eager mode,
    inside ``tf.function`` and under XLA. The module's docstring has examples.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        dtype: str = "float32",
        name: str | None = None,
        transition_begin: int = 0,
        end_value: float | None = None,
    ) -> None:
        super().__init__()
        self.schedule = Schedule(initial_learning_rate, decay_steps, decay_rate, staircase, transition_begin, end_value)
        self.initial_learning_rate = self.schedule.initial_learning_rate
        self.decay_steps = self.schedule.decay_steps
        self.decay_rate = self.schedule.decay_rate
        self.staircase = self.schedule.staircase
        self.transition_begin = self.schedule.transition_begin
        self.end_value = self.schedule.end_value
        self.dtype = check_dtype(dtype)
        if name is not None and not isinstance(name, str):
            raise InvalidValue("name", name, "must be a string or None")
        self.name = name

    # No tensor-dependent Python control flow to convert: AutoGraph would only add tracing work.
    @tf.autograph.experimental.do_not_convert
    def __call__(self, step: Any) -> tf.Tensor:
        with tf.name_scope(self.name or "ExponentialDecay"):
            if isinstance(step, (int, float, np.generic, np.ndarray)):  # not tensors, nor Keras variables
                # Checked as the reference checks it, before TensorFlow converts it: a Python int past
                # int64 is refused naming the step, and a Python float stays float64 (not float32).
                checked = check_step(step)
                step = tf.constant(checked, tf.float64) if isinstance(checked, float) else tf.convert_to_tensor(checked)
            else:
                step = tf.convert_to_tensor(step)
            if step.dtype.is_bool or not (step.dtype.is_integer or step.dtype.is_floating):
                raise InvalidType("step", step, "must be an integer or floating tensor")
            if tf.executing_eagerly():
                check_step(step.numpy())
            elif step.dtype == tf.uint64:  # a uint64 past int64 would wrap negative in the int64 cast
                limit = tf.constant(INT64_MAX, tf.uint64)
                with tf.control_dependencies([tf.debugging.assert_less_equal(step, limit, message=f"step must be at most {INT64_MAX}")]):
                    step = tf.identity(step)
            return tf.cast(self.schedule.tf_lr(step), self.dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "dtype": self.dtype,
            "name": self.name,
            # optax's options, only when set: a config with the defaults has Keras's keys only, and loads in older decaybench.
            **({"transition_begin": self.transition_begin} if self.transition_begin else {}),
            **({"end_value": self.end_value} if self.end_value is not None else {}),
        }
