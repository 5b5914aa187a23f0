"""IEEE-754 rounding as TensorFlow's CPU kernels do it, in NumPy.

* :func:`flush_subnormals`: TensorFlow runs its CPU kernels with FTZ and DAZ set, so a subnormal
  input counts as zero and a subnormal result becomes zero (keeping its sign).
* :func:`fused_multiply_subtract`: ``c - a * b`` rounded once, as an FMA instruction computes it.
  XLA's CPU backend lets LLVM contract ``w - lr * g`` into one FMA, which skips the rounding of
  ``lr * g``; this is the whole difference between the ``xla`` mode and the emulation.

>>> a = np.float32(1 + 2**-12)
>>> float(fused_multiply_subtract(np.float32(1), a, a)), float(np.float32(1) - a * a)
(-0.0004883408546447754, -0.00048828125)
>>> flush_subnormals(np.array([1e-40, -1e-40, 1.0], dtype=np.float32)).tolist()
[0.0, -0.0, 1.0]

**float16 and bfloat16** (:func:`kernel`, :func:`from_float64`). Eigen's ``half`` and ``bfloat16``
convert to float32, operate and convert back, under TensorFlow's FTZ/DAZ; the conversion rounds to
nearest even. Per operation of the seed's step, in w's dtype (p = 11 significant bits for float16,
8 for bfloat16; float32 has p' = 24), with what was measured on TF 2.21
(``tests/test_dtypes.py``; 2,000,000 random pairs of bit patterns per dtype and operation):

==========================  =================================================================
``x = w + 1``, ``w - p``    float32 sum rounded to the dtype. Double rounding is innocuous for a
                            sum when p' >= 2p + 2 (24 >= 24 and 18; Figueroa, "When is double
                            rounding innocuous?", 1995): the correctly rounded sum. 0 differences.
``x * x``, ``x * 2``,       the float32 product is exact (2p <= 22 bits), so one rounding: the
``lr * g``                  correctly rounded product. 0 differences.
FTZ/DAZ                     float16: never acts (its values, >= 2**-24, and products, >= 2**-48,
                            are normal float32s), so float16 is NumPy's float16 arithmetic bit for
                            bit. bfloat16 shares float32's exponents: a float32 result below
                            2**-126 is flushed *before* the rounding; ``ml_dtypes``' own arithmetic
                            rounds it up to 2**-126 instead (21 of the 2,000,000 products).
``lr`` (a float64)          ``Cast`` and a Python float's conversion (``tf.constant``,
                            ``python_float * tensor``) go through float32: two roundings, a
                            float32 subnormal flushed between them. 0 differences over 1,000,000
                            random and 482 near-midpoint values; one rounding differs in 37
                            (float16) and 7 (bfloat16) of the million and 251 of the others.
``sum(x * x)``              :func:`decaybench._reduction.eigen_sum`: float16 in half packets with
                            a float32 ``predux``, bfloat16 in float32, rounded once.
==========================  =================================================================

>>> lr = 0.0999755859375 + 2**-15 + 2**-40  # above a float16 midpoint, which float32 rounds to
>>> float(from_float64(lr, "float16")), float(np.float16(lr))
(0.0999755859375, 0.10003662109375)
>>> a = np.array([2**-62 * (1 - 2**-8)], "bfloat16")
>>> b = np.array([2**-64 * (1 + 2**-8)], "bfloat16")  # a * b: a float32 subnormal, 2**-126 in bfloat16
>>> float(kernel(np.multiply, a, b)[0]), float((a * b)[0]) == 2**-126
(0.0, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import ml_dtypes  # registers bfloat16 with NumPy, so np.dtype("bfloat16") names it everywhere
import numpy as np
import numpy.typing as npt

__all__ = ["HALF_DTYPES", "finfo", "flush_subnormals", "from_float64", "fused_multiply_subtract", "kernel"]

HALF_DTYPES = ("float16", "bfloat16")
"""The 16-bit dtypes, which TensorFlow's CPU kernels compute in float32 and round once."""


def finfo(dtype: Any) -> Any:
    """``np.finfo`` for every float dtype, bfloat16 included (``ml_dtypes.finfo``)."""
    return ml_dtypes.finfo(np.dtype(dtype))


def flush_subnormals(values: npt.ArrayLike) -> np.ndarray:
    """Replace values below the kernels' smallest normal by a zero of the same sign (FTZ/DAZ).

    The threshold is the dtype's smallest normal, float32's for the 16-bit dtypes: their kernels
    compute in float32, so a float16 subnormal (>= 2**-24) is kept, as TensorFlow keeps it.
    """
    values = np.asarray(values)
    tiny = finfo(np.float32 if values.dtype.itemsize < 4 else values.dtype).tiny
    return np.where(np.abs(values) < tiny, np.copysign(values.dtype.type(0), values), values)


def kernel(op: Callable[[Any, Any], Any], a: npt.ArrayLike, b: npt.ArrayLike) -> np.ndarray:
    """``op(a, b)`` as TensorFlow's CPU kernel computes it in ``a``'s dtype (module doc).

    float32 and float64: ``ftz(op(ftz(a), ftz(b)))``. float16 and bfloat16: the same in float32,
    then rounded once to the dtype.
    """
    a = np.asarray(a)
    if a.dtype.itemsize >= 4:
        return flush_subnormals(op(flush_subnormals(a), flush_subnormals(np.asarray(b, a.dtype))))
    wide = op(flush_subnormals(a.astype(np.float32)), flush_subnormals(np.asarray(b).astype(np.float32)))
    return np.asarray(flush_subnormals(wide)).astype(a.dtype)


def from_float64(values: npt.ArrayLike, dtype: Any) -> np.ndarray:
    """float64 ``values`` in ``dtype`` as TensorFlow converts them: through float32 for the 16-bit
    dtypes, a float32 subnormal flushed to zero (measured: ``tf.constant(1e-40, tf.bfloat16)`` and
    the ``Cast`` kernel give 0, where float32 keeps 1e-40)."""
    values, dtype = np.asarray(values, dtype=np.float64), np.dtype(dtype)
    return flush_subnormals(values.astype(np.float32)).astype(dtype) if dtype.itemsize < 4 else values.astype(dtype)


def _exact_fms(c: float, a: float, b: float) -> float:
    """``c - a * b`` in float64, rounded once: exact rationals, rounded by ``float()``; past float64's
    largest value the rounding gives an infinity of the exact result's sign. Infinite or NaN inputs
    give what IEEE's fused operation gives: an infinite ``c`` with finite factors is ``c``, else
    the unfused expression's inf or NaN (the product is then exact: inf, NaN, or 0 * inf).

    >>> _exact_fms(1.7e308, -1.7e308, 1.0), _exact_fms(float("inf"), 1e300, 1e300)
    (inf, inf)
    """
    c, a, b = float(c), float(a), float(b)
    if not (math.isfinite(a) and math.isfinite(b)):
        return c - a * b
    if not math.isfinite(c):
        return c
    exact = Fraction(c) - Fraction(a) * Fraction(b)
    try:
        return float(exact)
    except OverflowError:  # CPython's correctly rounded int / int raises where the rounding gives an infinity
        return math.inf if exact > 0 else -math.inf


def fused_multiply_subtract(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``c - a * b`` with a single rounding to the dtype of ``c`` (float32 or float64).

    float32: the product of two float32 values is exact in float64, and the float64 difference
    is corrected for double rounding: when it lands exactly on a float32 midpoint, the sign of
    its exact residual (from TwoSum) decides. float64: exact rational arithmetic, element by
    element (used on small explanatory runs only).
    """
    c, a, b = np.asarray(c), np.asarray(a), np.asarray(b)
    if c.dtype == np.float64:
        return np.asarray(np.frompyfunc(_exact_fms, 3, 1)(c, a, b), dtype=np.float64)
    product = a.astype(np.float64) * b.astype(np.float64)  # exact: 24 + 24 bits < 53
    total = c.astype(np.float64) - product
    # TwoSum: residual = (c - product) - total, exactly.
    c_part = total + product
    residual = (c.astype(np.float64) - c_part) + (-product - (total - c_part))
    rounded = total.astype(np.float32)
    below = np.where(rounded.astype(np.float64) > total, np.nextafter(rounded, np.float32(-np.inf)), rounded)
    above = np.nextafter(below, np.float32(np.inf))
    midpoint = (below.astype(np.float64) + above.astype(np.float64)) / 2  # exact in float64
    tie = (total == midpoint) & (residual != 0) & np.isfinite(total)
    corrected = np.where(residual > 0, above, below)
    return np.where(tie, corrected, rounded).astype(np.float32)
