"""The audit's one comparison: bit for bit, and where two sequences of lrs first differ.

Every check that compares lrs names the first step where they differ, both values and their
distance in ULPs of the values' dtype (:func:`decaybench.oracle.ulp_distance`); ``-0.0`` and
``0.0`` differ here, as bits do (:mod:`decaybench.bits`):

>>> steps = np.array([0, 1, 2])
>>> first_difference(steps, np.float32([1, 2, 3]), np.float32([1, 2, 3])) is None
True
>>> first_difference(steps, np.float32([1, 2, 3]), np.float32([1, 2, np.nextafter(3, 4, dtype=np.float32)]), "eager", "xla")
'step 2: eager 3.0, xla 3.0000002 (1 ULP)'
"""

from __future__ import annotations

import numpy as np

from decaybench.bits import same_bits, show
from decaybench.oracle import ulp_distance

__all__ = ["NOT_COMPARABLE", "first_difference", "identical", "ulp_count", "ulps"]

# Larger than any distance: NaN against a number, or values of other dtypes than float32/float64.
NOT_COMPARABLE = 2**64


def identical(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise, broadcast: the same dtype and the same bits (:func:`decaybench.bits.same_bits`, NaNs by their bits)."""
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    if a.dtype != b.dtype:
        return np.zeros(a.shape, dtype=bool)
    return same_bits(a, b).reshape(a.shape)


def ulp_count(a: np.ndarray, b: np.ndarray) -> int:
    """The ULP distance of two values of one dtype, float32 or float64; :data:`NOT_COMPARABLE` otherwise."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
        return NOT_COMPARABLE
    distance = int(ulp_distance(a, b))
    return NOT_COMPARABLE if distance == np.iinfo(np.uint64).max else distance


def ulps(a: np.ndarray, b: np.ndarray) -> str:
    """:func:`ulp_count` as text."""
    distance = ulp_count(a, b)
    return f"{distance} ULP" if distance != NOT_COMPARABLE else f"not comparable ({np.asarray(a).dtype}, {np.asarray(b).dtype})"


def first_difference(steps: np.ndarray, got: np.ndarray, want: np.ndarray, got_name: str = "got", want_name: str = "want") -> str | None:
    """``step S: <got_name> x, <want_name> y (N ULP)`` at the first step where they differ; ``None`` when bit for bit equal."""
    got, want = np.asarray(got), np.asarray(want)
    differs = ~identical(got, want)
    if not differs.any():
        return None
    at = int(np.argmax(differs))
    return f"step {int(steps[at])}: {got_name} {show(got[at])}, {want_name} {show(want[at])} ({ulps(got[at], want[at])})"
