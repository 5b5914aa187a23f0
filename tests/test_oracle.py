"""The exact oracle and the ULP helpers."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.oracle import exact_trajectory, max_ulp, relative_error, ulp_distance


def test_closed_form_matches_the_recursion_in_exact_arithmetic() -> None:
    config = DecayConfig(epochs=12, staircase=True, decay_steps=5, initial_learning_rate=0.3, w0=2.5, size=3)
    exact = exact_trajectory(config)
    with mpmath.workprec(256):
        w = mpmath.mpf(2.5)
        for epoch in range(12):
            lr = mpmath.mpf(0.3) * mpmath.power(mpmath.mpf(config.decay_rate), epoch // 5)
            loss = 3 * (w + 1) ** 2
            w = w - lr * 2 * (w + 1)
            assert abs(exact.w[epoch] - w) <= abs(w) * mpmath.mpf(2) ** -120
            assert abs(exact.loss[epoch] - loss) <= abs(loss) * mpmath.mpf(2) ** -120


def test_seed_is_within_float32_rounding_of_the_oracle() -> None:
    errors = relative_error(run(), exact_trajectory(DecayConfig()))
    # w is float32 near -1 after a few epochs: 40 steps of at most one ULP each, contracting.
    assert errors["w"] < 40 * 2.0**-23


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ulp_distance(dtype: type) -> None:
    one = dtype(1)
    up = np.nextafter(one, dtype(2))
    assert ulp_distance(one, up) == 1 == ulp_distance(up, one)
    assert ulp_distance(dtype(0.0), dtype(-0.0)) == 0
    smallest = np.nextafter(dtype(0), dtype(1))
    assert ulp_distance(smallest, -smallest) == 2  # across zero
    assert ulp_distance(dtype(np.nan), dtype(np.nan)) == 0
    assert ulp_distance(dtype(np.nan), one) == np.iinfo(np.uint64).max
    assert ulp_distance(np.finfo(dtype).max, dtype(np.inf)) == 1
    assert max_ulp(np.array([1, 2], dtype=dtype), np.array([1, 2], dtype=dtype)) == 0
    with pytest.raises(TypeError, match="one dtype"):
        ulp_distance(np.float32(1), np.float64(1))
