"""The emulation's building blocks against TensorFlow's kernels: Eigen's sum, FTZ, the fused update."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from numpy.testing import assert_array_equal

from decaybench._reduction import eigen_sum
from decaybench.rounding import flush_subnormals, fused_multiply_subtract

RNG = np.random.default_rng(20261125)
SIZES = [1, 2, 7, 8, 31, 32, 33, 255, 1023, 4097, 8191, 8193, 32769, 54194, 108388, 1_000_003]


@tf.function
def graph_sum(x: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
def test_eigen_sum_is_tf_reduce_sum_bit_for_bit(dtype: type, n: int) -> None:
    # Sizes straddle the packet (8/4 lanes), the 4-accumulator unroll, the 1024-packet tree leaf
    # and the cost model's switch to 2 threads (54,194 float64, 108,388 float32 on 2 CPUs).
    for values in (
        RNG.standard_normal(n).astype(dtype),
        (RNG.standard_normal(n) * 2.0 ** RNG.integers(-30, 30, n)).astype(dtype),
        np.full(n, dtype(0.1)),
    ):
        want = tf.reduce_sum(values).numpy()
        assert_array_equal(eigen_sum(values), want)
        assert_array_equal(graph_sum(values).numpy(), want)


def test_numpy_sum_is_not_tf_reduce_sum() -> None:
    # Why the emulation needs eigen_sum at all: numpy's pairwise sum groups differently.
    values = np.full(1000, np.float32(0.1))
    assert np.sum(values) != tf.reduce_sum(values).numpy()


def test_tensorflow_flushes_subnormals_and_so_does_the_emulation() -> None:
    tiny = np.float32(1e-39)  # subnormal in float32
    assert tf.multiply(tf.constant(tiny), tf.constant(np.float32(0.5))).numpy() == 0.0
    assert flush_subnormals(np.asarray(tiny * np.float32(0.5))) == 0.0
    assert np.signbit(flush_subnormals(np.asarray(-tiny)))


def test_fused_multiply_subtract_rounds_once() -> None:
    a = np.float32(1 + 2**-12)
    # a*a = 1 + 2**-11 + 2**-24 exactly; two roundings lose the 2**-24, one keeps it.
    assert fused_multiply_subtract(np.float32(1), a, a) == np.float32(-(2**-11) - 2**-24)
    assert np.float32(1) - a * a == np.float32(-(2**-11))
    c = RNG.standard_normal(10_000)
    x, y = RNG.standard_normal(10_000), RNG.standard_normal(10_000)
    from fractions import Fraction

    exact = [float(Fraction(float(p)) - Fraction(float(q)) * Fraction(float(r))) for p, q, r in zip(c[:200], x[:200], y[:200], strict=True)]
    assert_array_equal(fused_multiply_subtract(c[:200], x[:200], y[:200]), exact)
