r"""The exponential-decay schedule: one float64 reference and one TensorFlow implementation.

.. math::

    \mathrm{lr}(s) = \mathrm{lr}_0 \cdot r^{\,p(s)}, \qquad
    p(s) = s / d \ \text{(continuous)} \quad\text{or}\quad p(s) = \lfloor s / d \rfloor \ \text{(staircase)}

In code, exactly as the seed computes it in Python floats::

    p = float(step) / float(decay_steps)        # staircase: float(step // decay_steps)
    lr = initial_learning_rate * decay_rate ** p

Both implementations evaluate ``decay_rate ** p`` with the C library's ``pow``, the function
behind Python's ``**``. NumPy's ``np.power`` is *not* used for arrays: on AVX-512 machines it
dispatches to a SIMD kernel that differs from ``pow`` by one ULP in about 5% of float64 cases,
and TensorFlow's non-XLA kernel for vectors (Eigen's ``generic_pow``) differs in about 45%.
TensorFlow's scalar kernel and XLA's kernel both call ``pow``, so a schedule evaluated one step at a
time (as optimizers do) matches the reference bit for bit in float64, and therefore in float32 too.

>>> import tensorflow as tf
>>> from decaybench.schedule import ExponentialDecay  # the Keras class loads TensorFlow on first use
>>> schedule = ExponentialDecay(0.2, 1, 0.99)
>>> float(schedule(1)) == float(np.float32(0.2 * 0.99))
True
>>> ExponentialDecay.from_config(schedule.get_config()).get_config() == schedule.get_config()
True
>>> sgd = tf.keras.optimizers.SGD(learning_rate=schedule)
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from decaybench.config import DTYPES
from decaybench.validation import (
    InvalidType,
    InvalidValue,
    check_choice,
    check_decay_rate,
    check_decay_steps,
    check_initial_learning_rate,
    check_staircase,
    check_step,
)

__all__ = ["ExponentialDecay", "exponential_decay", "tf_exponential_decay"]


def _pow(base: float, exponent: float) -> float:
    try:
        return math.pow(base, exponent)
    except OverflowError:
        return math.inf


_vector_pow = np.frompyfunc(_pow, 2, 1)


@overload
def exponential_decay(
    step: np.ndarray, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False
) -> np.ndarray: ...


@overload
def exponential_decay(step: float, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False) -> float: ...


def exponential_decay(
    step: int | float | np.ndarray,
    initial_learning_rate: float,
    decay_steps: int,
    decay_rate: float,
    staircase: bool = False,
) -> float | np.ndarray:
    """The float64 reference: ``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    Args:
        step: a non-negative int, float or array of them.
        initial_learning_rate: lr at step 0; finite and >= 0.
        decay_steps: a positive integer; the schedule falls by ``decay_rate`` every that many steps.
        decay_rate: finite and > 0; values above 1 grow the learning rate.
        staircase: floor ``step / decay_steps``, by integer division for integer steps, so it is
            exact for any step below 2**63 (Keras and optax cast the step to float32 first and go
            wrong past 2**24).

    Returns:
        A Python float for a scalar step, a float64 array for an array step. Overflow gives
        ``inf`` rather than an exception.

    Examples:
        >>> exponential_decay(0, 0.2, 1, 0.99)
        0.2
        >>> exponential_decay(1, 0.2, 1, 0.99) == 0.2 * 0.99 ** (1 / 1)
        True
        >>> exponential_decay(np.array([1, 2, 100]), 0.1, 3, 0.96, staircase=True)
        array([0.1       , 0.1       , 0.02599864])
        >>> exponential_decay(99_999_999, 1.0, 3, 0.5, staircase=True) == 0.5 ** 33_333_333
        True
    """
    initial_learning_rate = check_initial_learning_rate(initial_learning_rate)
    decay_steps = check_decay_steps(decay_steps)
    decay_rate = check_decay_rate(decay_rate)
    staircase = check_staircase(staircase)
    step = check_step(step)
    exponent = _exponent(step, decay_steps, staircase)
    if isinstance(exponent, np.ndarray):
        if initial_learning_rate == 0.0:  # 0 * inf would be NaN; the schedule is 0
            return np.zeros(exponent.shape)
        with np.errstate(over="ignore"):  # overflow is inf, as documented
            return initial_learning_rate * np.asarray(_vector_pow(decay_rate, exponent), dtype=np.float64)
    return 0.0 if initial_learning_rate == 0.0 else initial_learning_rate * _pow(decay_rate, exponent)


def _exponent(step: int | float | np.ndarray, decay_steps: int, staircase: bool) -> Any:
    if isinstance(step, np.ndarray):
        if staircase:
            quotient = step // decay_steps if step.dtype.kind == "i" else np.floor(step / decay_steps)
            return quotient.astype(np.float64)
        return step.astype(np.float64) / float(decay_steps)
    if staircase:
        return float(step // decay_steps) if isinstance(step, int) else float(math.floor(step / decay_steps))
    # float(step) / float(d), not the exact int / int: this is what float64 tensors compute.
    return float(step) / float(decay_steps)


def tf_exponential_decay(step: Any, initial_learning_rate: Any, decay_steps: Any, decay_rate: Any, staircase: Any) -> Any:
    """The schedule in TensorFlow ops, float64 throughout; every TF path goes through here.

    Integer steps are divided as int64 (floor division when ``staircase``) before one cast to
    float64, as in :func:`exponential_decay`; float steps are divided in float64. Arguments may
    be Python values or tensors (``staircase`` a bool tensor), so compiled loops can take the
    configuration as inputs and trace once.

    >>> float(tf_exponential_decay(100, 0.1, 3, 0.96, True)) == exponential_decay(100, 0.1, 3, 0.96, True)
    True
    """
    import tensorflow as tf

    def as_tensor(value: Any, dtype: Any) -> Any:
        # tf.cast of a Python float goes through float32 first; convert at the right dtype.
        return tf.cast(value, dtype) if tf.is_tensor(value) else tf.constant(value, dtype)

    step = tf.convert_to_tensor(step)
    decay_steps = as_tensor(decay_steps, tf.int64)
    if step.dtype.is_integer:
        step = tf.cast(step, tf.int64)
        continuous = tf.cast(step, tf.float64) / tf.cast(decay_steps, tf.float64)
        stairs = tf.cast(step // decay_steps, tf.float64)
    else:
        continuous = tf.cast(step, tf.float64) / tf.cast(decay_steps, tf.float64)
        stairs = tf.floor(continuous)
    exponent = tf.where(as_tensor(staircase, tf.bool), stairs, continuous)
    # multiply_no_nan: an lr of 0 stays 0 where the power overflows (0 * inf is NaN).
    return tf.math.multiply_no_nan(tf.pow(as_tensor(decay_rate, tf.float64), exponent), as_tensor(initial_learning_rate, tf.float64))


if TYPE_CHECKING:
    ExponentialDecay: Any


def __getattr__(name: str) -> Any:
    # TensorFlow loads only when the Keras class is first asked for: the reference, the CLI's
    # argument checks and the pytest plugin stay importable in a fraction of a second.
    if name == "ExponentialDecay":
        return _keras_exponential_decay()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _keras_exponential_decay() -> type:
    import tensorflow as tf

    @tf.keras.utils.register_keras_serializable(package="decaybench")
    class ExponentialDecay(tf.keras.optimizers.schedules.LearningRateSchedule):
        """The schedule as a Keras ``LearningRateSchedule``, exact in float64.

        ``lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps)``, evaluated in
        float64 from an int64 step (integer floor division when ``staircase``) and cast once to
        ``dtype``, so each value equals :func:`exponential_decay` correctly rounded to ``dtype``.
        Works with any ``tf.keras`` optimizer (Keras 2 or 3), in eager mode, inside
        ``tf.function`` and under XLA. The module's docstring has examples.
        """

        def __init__(
            self,
            initial_learning_rate: float,
            decay_steps: int,
            decay_rate: float,
            staircase: bool = False,
            dtype: str = "float32",
            name: str | None = None,
        ) -> None:
            super().__init__()
            self.initial_learning_rate = check_initial_learning_rate(initial_learning_rate)
            self.decay_steps = check_decay_steps(decay_steps)
            self.decay_rate = check_decay_rate(decay_rate)
            self.staircase = check_staircase(staircase)
            self.dtype = check_choice("dtype", dtype, DTYPES)
            if name is not None and not isinstance(name, str):
                raise InvalidValue("name", name, "must be a string or None")
            self.name = name

        # No tensor-dependent Python control flow to convert; and a class built inside a function
        # closes over `tf`, which AutoGraph cannot re-parse (it would warn on every trace).
        @tf.autograph.experimental.do_not_convert
        def __call__(self, step: Any) -> tf.Tensor:
            with tf.name_scope(self.name or "ExponentialDecay"):
                step = tf.convert_to_tensor(step)
                if step.dtype.is_bool or not (step.dtype.is_integer or step.dtype.is_floating):
                    raise InvalidType("step", step, "must be an integer or floating tensor")
                if tf.executing_eagerly():
                    check_step(step.numpy())
                lr = tf_exponential_decay(step, self.initial_learning_rate, self.decay_steps, self.decay_rate, self.staircase)
                return tf.cast(lr, self.dtype)

        def get_config(self) -> dict[str, Any]:
            return {
                "initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate,
                "staircase": self.staircase,
                "dtype": self.dtype,
                "name": self.name,
            }

    ExponentialDecay.__module__ = __name__
    ExponentialDecay.__qualname__ = "ExponentialDecay"
    return ExponentialDecay
