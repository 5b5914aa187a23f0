"""Argument checks shared by the schedule, the configs and the CLI.

Every check raises :class:`InvalidValue` (a ``ValueError``) or :class:`InvalidType`
(a ``TypeError``). Both carry ``argument`` and ``value`` so that the CLI can name the
flag the user typed, and their message always names the argument and the bad value:

>>> check_decay_rate(0.0)
Traceback (most recent call last):
...
decaybench.validation.InvalidValue: decay_rate must be finite and > 0, got 0.0

Integers are bounded by what the modes can run: every count (steps, epochs, ``decay_steps``,
``record_every``, ``size``, ...) is at most ``2**63 - 1``, the largest int64, since TensorFlow and
NumPy hold them as int64; a larger value is refused here rather than overflowing in a kernel:

>>> check_positive_int("epochs", 10**30)
Traceback (most recent call last):
...
decaybench.validation.InvalidValue: epochs must be at most 9223372036854775807 (the largest int64), got 1000000000000000000000000000000

This module imports NumPy only, so the CLI can refuse bad input before TensorFlow loads.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "DTYPES",
    "INT64_MAX",
    "POLICIES",
    "ArgumentError",
    "InvalidType",
    "InvalidValue",
    "check_choice",
    "check_decay_rate",
    "check_decay_steps",
    "check_dtype",
    "check_end_value",
    "check_fields",
    "check_finite",
    "check_initial_learning_rate",
    "check_policy",
    "check_positive_int",
    "check_staircase",
    "check_step",
    "check_transition_begin",
]


# The largest count a mode can hold: TensorFlow's loop counters and NumPy's epochs are int64.
INT64_MAX = 2**63 - 1
_TOO_LARGE = f"must be at most {INT64_MAX} (the largest int64)"
# The dtypes of w and of the Keras schedule's lr: the seed's float32, float64, and the 16-bit
# float16 and bfloat16 (the modes that take each: decaybench.modes.ModeSpec.dtypes).
DTYPES = ("float32", "float64", "float16", "bfloat16")
# Keras's mixed-precision policies a Keras mode runs under (decaybench.loss_scaling).
POLICIES = ("mixed_float16", "mixed_bfloat16")


class ArgumentError(Exception):
    """Mixin for errors about one named argument and its value."""

    def __init__(self, argument: str, value: Any, rule: str) -> None:
        self.argument = argument
        self.value = value
        self.rule = rule
        super().__init__(f"{argument} {rule}, got {value!r}")


class InvalidValue(ArgumentError, ValueError):
    """The argument has the right type but a value outside its domain."""


class InvalidType(ArgumentError, TypeError):
    """The argument has the wrong type."""


def _real(argument: str, value: Any) -> float:
    if type(value) is float:  # the common case first: the ABC checks below cost a sweep of 1,000 configs ~10 ms
        return value
    # bool is an int subclass, but True as a learning rate is always a mistake.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidType(argument, value, "must be a real number")
    try:
        return float(value)
    except OverflowError:  # an int (or Fraction) past float64's range: infinite, for each rule to refuse
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]  # numbers.Real declares no __gt__


def _integer(argument: str, value: Any, minimum: int, rule: str) -> int:
    """An integer in ``[minimum, INT64_MAX]``; bools, floats (even 3.0) and strings are refused."""
    if type(value) is int:  # the common case first (not a bool: its type is bool)
        number = value
    elif isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidType(argument, value, rule)
    else:
        number = int(value)
    if number < minimum:
        raise InvalidValue(argument, value, rule)
    if number > INT64_MAX:
        raise InvalidValue(argument, value, _TOO_LARGE)
    return number


def check_finite(argument: str, value: Any) -> float:
    """Return ``value`` as a float, refusing non-numbers, NaN and infinities."""
    number = _real(argument, value)
    if not math.isfinite(number):
        raise InvalidValue(argument, value, "must be finite")
    return number


def check_initial_learning_rate(value: Any, argument: str = "initial_learning_rate") -> float:
    """Finite and >= 0."""
    number = _real(argument, value)
    if not (math.isfinite(number) and number >= 0.0):
        raise InvalidValue(argument, value, "must be finite and >= 0")
    return number


def check_decay_rate(value: Any, argument: str = "decay_rate") -> float:
    """Finite and > 0 (a zero rate would make lr(0) = 0**0 ambiguous)."""
    number = _real(argument, value)
    if not (math.isfinite(number) and number > 0.0):
        raise InvalidValue(argument, value, "must be finite and > 0")
    return number


def check_positive_int(argument: str, value: Any) -> int:
    """A positive integer up to :data:`INT64_MAX`; bools, floats (even 3.0) and strings are refused."""
    return _integer(argument, value, 1, "must be a positive integer")


def check_transition_begin(value: Any, argument: str = "transition_begin") -> int:
    """An integer in ``[0, INT64_MAX]``: the steps the schedule holds its initial rate (a bool is refused)."""
    return _integer(argument, value, 0, "must be an integer >= 0")


def check_end_value(value: Any, argument: str = "end_value") -> float | None:
    """``None`` (no bound), or finite and >= 0: the rate's floor when decaying, its ceiling when growing."""
    if value is None:
        return None
    number = _real(argument, value)
    if not (math.isfinite(number) and number >= 0.0):
        raise InvalidValue(argument, value, "must be finite and >= 0, or None")
    return number


def check_decay_steps(value: Any, argument: str = "decay_steps") -> int:
    """A positive integer (``True`` is refused although it is an ``int``)."""
    return check_positive_int(argument, value)


def check_staircase(value: Any, argument: str = "staircase") -> bool:
    """A real bool, not a truthy value."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidType(argument, value, "must be a bool")
    return bool(value)


def check_choice(argument: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of ``choices``, compared as strings."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidValue(argument, value, f"must be one of {', '.join(choices)}")
    return value


def check_dtype(value: Any, argument: str = "dtype") -> str:
    """One of :data:`DTYPES`, by name.

    >>> check_dtype("float8")
    Traceback (most recent call last):
    ...
    decaybench.validation.InvalidValue: dtype must be one of float32, float64, float16, bfloat16, got 'float8'
    """
    return check_choice(argument, value, DTYPES)


def check_policy(value: Any, argument: str = "policy") -> str | None:
    """``None`` (no policy), or one of :data:`POLICIES`, by name.

    >>> check_policy("mixed_float32")
    Traceback (most recent call last):
    ...
    decaybench.validation.InvalidValue: policy must be one of mixed_float16, mixed_bfloat16, got 'mixed_float32'
    """
    return None if value is None else check_choice(argument, value, POLICIES)


def check_step(step: Any, argument: str = "step") -> int | float | np.ndarray:
    """A non-negative int (at most :data:`INT64_MAX`), float (``inf`` included) or array of them.

    Arrays are returned as int64 or float64; an unsigned step is checked before that cast, so a
    uint64 step of ``2**63`` or more is refused as too large, never wrapped to a negative one:

    >>> check_step(np.array([3, 2**63], dtype=np.uint64))
    Traceback (most recent call last):
    ...
    decaybench.validation.InvalidValue: step must be at most 9223372036854775807 (the largest int64), got 9223372036854775808
    """
    if isinstance(step, (bool, np.bool_)):
        raise InvalidType(argument, step, "must be an int, a float or an array of them")
    if isinstance(step, numbers.Integral):
        return _integer(argument, step, 0, "must be >= 0")
    if isinstance(step, numbers.Real):
        number = _real(argument, step)
        if not number >= 0.0:  # catches NaN too
            raise InvalidValue(argument, step, "must be >= 0")
        return number
    array = np.asarray(step)
    if array.dtype.kind == "u" and array.size and array.max() > INT64_MAX:
        raise InvalidValue(argument, array.max().item(), _TOO_LARGE)
    if array.dtype.kind in "iu":
        array = array.astype(np.int64)
    elif array.dtype.kind == "f":
        with np.errstate(over="ignore"):  # a longdouble past float64's range is inf, as a float step may be
            array = array.astype(np.float64)
    else:
        raise InvalidType(argument, step, "must be an int, a float or an array of them")
    bad = ~(array >= 0)
    if bad.any():
        raise InvalidValue(argument, array[bad].flat[0].item(), "must be >= 0")
    return array


def check_fields(instance: Any) -> None:
    """Check every field of a frozen dataclass by its rule, in field order, and store the checked value.

    A field's rule is ``metadata["check"]``, a function of the value that returns it converted
    (say ``3`` to ``3.0``) or raises naming the field; one rule per argument, written once.
    """
    for name, check in _rules(type(instance)):  # type: ignore[arg-type]  # a class is hashable
        object.__setattr__(instance, name, check(getattr(instance, name)))


@functools.cache
def _rules(cls: type) -> tuple[tuple[str, Any], ...]:
    """``(name, metadata["check"])`` of each field of the dataclass ``cls``, in field order."""
    return tuple((field.name, field.metadata["check"]) for field in dataclasses.fields(cls))
