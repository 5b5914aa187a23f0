"""The float64 reference and the Keras schedule: values other libraries test, exactness, errors."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import pytest
import tensorflow as tf
from numpy.testing import assert_array_equal, assert_array_max_ulp

import decaybench
from decaybench.config import DecayConfig
from decaybench.keras_schedule import ExponentialDecay
from decaybench.schedule import Schedule, exponential_decay
from decaybench.validation import ArgumentError, InvalidType, InvalidValue

mpmath.mp.prec = 200
INT64_MAX = 2**63 - 1


def exact(step: int, initial: float, decay_steps: int, rate: float, staircase: bool = False) -> float:
    """The schedule in 200-bit arithmetic from the exact rational exponent, rounded once."""
    exponent = mpmath.mpf(step // decay_steps) if staircase else mpmath.mpf(step) / decay_steps
    return float(mpmath.mpf(initial) * mpmath.power(mpmath.mpf(rate), exponent))


# glibc's pow is within 0.52 ULP and the product adds 0.5 ULP: the float64 reference is within
# 1.02 ULP of the exact value whenever step / decay_steps is exact; 2 allows for the result and
# the pow value sitting in different binades.
REFERENCE_ULP = 2


def test_keras_value_at_step_5() -> None:
    # keras/src/optimizers/schedules/learning_rate_schedule_test.py: 0.05 * 0.96 ** (5 / 10)
    assert_array_max_ulp(exponential_decay(5, 0.05, 10, 0.96), exact(5, 0.05, 10, 0.96), maxulp=REFERENCE_ULP)


@pytest.mark.parametrize(("step", "power"), [(1, 0), (2, 0), (100, 33)])
def test_keras_staircase_values(step: int, power: int) -> None:
    # The staircase test in Keras: 0.1, decay_steps 3, rate 0.96.
    assert_array_max_ulp(exponential_decay(step, 0.1, 3, 0.96, staircase=True), exact(power * 3, 0.1, 3, 0.96), maxulp=REFERENCE_ULP)
    if power == 0:
        assert exponential_decay(step, 0.1, 3, 0.96, staircase=True) == 0.1


@pytest.mark.parametrize("decay_steps", [1, 2, 3, 7, 1000])
@pytest.mark.parametrize("k", [1, 2, 5, 40])
def test_staircase_boundaries(decay_steps: int, k: int) -> None:
    below, at, above = (
        exponential_decay(s, 0.3, decay_steps, 0.9, staircase=True) for s in (k * decay_steps - 1, k * decay_steps, k * decay_steps + 1)
    )
    assert below == 0.3 * 0.9 ** float(k - 1)
    assert at == 0.3 * 0.9 ** float(k)
    assert above == (at if decay_steps > 1 else 0.3 * 0.9 ** float(k + 1))
    assert at == exponential_decay(k * decay_steps, 0.3, decay_steps, 0.9)  # continuous meets staircase at k*d


# A rate whose powers stay normal at the stairs below: rate**k = exp(-k * 2**-20 (1 + ...)), and a
# neighbouring stair is a factor 1 - 2**-20 away: 2**32 float64 ULP, 8 float32 ULP.
NEAR_ONE = 1 - 2**-20
# Stair boundaries B = k * d past 2**24, 2**31, 2**53 and near 2**63, each B a multiple of the
# float32 (2**24, 2**31) or float64 (2**53, 2**63) spacing there, so that B - 1 rounds up to B: a
# step cast to that float before the division lands on stair k instead of k - 1. k * 2**-20 <= 44,
# so every stair's value times 0.1 is a normal float32 (0.1 exp(-44) > 2**-126) and float64.
BOUNDARIES = [
    (24, 2**20),  # B = 25,165,824 = 3 * 2**23: float32's spacing there is 2
    (1000, 2_147_488),  # B = 2,147,488,000 = 2**8 * 8,388,625: past int32 too
    (200_000_003, 45_035_996),  # B = 9,007,199,335,107,988 > 2**53, B % 4 == 0
    (200_000_000_003, 46_115_840),  # B = 9,223,168,000,138,347,520, 2**63 - B ~ 2.0e14, B % 2**10 == 0
]
BOUNDARY_IDS = ["2**24", "2**31", "2**53", "2**63"]


def stair_value(step: int, decay_steps: int) -> float:
    """``NEAR_ONE ** floor(step / decay_steps)``: the stair by exact rational division, the power in 200 bits."""
    k = math.floor(Fraction(step, decay_steps))
    return float(mpmath.power(mpmath.mpf(NEAR_ONE), k))


def _tf_schedule(compile_as: str, decay_steps: int) -> Callable[[int], float]:
    from decaybench.schedule import tf_exponential_decay

    def value(step: tf.Tensor) -> tf.Tensor:
        return tf_exponential_decay(step, 1.0, decay_steps, NEAR_ONE, True)

    spec = [tf.TensorSpec([], tf.int64)]
    compiled = {
        "eager": value,
        "function": tf.function(value, input_signature=spec),
        "xla": tf.function(value, input_signature=spec, jit_compile=True),
    }[compile_as]
    return lambda step: float(compiled(tf.constant(step, tf.int64)).numpy())


@pytest.mark.parametrize(("decay_steps", "k"), BOUNDARIES, ids=BOUNDARY_IDS)
def test_staircase_is_the_exact_stair_at_huge_steps(decay_steps: int, k: int) -> None:
    boundary = k * decay_steps
    steps = [boundary - 1, boundary, boundary + 1]
    assert boundary + 1 < 2**63
    want = [stair_value(s, decay_steps) for s in steps]
    # The test can tell the stairs apart: k - 1 and k are 2**32 ULP apart, far beyond REFERENCE_ULP.
    assert want[1] == want[2] and abs(ulp_distance(want[0], want[1])) > 2**31
    assert abs(ulp_distance(want[1], stair_value(boundary + decay_steps, decay_steps))) > 2**31
    got = {
        "reference": [exponential_decay(s, 1.0, decay_steps, NEAR_ONE, staircase=True) for s in steps],
        "reference-array": exponential_decay(np.array(steps, np.int64), 1.0, decay_steps, NEAR_ONE, staircase=True).tolist(),
        **{mode: [_tf_schedule(mode, decay_steps)(s) for s in steps] for mode in ("eager", "function", "xla")},
    }
    for path, values in got.items():
        assert max(abs(ulp_distance(v, w)) for v, w in zip(values, want, strict=True)) <= REFERENCE_ULP, (path, values, want)
    for dtype in ("float64", "float32"):
        schedule = ExponentialDecay(1.0, decay_steps, NEAR_ONE, staircase=True, dtype=dtype)
        keras = np.array([schedule(tf.constant(s, tf.int64)).numpy() for s in steps])
        # float64 within 2 ULP of the exact value, then rounded to float32: at most 1 float32 ULP
        # from the exact value rounded once (a stair is 8 float32 ULP from its neighbours).
        assert_array_max_ulp(keras, np.array(want).astype(dtype), maxulp=REFERENCE_ULP if dtype == "float64" else 1)


def test_staircase_exact_past_float32_steps() -> None:
    # float32(99_999_999) is 1e8 and 1e8 / 3 rounds up to 33_333_334 in float32: Keras and optax
    # take one decay too many here. Integer division does not.
    assert np.floor(np.float32(99_999_999) / np.float32(3)) == 33_333_334
    got = exponential_decay(99_999_999, 1.0, 3, NEAR_ONE, staircase=True)
    assert_array_max_ulp(got, stair_value(99_999_999, 3), maxulp=REFERENCE_ULP)
    assert abs(ulp_distance(got, stair_value(100_000_002, 3))) > 2**31  # stair 33,333,334


def ulp_distance(a: float, b: float) -> int:
    """Signed distance in float64 ULPs between two finite floats of one sign."""
    return int(np.float64(a).view(np.int64)) - int(np.float64(b).view(np.int64))


def test_arrays_equal_scalars_bit_for_bit() -> None:
    steps = np.arange(0, 5000, 7)
    for staircase in (False, True):
        vector = exponential_decay(steps, 0.2, 3, 0.997, staircase=staircase)
        scalars = [exponential_decay(int(s), 0.2, 3, 0.997, staircase=staircase) for s in steps]
        assert_array_equal(vector, scalars)
    assert_array_equal(exponential_decay(steps.astype(float), 0.2, 3, 0.997), exponential_decay(steps, 0.2, 3, 0.997))


def test_float64_against_exact_values() -> None:
    steps = [0, 1, 2, 39, 1000, 123_456]
    got = [exponential_decay(s, 0.2, 1, 0.99) for s in steps]
    assert_array_max_ulp(np.array(got), np.array([exact(s, 0.2, 1, 0.99) for s in steps]), maxulp=REFERENCE_ULP)


def test_overflow_is_inf_not_an_exception() -> None:
    assert exponential_decay(10**6, 1.0, 1, 2.0) == math.inf
    assert exponential_decay(np.array([10**6]), 1.0, 1, 2.0)[0] == math.inf


# Rate 0.96 for the small steps; past 2**24 its powers underflow to 0 (0.96 ** 5,592,405), so the
# huge steps, each boundary's B - 1, B and B + 1, take the rate near 1.
KERAS_CASES = [(0.96, 3, [0, 1, 2, 3, 4, 99, 100, 101]), (NEAR_ONE, 3, [2**24 + 1, 99_999_999])] + [
    (NEAR_ONE, d, [k * d - 1, k * d, k * d + 1]) for d, k in BOUNDARIES
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize(("rate", "decay_steps", "steps"), KERAS_CASES, ids=["0.96", "near-one", *BOUNDARY_IDS])
def test_keras_schedule_equals_reference_rounded(dtype: str, staircase: bool, rate: float, decay_steps: int, steps: list[int]) -> None:
    # Both sides evaluate the same float64 ops with the C library's pow; one cast to dtype.
    schedule = ExponentialDecay(0.1, decay_steps, rate, staircase=staircase, dtype=dtype)
    got = np.array([schedule(tf.constant(s, tf.int64)).numpy() for s in steps])
    want = np.array([exponential_decay(s, 0.1, decay_steps, rate, staircase=staircase) for s in steps])
    assert np.all(want >= np.finfo(dtype).tiny), want  # no value compares 0 with 0
    assert got.dtype == np.dtype(dtype)
    assert_array_equal(got, want.astype(dtype))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_keras_schedule_in_tf_function_and_xla(jit_compile: bool) -> None:
    schedule = ExponentialDecay(0.2, 1, 0.99, dtype="float64")
    compiled = tf.function(lambda step: schedule(step), jit_compile=jit_compile)
    got = [compiled(tf.constant(s, tf.int64)).numpy() for s in range(0, 400, 13)]
    assert_array_equal(got, [exponential_decay(s, 0.2, 1, 0.99) for s in range(0, 400, 13)])


def test_keras_schedule_config_round_trip() -> None:
    schedule = ExponentialDecay(0.05, 10, 0.96, staircase=True, dtype="float64", name="decay")
    config = schedule.get_config()
    assert config == {
        "initial_learning_rate": 0.05,
        "decay_steps": 10,
        "decay_rate": 0.96,
        "staircase": True,
        "dtype": "float64",
        "name": "decay",
    }
    clone = ExponentialDecay.from_config(config)
    assert clone.get_config() == config
    assert float(clone(7)) == float(schedule(7))
    serialized = tf.keras.optimizers.schedules.serialize(schedule)
    assert tf.keras.optimizers.schedules.deserialize(serialized).get_config() == config


def test_keras_schedule_is_a_learning_rate_schedule() -> None:
    assert isinstance(ExponentialDecay(0.2, 1, 0.99), tf.keras.optimizers.schedules.LearningRateSchedule)


def test_keras_schedule_trains_the_seed_with_sgd() -> None:
    # What a user writes: our schedule in a stock tf.keras SGD. It must match the seed's loop,
    # whose lr is the same float64 value rounded to float32 by TensorFlow.
    schedule = ExponentialDecay(0.2, 1, 0.99)
    optimizer = tf.keras.optimizers.SGD(learning_rate=schedule)
    w = tf.Variable(5.0)
    seed_w = tf.Variable(5.0)
    for epoch in range(40):
        with tf.GradientTape() as tape:
            loss = tf.square(w + 1)
        optimizer.apply_gradients([(tape.gradient(loss, w), w)])
        with tf.GradientTape() as tape:
            seed_loss = tf.square(seed_w + 1)
        seed_w.assign_sub(0.2 * 0.99 ** (epoch / 1) * tape.gradient(seed_loss, seed_w))
        assert_array_equal(w.numpy(), seed_w.numpy())
        assert_array_equal(loss.numpy(), seed_loss.numpy())
    assert f"{w.numpy():f}" == "-0.999999"


BAD_ARGUMENTS = [
    ("initial_learning_rate", -0.1, InvalidValue),
    ("initial_learning_rate", math.nan, InvalidValue),
    ("initial_learning_rate", math.inf, InvalidValue),
    ("initial_learning_rate", "0.2", InvalidType),
    ("decay_rate", 0.0, InvalidValue),
    ("decay_rate", -0.5, InvalidValue),
    ("decay_rate", math.nan, InvalidValue),
    ("decay_rate", math.inf, InvalidValue),
    ("decay_rate", None, InvalidType),
    ("decay_steps", 0, InvalidValue),
    ("decay_steps", -3, InvalidValue),
    ("decay_steps", 1.5, InvalidType),
    ("decay_steps", 3.0, InvalidType),
    ("decay_steps", True, InvalidType),
    ("decay_steps", "3", InvalidType),
    ("staircase", 1, InvalidType),
    ("staircase", "yes", InvalidType),
]


@pytest.mark.parametrize(("argument", "value", "error"), BAD_ARGUMENTS)
def test_reference_refuses_bad_arguments(argument: str, value: object, error: type[Exception]) -> None:
    arguments = {"initial_learning_rate": 0.2, "decay_steps": 1, "decay_rate": 0.99, "staircase": False, argument: value}
    with pytest.raises(error) as raised:
        exponential_decay(3, **arguments)
    assert argument in str(raised.value) and repr(value) in str(raised.value)


@pytest.mark.parametrize(("argument", "value", "error"), [*BAD_ARGUMENTS, ("dtype", "float8", InvalidValue)])
def test_keras_schedule_refuses_bad_arguments(argument: str, value: object, error: type[Exception]) -> None:
    arguments = {"initial_learning_rate": 0.2, "decay_steps": 1, "decay_rate": 0.99, "staircase": False, argument: value}
    with pytest.raises(error) as raised:
        ExponentialDecay(**arguments)
    assert argument in str(raised.value) and repr(value) in str(raised.value)


@pytest.mark.parametrize("step", [-1, -7, -0.5, math.nan, np.array([3, -2])])
def test_negative_steps_are_refused(step: object) -> None:
    with pytest.raises(InvalidValue, match="step must be >= 0") as raised:
        exponential_decay(step, 0.2, 1, 0.99)
    if isinstance(step, int):
        assert f"step must be >= 0, got {step}" in str(raised.value)  # the step named with its value


@pytest.mark.parametrize("step", [-1, tf.constant(-4, tf.int64)])
def test_keras_schedule_refuses_negative_steps_eagerly(step: object) -> None:
    with pytest.raises(InvalidValue, match="step must be >= 0"):
        ExponentialDecay(0.2, 1, 0.99)(step)


@pytest.mark.parametrize("step", [True, "3", None, tf.constant("3")])
def test_steps_of_the_wrong_type_are_refused(step: object) -> None:
    with pytest.raises(InvalidType, match="step"):
        if isinstance(step, tf.Tensor):
            ExponentialDecay(0.2, 1, 0.99)(step)
        else:
            exponential_decay(step, 0.2, 1, 0.99)


def test_schedule_value_is_the_reference_and_its_tf_twin() -> None:
    schedule = Schedule(0.1, 3, 0.96, staircase=True)
    steps = np.arange(0, 500, 7)
    assert_array_equal(schedule.lr(steps), exponential_decay(steps, 0.1, 3, 0.96, staircase=True))
    # One step at a time: TensorFlow's scalar pow is libm's, so the twins agree bit for bit.
    assert [float(schedule.tf_lr(int(s))) for s in steps[:20]] == [schedule.lr(int(s)) for s in steps[:20]]
    assert schedule.tf_lr(5).dtype == tf.float64
    with pytest.raises(dataclasses.FrozenInstanceError):
        schedule.decay_rate = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(("argument", "value", "error"), BAD_ARGUMENTS)
def test_schedule_refuses_what_the_reference_refuses(argument: str, value: object, error: type[Exception]) -> None:
    arguments = {"initial_learning_rate": 0.2, "decay_steps": 1, "decay_rate": 0.99, "staircase": False, argument: value}
    with pytest.raises(error) as raised:
        Schedule(**arguments)  # type: ignore[arg-type]
    assert raised.value.argument == argument  # type: ignore[attr-defined]


def test_schedule_checks_once_and_converts() -> None:
    schedule = Schedule(1, 2, 1)  # integers are real numbers: stored as floats
    assert (type(schedule.initial_learning_rate), type(schedule.decay_rate)) == (float, float)
    assert ExponentialDecay(1, 2, 1).schedule == schedule


def test_keras_class_is_defined_at_module_level_and_registered() -> None:
    assert decaybench.ExponentialDecay is ExponentialDecay  # the README's name, through the package's lazy import
    assert (ExponentialDecay.__module__, ExponentialDecay.__qualname__) == ("decaybench.keras_schedule", "ExponentialDecay")
    assert tf.keras.utils.get_registered_object("decaybench>ExponentialDecay") is ExponentialDecay


def test_the_reference_does_not_load_tensorflow() -> None:
    code = "import sys, decaybench.schedule, decaybench.config; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


# --- The reference and the Keras class agree on every input either accepts (or both refuse it, naming the step).

SCHEDULE = (0.2, 1, 0.99)
STEPS: list[Any] = [
    0,
    7,
    0.1,
    7.3,
    math.inf,
    INT64_MAX,
    np.uint64(INT64_MAX),
    np.uint64(2**63),
    np.uint64(2**64 - 1),
    2**63,
    10**30,
    np.float16(3.5),
    np.float32(1e30),
    np.longdouble(2.25),
    np.array([1, 2, 2**40], dtype=np.uint64),
    np.array([3, 2**63], dtype=np.uint64),
    np.array([0.5, np.inf]),
    -1,
    math.nan,
    True,
]


def _outcome(compute: Any) -> Any:
    try:
        value = compute()
    except (ValueError, TypeError) as error:
        assert isinstance(error, ArgumentError) and error.argument == "step", error
        return ("refused", str(error))
    return np.asarray(value, dtype=np.float64).tolist()


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("step", STEPS, ids=repr)
def test_reference_and_keras_class_agree_or_both_refuse(step: Any, staircase: bool) -> None:
    keras = ExponentialDecay(*SCHEDULE, staircase=staircase, dtype="float64")
    reference = _outcome(lambda: exponential_decay(step, *SCHEDULE, staircase=staircase))
    assert _outcome(lambda: keras(step).numpy()) == reference
    if isinstance(reference, tuple):
        assert "must be >= 0" in reference[1] or "largest int64" in reference[1] or "must be an int" in reference[1]
        assert "-9223372036854775808" not in reference[1]  # a uint64 step is never reported as negative


def test_huge_steps_give_the_documented_limits() -> None:
    assert exponential_decay(math.inf, 0.2, 1, 0.99, staircase=True) == 0.0
    assert exponential_decay(math.inf, 0.2, 3, 1.01, staircase=True) == math.inf
    assert exponential_decay(math.inf, 0.2, 3, 1.0, staircase=True) == 0.2
    assert exponential_decay(np.uint64(INT64_MAX), 0.2, 1, 0.99) == 0.0


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda: exponential_decay(np.arange(3), 0.1, 10**30, 0.96, staircase=True), "decay_steps"),
        (lambda: exponential_decay(3, 0.1, 3, 0.96, transition_begin=2**63), "transition_begin"),
        (lambda: exponential_decay(3, 10**400, 3, 0.96), "initial_learning_rate"),
        (lambda: DecayConfig(decay_rate=10**400), "decay_rate"),
        (lambda: DecayConfig(w0=10**400), "w0"),
    ],
)
def test_api_overflow_is_a_named_invalid_value(make: Any, argument: str) -> None:
    with pytest.raises(ValueError) as raised:
        make()
    assert isinstance(raised.value, ArgumentError) and raised.value.argument == argument


def test_keras_class_refuses_past_int64_at_construction() -> None:
    for arguments in [(0.2, 10**30, 0.99), (0.2, 2**63, 0.99)]:
        with pytest.raises(ValueError, match="decay_steps must be at most 9223372036854775807"):
            ExponentialDecay(*arguments)
    with pytest.raises(ValueError, match="transition_begin must be at most"):
        ExponentialDecay(0.2, 1, 0.99, transition_begin=2**63)
