"""optax's ``transition_begin`` and ``end_value``: optax's own ``ExponentialTest`` cases, ported.

The cases are those of ``optax/schedules/_schedule_test.py`` (``ExponentialTest.test_exponential``
and ``test_end_value_with_staircase``), with their expected values computed by the test's own
formula in float64: the reference reproduces every one bit for bit. optax's float32 schedule is
then compared with the reference rounded to float32 (the peers row).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from decaybench.config import DecayConfig
from decaybench.loops import MODES, run
from decaybench.modes import REGISTRY
from decaybench.modes.emulation import emulate
from decaybench.schedule import Schedule, exponential_decay
from decaybench.validation import ArgumentError


def _optax_expected(init: float, steps: int, rate: float, begin: int, staircase: bool, count: int, end: float | None = None) -> list[float]:
    """The test's expected values: ``[init] * begin + [init * rate ** p(c) for c in range(count)]``, clipped."""

    def p(c: int) -> float:
        return float(math.floor(c / steps)) if staircase else c / steps

    values = [init] * begin + [init * math.pow(rate, p(c)) for c in range(count)]
    if end is not None:
        values = [max(v, end) if rate < 1.0 else min(v, end) for v in values]
    return values


# test_exponential: init 1, transition_steps 2, decay_rate 2, 15 steps after the transition.
EXPONENTIAL = [(False, 0), (True, 0), (False, 5), (True, 5)]
# test_end_value_with_staircase: init 1, transition_steps 2, transition_begin 3, 11 steps.
END_VALUE = [(0.2, 0.1, False), (1.0, 0.1, False), (2.0, 3.0, False), (0.2, 0.1, True), (1.0, 0.1, True), (2.0, 3.0, True)]


@pytest.mark.parametrize(("staircase", "begin"), EXPONENTIAL)
def test_optax_exponential_cases(staircase: bool, begin: int) -> None:
    steps = np.arange(15 + begin)
    got = exponential_decay(steps, 1.0, 2, 2.0, staircase, transition_begin=begin)
    assert_array_equal(got, _optax_expected(1.0, 2, 2.0, begin, staircase, 15))
    assert [exponential_decay(int(s), 1.0, 2, 2.0, staircase, transition_begin=begin) for s in steps] == got.tolist()


@pytest.mark.parametrize(("rate", "end", "staircase"), END_VALUE)
def test_optax_end_value_cases(rate: float, end: float, staircase: bool) -> None:
    steps = np.arange(11 + 3)
    got = exponential_decay(steps, 1.0, 2, rate, staircase, transition_begin=3, end_value=end)
    assert_array_equal(got, _optax_expected(1.0, 2, rate, 3, staircase, 11, end))


@pytest.mark.parametrize(
    ("schedule", "count"),
    [(Schedule(1.0, 2, 2.0, staircase, transition_begin=begin), 15 + begin) for staircase, begin in EXPONENTIAL]
    + [(Schedule(1.0, 2, rate, staircase, transition_begin=3, end_value=end), 14) for rate, end, staircase in END_VALUE],
    ids=lambda value: "" if isinstance(value, int) else repr(value),
)
def test_optax_peer_agrees_on_the_options(schedule: Schedule, count: int) -> None:
    # The peers row: optax's own float32 schedule against the reference rounded once to float32.
    from decaybench.peers import PEERS, PeerUnavailable

    try:
        theirs = PEERS["optax"].schedule(schedule, np.arange(count))
    except PeerUnavailable as error:
        pytest.skip(error.reason)
    assert_array_equal(theirs.astype(np.float32), schedule.lr(np.arange(count)).astype(np.float32))


def test_tf_formula_and_keras_class_take_the_options() -> None:
    tf = pytest.importorskip("tensorflow")
    from decaybench.keras_schedule import ExponentialDecay
    from decaybench.schedule import tf_exponential_decay

    for rate, end, staircase in END_VALUE:
        expected = exponential_decay(np.arange(14), 1.0, 2, rate, staircase, transition_begin=3, end_value=end)
        got = [float(tf_exponential_decay(tf.constant(s, tf.int64), 1.0, 2, rate, staircase, 3, end)) for s in range(14)]
        assert got == expected.tolist()
        schedule = ExponentialDecay(1.0, 2, rate, staircase, dtype="float32", transition_begin=3, end_value=end)
        assert_array_equal([schedule(s).numpy() for s in range(14)], expected.astype(np.float32))
        assert ExponentialDecay.from_config(schedule.get_config()).get_config() == schedule.get_config()
    assert "end_value" not in ExponentialDecay(0.2, 1, 0.99).get_config()  # the defaults leave the config as it was


OPTIONS = DecayConfig(epochs=12, transition_begin=3, end_value=0.19, record_every=2)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_takes_the_options(mode: str) -> None:
    # Mode numpy is the emulation: it is held to eager, TensorFlow's own kernels, instead.
    trace, emulated = run(OPTIONS, mode), run(OPTIONS, "eager") if mode == "numpy" else emulate(OPTIONS)
    # optax's semantics written out: 0.2 held for 3 epochs, then 0.2 * 0.99 ** (e - 3), floored at 0.19.
    assert trace.lr.tolist() == [max(0.2 * math.pow(0.99, max(e - 3, 0)), 0.19) for e in OPTIONS.recorded().tolist()]
    assert_array_equal(trace.lr, emulated.lr)
    assert trace.lr[1] == 0.2 and trace.lr[-1] == 0.19  # held, then floored
    if REGISTRY[mode].contract == "exact":
        assert_array_equal(trace.w, emulated.w)
        assert_array_equal(trace.loss, emulated.loss)


@pytest.mark.parametrize(
    ("argument", "value", "error"),
    [
        ("transition_begin", -1, ValueError),
        ("transition_begin", 2.5, TypeError),
        ("transition_begin", True, TypeError),
        ("end_value", math.nan, ValueError),
        ("end_value", -1.0, ValueError),
        ("end_value", math.inf, ValueError),
    ],
)
def test_options_are_checked_everywhere(argument: str, value: Any, error: type[Exception]) -> None:
    for build in (
        lambda: exponential_decay(1, 0.2, 1, 0.99, **{argument: value}),
        lambda: Schedule(0.2, 1, 0.99, **{argument: value}),
        lambda: DecayConfig(**{argument: value}),
    ):
        with pytest.raises(error) as raised:
            build()
        assert isinstance(raised.value, ArgumentError) and raised.value.argument == argument
