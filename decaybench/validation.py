"""Argument checks shared by the schedule, the configs and the CLI.

Every check raises :class:`InvalidValue` (a ``ValueError``) or :class:`InvalidType`
(a ``TypeError``). Both carry ``argument`` and ``value`` so that the CLI can name the
flag the user typed, and their message always names the argument and the bad value:

>>> check_decay_rate(0.0)
Traceback (most recent call last):
...
decaybench.validation.InvalidValue: decay_rate must be finite and > 0, got 0.0

This module imports NumPy only, so the CLI can refuse bad input before TensorFlow loads.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "ArgumentError",
    "InvalidType",
    "InvalidValue",
    "check_choice",
    "check_decay_rate",
    "check_decay_steps",
    "check_finite",
    "check_initial_learning_rate",
    "check_positive_int",
    "check_staircase",
    "check_step",
]


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
    # bool is an int subclass, but True as a learning rate is always a mistake.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidType(argument, value, "must be a real number")
    return float(value)


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
    """A positive integer; bools, floats (even 3.0) and strings are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidType(argument, value, "must be a positive integer")
    if value < 1:
        raise InvalidValue(argument, value, "must be a positive integer")
    return int(value)


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


def check_step(step: Any, argument: str = "step") -> int | float | np.ndarray:
    """A non-negative int, float or array of them; arrays are returned as int64 or float64."""
    if isinstance(step, (bool, np.bool_)):
        raise InvalidType(argument, step, "must be an int, a float or an array of them")
    if isinstance(step, numbers.Integral):
        if step < 0:
            raise InvalidValue(argument, step, "must be >= 0")
        return int(step)
    if isinstance(step, numbers.Real):
        number = float(step)
        if not number >= 0.0:  # catches NaN too
            raise InvalidValue(argument, step, "must be >= 0")
        return number
    array = np.asarray(step)
    if array.dtype.kind in "iu":
        array = array.astype(np.int64)
    elif array.dtype.kind == "f":
        array = array.astype(np.float64)
    else:
        raise InvalidType(argument, step, "must be an int, a float or an array of them")
    bad = ~(array >= 0)
    if bad.any():
        raise InvalidValue(argument, array[bad].flat[0].item(), "must be >= 0")
    return array
