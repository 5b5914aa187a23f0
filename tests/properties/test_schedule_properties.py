"""Properties of the schedule, stated as math, on the float64 reference and the Keras class."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import tensorflow as tf
from hypothesis import assume, example, given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal, assert_array_max_ulp

from decaybench.keras_schedule import ExponentialDecay
from decaybench.rounding import flush_subnormals
from decaybench.schedule import exponential_decay
from tests.properties.strategies import decay_steps, decaying_rates, growing_rates, huge_steps, positive_lrs, rates, schedules, small_steps

TINY = np.finfo(np.float64).tiny


@given(schedules())
def test_lr_at_zero_is_the_initial_value(schedule: dict) -> None:
    assert exponential_decay(0, **schedule) == schedule["initial_learning_rate"]


@given(positive_lrs, decay_steps, decaying_rates, small_steps, st.integers(min_value=1, max_value=10**4))
def test_strictly_decreasing_below_one(initial: float, d: int, rate: float, a: int, gap: int) -> None:
    # rate <= 0.999 and d <= 1e6 keep r**((b - a)/d) below 1 - 1e-9, far beyond the reference's
    # 2-ULP error, so rounding cannot tie the two values.
    lr_a, lr_b = (exponential_decay(s, initial, d, rate) for s in (a, a + gap))
    assume(lr_b > 1e10 * TINY)
    assert lr_a > lr_b


@given(positive_lrs, decay_steps, growing_rates, small_steps, st.integers(min_value=1, max_value=10**4))
def test_strictly_increasing_above_one(initial: float, d: int, rate: float, a: int, gap: int) -> None:
    lr_a, lr_b = (exponential_decay(s, initial, d, rate) for s in (a, a + gap))
    assume(math.isfinite(lr_b) and lr_a > 1e10 * TINY)
    assert lr_a < lr_b


@given(positive_lrs, decay_steps, rates, st.integers(min_value=0, max_value=10**6))
@example(1.0, 3, 1 - 2**-20, 33_333_333)  # the step 99,999,999 that float32 steps get wrong
def test_staircase_is_flat_within_a_step_and_meets_continuous_at_multiples(initial: float, d: int, rate: float, k: int) -> None:
    start = k * d
    stairs = exponential_decay(np.array([start, start + d // 2, start + d - 1, start + d]), initial, d, rate, staircase=True)
    assume(TINY <= stairs[0] < math.inf and rate != 1.0)  # not 0 == 0 or inf == inf
    assert stairs[0] == stairs[1] == stairs[2]
    assert stairs[3] != stairs[2] or stairs[3] < TINY  # the next stair is another value
    assert stairs[0] == exponential_decay(start, initial, d, rate)


mpmath.mp.prec = 200


def exact_lr(initial: float, rate: float, exponent: Fraction) -> float:
    """``initial * rate ** exponent`` in 200-bit arithmetic, rounded once to float64."""
    return float(mpmath.mpf(initial) * mpmath.power(mpmath.mpf(rate), mpmath.mpf(exponent.numerator) / exponent.denominator))


# glibc's pow is within 0.52 ULP and the product by initial adds 0.5: within 1.02 ULP of the exact
# value when the exponent is exact; 2 allows for pow's result and the product in different binades.
REFERENCE_ULP = 2


@given(positive_lrs, decay_steps, rates, st.integers(min_value=0, max_value=10**6), st.booleans())
def test_lr_at_multiples_is_initial_times_rate_to_the_k(initial: float, d: int, rate: float, k: int, staircase: bool) -> None:
    # k*d/d is exact, so the value is initial * rate**k: derived here in 200 bits, not by the reference's ops.
    got = exponential_decay(k * d, initial, d, rate, staircase=staircase)
    want, power = exact_lr(initial, rate, Fraction(k)), exact_lr(1.0, rate, Fraction(k))
    assume(TINY <= want <= np.finfo(np.float64).max and TINY <= power <= np.finfo(np.float64).max)  # pow itself in range
    assert_array_max_ulp(got, want, maxulp=REFERENCE_ULP)


@given(huge_steps())
@example(({"initial_learning_rate": 1.0, "decay_steps": 3, "decay_rate": 1 - 2**-20, "staircase": True}, 99_999_999))
@example(({"initial_learning_rate": 0.2, "decay_steps": 1, "decay_rate": 1 - 2**-40, "staircase": False}, 2**24 + 1))
def test_reference_at_any_step_is_the_exact_stair(drawn: tuple[dict, int]) -> None:
    schedule, step = drawn
    d, rate = schedule["decay_steps"], schedule["decay_rate"]
    # The exponent by exact rational arithmetic: floor(step / d), or step / d, which the reference
    # rounds twice (float(step), then the division): within 2u relative, so the value moves by up
    # to 2u |ln(power)| relative, 2 |ln(power)| ULP, on top of the 2 ULP of an exact exponent.
    exponent = Fraction(step // d) if schedule["staircase"] else Fraction(step, d)
    want = exact_lr(schedule["initial_learning_rate"], rate, exponent)
    bound = REFERENCE_ULP if schedule["staircase"] else REFERENCE_ULP + math.ceil(2 * abs(float(exponent) * math.log(rate)))
    assert_array_max_ulp(exponential_decay(step, **schedule), want, maxulp=bound)
    if schedule["staircase"]:  # one stair off is more than the bound away (huge_steps keeps |ln rate| >= 2**-40)
        neighbour = exact_lr(schedule["initial_learning_rate"], rate, exponent + 1)
        assert abs(int(np.float64(neighbour).view(np.int64)) - int(np.float64(want).view(np.int64))) > 2 * bound


@given(
    positive_lrs,
    st.floats(min_value=0.9, max_value=1.1),
    st.integers(min_value=0, max_value=3000),
    st.integers(min_value=0, max_value=3000),
)
def test_product_rule_within_five_ulp(initial: float, rate: float, a: int, b: int) -> None:
    # With decay_steps 1 the exponents are exact. Each lr is within 1.02 ULP (relative 1.02u) of
    # the exact value: glibc pow 0.52 ULP, the product by initial 0.5 ULP. lr(a)*lr(b) adds one
    # more rounding: 2.54u; initial*lr(a+b): 1.52u. They differ by at most 4.06u relative, which
    # is at most 4.06 ULP of the result (a ULP is at least u times the value): 5 ULP.
    left = exponential_decay(a, initial, 1, rate) * exponential_decay(b, initial, 1, rate)
    right = initial * exponential_decay(a + b, initial, 1, rate)
    assume(1e-300 < right < 1e300 and 1e-300 < left < 1e300)
    assert_array_max_ulp(left, right, maxulp=5)


@given(positive_lrs, decay_steps, decaying_rates, small_steps)
def test_staircase_never_below_continuous_when_decaying(initial: float, d: int, rate: float, step: int) -> None:
    stairs = exponential_decay(step, initial, d, rate, staircase=True)
    continuous = exponential_decay(step, initial, d, rate)
    assert stairs >= continuous


@given(st.one_of(st.tuples(schedules(), small_steps), huge_steps()))
@example(({"initial_learning_rate": 1.0, "decay_steps": 3, "decay_rate": 1 - 2**-20, "staircase": True}, 99_999_999))
@example(({"initial_learning_rate": 0.2, "decay_steps": 1, "decay_rate": 0.99, "staircase": False}, 2**24 + 1))
@example(({"initial_learning_rate": 1.0, "decay_steps": 6, "decay_rate": 0.1875, "staircase": False}, 314))
@example(({"initial_learning_rate": 1.1125369292536007e-308, "decay_steps": 1, "decay_rate": 2.0, "staircase": False}, 1))
def test_keras_class_is_the_reference_rounded_once(drawn: tuple[dict, int]) -> None:
    schedule, step = drawn
    # DAZ: TensorFlow's kernels read a subnormal initial rate as 0 (found by hypothesis: 2**-1023 * 2 is
    # 2**-1022, a normal float64, in the reference, and 0 in TensorFlow).
    schedule = {**schedule, "initial_learning_rate": float(flush_subnormals(np.float64(schedule["initial_learning_rate"])))}
    reference = np.float64(exponential_decay(step, **schedule))
    tensor_step = tf.constant(step, tf.int64)
    float64 = ExponentialDecay(**schedule, dtype="float64")(tensor_step).numpy()
    float32 = ExponentialDecay(**schedule, dtype="float32")(tensor_step).numpy()
    # TensorFlow's CPU kernels flush subnormal results to zero (FTZ), the pow and the cast alike
    # (found by hypothesis: 0.1875 ** (314 / 6) is a float32 subnormal and becomes 0).
    assert_array_equal(float64, flush_subnormals(reference))
    with np.errstate(over="ignore"):  # a float64 lr past float32's range is inf in both
        assert_array_equal(float32, flush_subnormals(reference.astype(np.float32)))
