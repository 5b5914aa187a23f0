"""Bit-for-bit comparison of arrays: NaNs by their bit patterns, and values shown with them.

``a == b`` is false for two NaNs and true for ``-0.0`` and ``0.0``; "bit for bit" means neither.
Floats compare as the unsigned integers of their width, so a NaN equals only a NaN with the same
sign and payload (x86's default NaN ``0xffc00000`` is not ``np.float32("nan")``'s ``0x7fc00000``)::

    same(a, b) = bits(a) == bits(b)      (floats; bits(x) = x viewed as uint of x's width)
               = a == b                  (integers)

>>> x86 = np.array([0xFFC00000], np.uint32).view(np.float32)
>>> same_bits(x86, np.array([np.nan], np.float32)).tolist(), same_bits(np.array([0.0]), np.array([-0.0])).tolist()
([False], [False])
>>> show(x86[0]), show(np.float64(0.25))
('nan (bits 0xffc00000)', '0.25')
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["bits", "same_bits", "show"]


def _is_float(dtype: np.dtype[Any]) -> bool:
    # bfloat16 (ml_dtypes) is a NumPy "V" kind; np.finfo-like floats are "f"
    return (dtype.kind == "f" or dtype.name == "bfloat16") and dtype.itemsize in (2, 4, 8)


def bits(values: np.ndarray) -> np.ndarray:
    """A float array viewed as the unsigned integers of its width (float16, bfloat16, float32, float64)."""
    return np.ascontiguousarray(values).view(f"u{values.dtype.itemsize}")


def same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise: the same bits (floats of one dtype), else ``a == b``; ``a`` and ``b`` have one shape."""
    if a.dtype == b.dtype and _is_float(a.dtype):
        return np.asarray(bits(a) == bits(b))
    equal = np.asarray(a == b)
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":  # longdouble, complex, mixed: NaNs alike, zeros by sign
        equal = equal | (np.isnan(a) & np.isnan(b))
        equal = equal & (np.signbit(np.real(a)) == np.signbit(np.real(b)))
    return equal


def show(value: Any) -> str:
    """``value`` as ``str`` does, and a NaN with its bits (``nan (bits 0x7fc00001)``)."""
    scalar = np.asarray(value)
    if _is_float(scalar.dtype) and np.isnan(scalar):
        width = 2 * scalar.dtype.itemsize
        return f"{scalar.item()} (bits {int(bits(scalar.reshape(1))[0]):#0{width + 2}x})"
    return str(value)
