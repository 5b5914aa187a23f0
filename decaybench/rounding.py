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

**float16 and bfloat16** (:func:`kernel`, :func:`from_float64`). TensorFlow's CPU kernels compute
every operation on these in float32 (Eigen's ``half`` and ``bfloat16`` convert, operate, convert
back), under FTZ/DAZ, and round the float32 result once to the dtype (round to nearest even).
Measured on 2,000,000 random pairs of bit patterns per dtype and operation (add, subtract,
multiply, square), TF 2.21: 0 differences from :func:`kernel`. For ``+ - *`` on two values of
either dtype, rounding the float32 result again is the correctly rounded result: the float32
product is exact (11 + 11 or 8 + 8 significant bits <= 24), and double rounding is innocuous for
a sum when float32's precision p' = 24 >= 2p + 2 (p = 11 for float16, 8 for bfloat16; Figueroa,
"When is double rounding innocuous?", 1995). So float16 arithmetic is NumPy's, bit for bit: a
float16 value is a normal float32 (2**-24 >= 2**-126) and so is every product (>= 2**-48), and
FTZ never acts. bfloat16 shares float32's exponent range, so FTZ acts as in float32: on the
float32 result, *before* it is rounded to bfloat16. ``ml_dtypes``' own arithmetic rounds an
unflushed result (a float32 subnormal that rounds up to bfloat16's smallest normal), which
differed in 21 products of the 2,000,000 measured; :func:`kernel` flushes first.

A float64 becomes float16 or bfloat16 through float32 (TF's ``Cast`` kernel, and the conversion
of a Python float in ``tf.constant``, ``convert_to_tensor`` and ``python_float * tensor``): twice
rounded, not once, and flushed to zero in between when subnormal (:func:`from_float64`). Measured: 0 differences from the two roundings over
1,000,000 random float64 values and 482 constructed near-midpoint ones; rounding once differs in
37 (float16) and 7 (bfloat16) of the random million and in 251 of the constructed.

>>> lr = 0.0999755859375 + 2**-15 + 2**-40  # above a float16 midpoint, which float32 rounds to
>>> float(from_float64(lr, "float16")), float(np.float16(lr))
(0.0999755859375, 0.10003662109375)
>>> a = np.array([2**-62 * (1 - 2**-8)], "bfloat16")
>>> b = np.array([2**-64 * (1 + 2**-8)], "bfloat16")  # a * b: a float32 subnormal, 2**-126 in bfloat16
>>> float(kernel(np.multiply, a, b)[0]), float((a * b)[0]) == 2**-126
(0.0, True)
"""

from __future__ import annotations

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
