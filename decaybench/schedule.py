r"""The exponential-decay schedule: one float64 reference and one TensorFlow implementation.

.. math::

    \mathrm{lr}(s) = \mathrm{lr}_0 \cdot r^{\,p(s)}, \qquad
    p(s) = s / d \ \text{(continuous)} \quad\text{or}\quad p(s) = \lfloor s / d \rfloor \ \text{(staircase)}

In code, exactly as the seed computes it in Python floats::

    p = float(step) / float(decay_steps)        # staircase: float(step // decay_steps)
    lr = initial_learning_rate * decay_rate ** p

optax's two options, with optax's semantics: ``transition_begin`` ``b`` holds the initial rate
for the first ``b`` steps, and ``end_value`` ``v`` bounds the rate, below when decaying and
above when growing:

.. math::

    \mathrm{lr}(s) = \mathrm{clip}_v\bigl(\mathrm{lr}_0 \cdot r^{\,p(\max(s - b,\ 0))}\bigr), \qquad
    \mathrm{clip}_v(x) = \max(x, v) \text{ if } r < 1 \text{ else } \min(x, v)

In code (a shifted count ``<= 0`` gives ``r ** 0 = 1``, the initial rate exactly)::

    count = max(step - transition_begin, 0)
    lr = initial_learning_rate * decay_rate ** p(count)
    if end_value is not None:
        lr = max(lr, end_value) if decay_rate < 1 else min(lr, end_value)

Both implementations evaluate ``decay_rate ** p`` with the C library's ``pow``, the function
behind Python's ``**``. NumPy's ``np.power`` is *not* used for arrays: on AVX-512 machines it
dispatches to a SIMD kernel that differs from ``pow`` by one ULP in about 5% of float64 cases,
and TensorFlow's non-XLA kernel for vectors (Eigen's ``generic_pow``) differs in about 45%.
TensorFlow's scalar kernel and XLA's kernel both call ``pow``, so a schedule evaluated one step at a
time (as optimizers do) matches the reference bit for bit in float64, and therefore in float32 too.

A :class:`Schedule` holds the four arguments, checked once, and evaluates both::

>>> schedule = Schedule(initial_learning_rate=0.2, decay_steps=1, decay_rate=0.99)
>>> schedule.lr(1) == exponential_decay(1, 0.2, 1, 0.99) == float(schedule.tf_lr(1))
True

The Keras class, ``decaybench.ExponentialDecay``, is :mod:`decaybench.keras_schedule`'s: it loads
TensorFlow, which this module does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np

from decaybench.validation import (
    check_decay_rate,
    check_decay_steps,
    check_end_value,
    check_fields,
    check_initial_learning_rate,
    check_staircase,
    check_step,
    check_transition_begin,
)

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["Schedule", "exponential_decay", "from_columns", "loop_columns", "tf_exponential_decay"]

# A scalar step (an int is a float here) gives a float, an array step a float64 array.
Step = TypeVar("Step", float, np.ndarray)


def _pow(base: float, exponent: float) -> float:
    try:
        return math.pow(base, exponent)
    except OverflowError:
        return math.inf


_vector_pow = np.frompyfunc(_pow, 2, 1)


@dataclass(frozen=True)
class Schedule:
    """The four arguments of the schedule, checked once: ``lr(s) = initial_learning_rate * decay_rate ** p(s)``.

    ``p(s) = s / decay_steps``, or ``s // decay_steps`` with ``staircase``. Each field's rule is in
    its metadata (:func:`decaybench.validation.check_fields`); errors name the argument and the value.

    Attributes:
        initial_learning_rate: lr at step 0; finite and >= 0.
        decay_steps: a positive integer; the schedule falls by ``decay_rate`` every that many steps.
        decay_rate: finite and > 0; values above 1 grow the learning rate.
        staircase: floor ``step / decay_steps``.

    >>> Schedule(0.2, 0, 0.99)
    Traceback (most recent call last):
    ...
    decaybench.validation.InvalidValue: decay_steps must be a positive integer, got 0
    """

    initial_learning_rate: float = field(metadata={"check": check_initial_learning_rate})
    decay_steps: int = field(metadata={"check": check_decay_steps})
    decay_rate: float = field(metadata={"check": check_decay_rate})
    staircase: bool = field(default=False, metadata={"check": check_staircase})
    transition_begin: int = field(default=0, metadata={"check": check_transition_begin})
    end_value: float | None = field(default=None, metadata={"check": check_end_value})

    def __post_init__(self) -> None:
        check_fields(self)

    @overload
    def lr(self, step: np.ndarray) -> np.ndarray: ...

    @overload
    def lr(self, step: float) -> float: ...

    def lr(self, step: int | float | np.ndarray) -> float | np.ndarray:
        """The float64 reference at ``step`` (see :func:`exponential_decay`, which is this method)."""
        step = check_step(step)
        count = np.maximum(step - self.transition_begin, 0) if isinstance(step, np.ndarray) else max(step - self.transition_begin, 0)
        exponent = _exponent(count, self.decay_steps, self.staircase)
        if isinstance(exponent, np.ndarray):
            if self.initial_learning_rate == 0.0:  # 0 * inf would be NaN; the schedule is 0
                lrs = np.zeros(exponent.shape)
            else:
                with np.errstate(over="ignore"):  # overflow is inf, as documented
                    lrs = self.initial_learning_rate * np.asarray(_vector_pow(self.decay_rate, exponent), dtype=np.float64)
            return lrs if self.end_value is None else (np.maximum if self.decay_rate < 1 else np.minimum)(lrs, self.end_value)
        lr = 0.0 if self.initial_learning_rate == 0.0 else self.initial_learning_rate * _pow(self.decay_rate, exponent)
        return lr if self.end_value is None else (max if self.decay_rate < 1 else min)(lr, self.end_value)

    def tf_lr(self, step: Any) -> tf.Tensor:
        """The float64 TensorFlow value at ``step`` (see :func:`tf_exponential_decay`)."""
        return tf_exponential_decay(
            step,
            self.initial_learning_rate,
            self.decay_steps,
            self.decay_rate,
            self.staircase,
            transition_begin=self.transition_begin,
            end_value=self.end_value,
        )


def exponential_decay(
    step: Step,
    initial_learning_rate: float,
    decay_steps: int,
    decay_rate: float,
    staircase: bool = False,
    *,
    transition_begin: int = 0,
    end_value: float | None = None,
) -> Step:
    """The float64 reference: ``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    Args:
        step: a non-negative int, float or array of them.
        initial_learning_rate: lr at step 0; finite and >= 0.
        decay_steps: a positive integer; the schedule falls by ``decay_rate`` every that many steps.
        decay_rate: finite and > 0; values above 1 grow the learning rate.
        staircase: floor ``step / decay_steps``, by integer division for integer steps, so it is
            exact for any step below 2**63 (Keras and optax cast the step to float32 first and go
            wrong past 2**24).
        transition_begin: an integer >= 0; the schedule counts from this step and holds
            ``initial_learning_rate`` before it (optax's ``transition_begin``).
        end_value: ``None``, or finite and >= 0: the lowest rate when ``decay_rate < 1``, the
            highest otherwise (optax's ``end_value``).

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
        >>> exponential_decay(99_999_999, 1.0, 3, 1 - 2**-20, staircase=True) == (1 - 2**-20) ** 33_333_333  # not 0 == 0
        True
        >>> exponential_decay(np.arange(7), 1.0, 2, 0.5, transition_begin=3, end_value=0.6).tolist()
        [1.0, 1.0, 1.0, 1.0, 0.7071067811865476, 0.6, 0.6]
    """
    return Schedule(initial_learning_rate, decay_steps, decay_rate, staircase, transition_begin, end_value).lr(step)


def _exponent(step: int | float | np.ndarray, decay_steps: int, staircase: bool) -> Any:
    if isinstance(step, np.ndarray):
        if staircase:
            quotient = step // decay_steps if step.dtype.kind == "i" else np.floor(step / decay_steps)
            return quotient.astype(np.float64)
        return step.astype(np.float64) / float(decay_steps)
    if staircase:
        # np.floor, not math.floor: an inf step floors to inf (lr 0 or inf, as documented), not OverflowError.
        return float(step // decay_steps) if isinstance(step, int) else float(np.floor(step / decay_steps))
    # float(step) / float(d), not the exact int / int: this is what float64 tensors compute.
    return float(step) / float(decay_steps)


def tf_exponential_decay(
    step: Any,
    initial_learning_rate: Any,
    decay_steps: Any,
    decay_rate: Any,
    staircase: Any,
    transition_begin: Any = 0,
    end_value: Any = None,
) -> Any:
    """The schedule in TensorFlow ops, float64 throughout; every TF path goes through here.

    Integer steps are divided as int64 (floor division when ``staircase``) before one cast to
    float64, as in :func:`exponential_decay`; float steps are divided in float64. Arguments may
    be Python values or tensors (``staircase`` a bool tensor), so compiled loops can take the
    configuration as inputs and trace once. ``transition_begin`` shifts the count (clamped at
    0); ``end_value`` clips as the reference does, a NaN tensor meaning ``None``.

    >>> float(tf_exponential_decay(100, 0.1, 3, 0.96, True)) == exponential_decay(100, 0.1, 3, 0.96, True)
    True
    >>> float(tf_exponential_decay(9, 1.0, 2, 0.5, False, 3, 0.2)) == exponential_decay(9, 1.0, 2, 0.5, transition_begin=3, end_value=0.2)
    True
    """
    import tensorflow as tf

    def as_tensor(value: Any, dtype: Any) -> Any:
        # tf.cast of a Python float goes through float32 first; convert at the right dtype.
        return tf.cast(value, dtype) if tf.is_tensor(value) else tf.constant(value, dtype)

    step = tf.convert_to_tensor(step)
    decay_steps = as_tensor(decay_steps, tf.int64)
    if step.dtype.is_integer:
        step = tf.maximum(tf.cast(step, tf.int64) - as_tensor(transition_begin, tf.int64), 0)
        continuous = tf.cast(step, tf.float64) / tf.cast(decay_steps, tf.float64)
        stairs = tf.cast(step // decay_steps, tf.float64)
    else:
        step = tf.maximum(tf.cast(step, tf.float64) - as_tensor(transition_begin, tf.float64), 0.0)
        continuous = step / tf.cast(decay_steps, tf.float64)
        stairs = tf.floor(continuous)
    exponent = tf.where(as_tensor(staircase, tf.bool), stairs, continuous)
    rate = as_tensor(decay_rate, tf.float64)
    # multiply_no_nan: an lr of 0 stays 0 where the power overflows (0 * inf is NaN).
    lr = tf.math.multiply_no_nan(tf.pow(rate, exponent), as_tensor(initial_learning_rate, tf.float64))
    if end_value is None:
        return lr
    end = as_tensor(end_value, tf.float64)
    return tf.where(tf.math.is_nan(end), lr, tf.where(rate < 1, tf.maximum(lr, end), tf.minimum(lr, end)))


def loop_columns(schedule: Schedule) -> tuple[list[int], list[float]]:
    """``schedule`` as a compiled loop's inputs: int64 ``[decay_steps, staircase, transition_begin]``
    and float64 ``[initial_learning_rate, decay_rate, end_value]`` (NaN for no ``end_value``).

    >>> loop_columns(Schedule(0.2, 1, 0.99))
    ([1, 0, 0], [0.2, 0.99, nan])
    """
    end = math.nan if schedule.end_value is None else schedule.end_value
    return [schedule.decay_steps, int(schedule.staircase), schedule.transition_begin], [
        schedule.initial_learning_rate,
        schedule.decay_rate,
        end,
    ]


def from_columns(integers: Any, floats: Any) -> tuple[Any, ...]:
    """The arguments of :func:`tf_exponential_decay` after the step, from :func:`loop_columns` tensors
    ``[..., 3]`` (per configuration of a batch); two columns mean no ``transition_begin`` and no ``end_value``."""
    import tensorflow as tf

    # One Unpack per block, not a StridedSlice (and its three index constants) per column: 22 fewer
    # of the 127 ops a compiled loop traces for the seed (tracing is a third of its first call).
    ints, reals = tf.unstack(integers, axis=-1), tf.unstack(floats, axis=-1)
    schedule = (reals[0], ints[0], reals[1], ints[1] != 0)
    if len(ints) == 2:
        return schedule
    return (*schedule, ints[2], reals[2])
