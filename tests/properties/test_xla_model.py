"""Mode xla is its model bit for bit: the emulation, fused where XLA contracts, its loss summed in XLA's order.

The model (:func:`decaybench.modes.emulation.xla_model`) is ``emulate(config, fused, sum_order="xla")``
with ``fused`` true where XLA contracts ``w - lr * g`` (and the ``<= 32``-element loss loop) into
FMAs: a CPU with FMA and no ISA cap. A run's ``w`` is one value repeated, so the drawn runs cannot
tell where XLA pads its windows of 32; :func:`test_xla_sums_distinct_squares_in_its_order` draws
distinct values for that.

XLA's order was read from the optimized HLO of TensorFlow 2.21's XLA (:data:`ORDER_READ_ON`). Other
XLAs sum in other orders (TF 2.15's parts from it from 7 float32 values on): there ``w`` and ``lr``
are still the model bit for bit (the update is elementwise, no sum feeds it) and the loss is held to
:func:`decaybench.bounds.summation_order_bound` taken at ``2 * size`` terms. Any way of summing
``n`` squares, each square rounded or fused into its add, rounds at most ``2n - 1`` times, so it
lies within ``gamma(2n - 1)`` of the exact sum, and two such ways within ``2 gamma(2n - 1)`` of it:
the bound at ``2n`` terms, whose ``S`` is twice the sum.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from decaybench._reduction import eigen_sum, xla_sum_of_squares
from decaybench.bounds import summation_order_bound
from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.modes.compiled import loss_and_gradient
from decaybench.modes.emulation import emulate, xla_model
from decaybench.oracle import ulp_distance
from decaybench.xla_flags import XLA_NO_FMA, xla_contracts
from tests.properties.strategies import exact_configs

# (dtype, size, epochs, record_every): one XLA compilation each. Sizes on both sides of XLA's
# 32-element loop, of one window tree level (33..1024) and of two (1025..).
# TensorFlow versions whose XLA sums in the order xla_sum_of_squares writes out (read from their HLO).
ORDER_READ_ON = ("2.21.",)
ORDER_READ = tf.__version__.startswith(ORDER_READ_ON)

XLA_SHAPES = [
    ("float32", 1, 30, 1),
    ("float64", 1, 30, 1),
    ("float32", 5, 20, 1),
    ("float64", 3, 20, 3),
    ("float32", 32, 20, 1),
    ("float64", 33, 20, 1),
    ("float32", 100, 20, 1),
    ("float64", 1000, 12, 3),
    ("float32", 1100, 12, 1),
]


def xla_configs() -> st.SearchStrategy[DecayConfig]:
    """:data:`XLA_SHAPES` with any schedule: staircase, ``transition_begin`` and ``end_value`` included."""
    return exact_configs(XLA_SHAPES, smallest32=1e-6)


def _differences(got: object, want: object) -> str:
    return ", ".join(f"{name} {int(np.sum(getattr(got, name) != getattr(want, name)))}" for name in ("w", "loss", "lr"))


# Each shape compiles once; 60 examples whatever the profile keep the property at ~1 s an example.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xla_configs())
@example(DecayConfig())  # the seed: epochs 3, 4 and 5 are where fused and plain part
@example(DecayConfig(dtype="float64", size=33, epochs=20, w0=-3.3, initial_learning_rate=0.37))
@example(DecayConfig(size=1100, epochs=12, staircase=True, decay_steps=3, transition_begin=4, end_value=0.1))
@example(DecayConfig(initial_learning_rate=1.2, decay_rate=1.5, epochs=30))  # diverges to inf and NaN
@example(DecayConfig(initial_learning_rate=1.0, decay_rate=3.0, epochs=30, dtype="float64"))  # a fused square past float64's range
def test_xla_is_its_model_bit_for_bit(config: DecayConfig) -> None:
    got, want = run(config, "xla"), xla_model(config)
    assert_array_equal(got.lr, want.lr)
    assert_array_equal(got.w, want.w, err_msg=f"{config}: {_differences(got, want)} values differ")
    if ORDER_READ or config.size == 1:  # one square: no order to read
        assert_array_equal(got.loss, want.loss, err_msg=f"{config}: {_differences(got, want)} values differ")
        return
    scalar = emulate(dataclasses.replace(config, size=1, record_every=1))
    bound = summation_order_bound(scalar, 2 * config.size)[config.recorded()]
    finite = _finite_rows(want.loss)
    assert np.all(ulp_distance(got.loss, want.loss)[:finite] <= bound[:finite]), config


def _finite_rows(loss: np.ndarray) -> int:
    """Rows before the first non-finite loss (where ULPs stop meaning anything)."""
    finite = np.isfinite(loss)
    return len(finite) if finite.all() else int(np.argmin(finite))


_LOSS = tf.function(lambda w: loss_and_gradient(w)[0], jit_compile=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([np.float32, np.float64]),
    st.sampled_from([2, 7, 31, 32, 33, 40, 63, 65, 100, 1024, 1025, 1100, 5000]),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_xla_sums_distinct_squares_in_its_order(dtype: type, size: int, seed: int) -> None:
    if not ORDER_READ:
        pytest.skip(f"XLA's order was read on TensorFlow {', '.join(ORDER_READ_ON)}x; this is {tf.__version__}")
    x = (np.random.default_rng(seed).standard_normal(size) * 3).astype(dtype)
    # The compiled loss sees w = x - 1 and squares w + 1, which rounds back to x only nearly.
    w = (x - 1).astype(dtype)
    squared = (w + dtype(1)).astype(dtype)
    assert _LOSS(tf.constant(w)).numpy() == xla_sum_of_squares(squared, fused=xla_contracts())


def test_xla_sums_in_another_order_than_eigen() -> None:
    # Why the model needs its own order: Eigen's 4 packet accumulators and XLA's 32-wide windows
    # part on most vectors past a packet (8 float32 lanes), so a model summing as eigen_sum would miss.
    rng = np.random.default_rng(7)
    vectors = [rng.standard_normal(100).astype(np.float32) for _ in range(20)]
    assert any(xla_sum_of_squares(x, fused=False) != eigen_sum(x * x) for x in vectors)


def test_the_model_is_fused_only_where_xla_contracts(monkeypatch: pytest.MonkeyPatch) -> None:
    config = DecayConfig()  # the seed: fused and plain part at epoch 3
    monkeypatch.setenv("XLA_FLAGS", XLA_NO_FMA)
    assert_array_equal(xla_model(config).w, emulate(config).w)
    monkeypatch.setenv("XLA_FLAGS", "")
    if not xla_contracts():
        pytest.skip("this CPU has no FMA, so XLA never contracts")
    assert_array_equal(xla_model(config).w, emulate(config, fused=True).w)


def test_xla_without_fma_is_the_plain_model() -> None:
    # Where XLA does not contract (ISA capped below FMA) mode xla is the plain emulation, its loss in XLA's order.
    script = """
        import numpy as np
        from decaybench import DecayConfig, run
        from decaybench.modes.emulation import emulate, xla_model
        configs = (DecayConfig(), DecayConfig(dtype="float64", w0=9.1, size=33, epochs=20), DecayConfig(size=100, staircase=True,
                   decay_steps=3, transition_begin=2, end_value=0.15), DecayConfig(dtype="float64", size=1100, epochs=9))
        for config in configs:
            xla, plain, model = run(config, "xla"), emulate(config, sum_order="xla"), xla_model(config)
            assert plain.identical(model), config
            assert np.array_equal(xla.w, plain.w) and np.array_equal(xla.loss, plain.loss), config
        print("plain")
    """
    env = {**os.environ, "XLA_FLAGS": XLA_NO_FMA, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True, timeout=600)
    if "unknown flag" in done.stderr.lower():
        pytest.skip("this XLA has no --xla_cpu_max_isa flag")
    assert done.returncode == 0 and done.stdout.strip() == "plain", done.stderr[-2000:]
