"""Floats in strict JSON, exactly: the one codec of ``Trace.to_json`` and the golden-trace files.

A finite float is written as the shortest repr of its exact value, which reads back bit for bit
(a float32 value is exact in float64, so widening first loses nothing). JSON has no NaN or
infinity, so those become the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, the
spellings that Python's ``float()`` reads back::

    encode(x) = x                      if x is finite
              = "NaN" | "Infinity" | "-Infinity"   otherwise
    decode(v) = float(v)

>>> encode_array(np.array([[0.1, np.inf], [-np.inf, np.nan]], dtype=np.float32))
[[0.10000000149011612, 'Infinity'], ['-Infinity', 'NaN']]
>>> decode_array([[0.5, "Infinity"], ["-Infinity", "NaN"]]).tolist()
[[0.5, inf], [-inf, nan]]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["decode_array", "encode", "encode_array"]


def encode(value: float) -> float | str:
    """One float as strict JSON: itself when finite, else its name.

    >>> encode(0.25), encode(float("nan")), encode(float("-inf"))
    (0.25, 'NaN', '-Infinity')
    """
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def encode_array(values: np.ndarray) -> Any:
    """A float array as nested lists of :func:`encode`'s values, one list level per dimension."""
    if values.ndim > 1:
        return [encode_array(row) for row in values]
    return [encode(value) for value in values.tolist()]


def decode_array(values: Any) -> np.ndarray:
    """Inverse of :func:`encode_array`: float64, bit for bit (cast to float32 when that was the source)."""

    def convert(item: Any) -> Any:
        return [convert(x) for x in item] if isinstance(item, list) else float(item)

    return np.asarray(convert(values), dtype=np.float64)
