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
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt

__all__ = ["flush_subnormals", "fused_multiply_subtract"]


def flush_subnormals(values: npt.ArrayLike) -> np.ndarray:
    """Replace subnormal values by a zero of the same sign (FTZ/DAZ)."""
    values = np.asarray(values)
    tiny = np.finfo(values.dtype).tiny
    return np.where(np.abs(values) < tiny, np.copysign(values.dtype.type(0), values), values)


def fused_multiply_subtract(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``c - a * b`` with a single rounding to the dtype of ``c`` (float32 or float64).

    float32: the product of two float32 values is exact in float64, and the float64 difference
    is corrected for double rounding: when it lands exactly on a float32 midpoint, the sign of
    its exact residual (from TwoSum) decides. float64: exact rational arithmetic, element by
    element (used on small explanatory runs only).
    """
    c, a, b = np.asarray(c), np.asarray(a), np.asarray(b)
    if c.dtype == np.float64:
        exact = np.frompyfunc(lambda x, y, z: float(Fraction(float(x)) - Fraction(float(y)) * Fraction(float(z))), 3, 1)
        return np.asarray(exact(c, a, b), dtype=np.float64)
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
