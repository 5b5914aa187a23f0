"""Properties of whole training runs, on random configurations."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from decaybench.bounds import bound_emulation
from decaybench.config import DecayConfig
from decaybench.loops import MODES, run
from decaybench.modes import REGISTRY
from decaybench.modes.emulation import emulate, emulate_steps
from decaybench.steps import several_steps, step_lrs
from decaybench.trace import first_unstable_epoch, parse_lines
from decaybench.verify import compare
from tests.properties.strategies import LOOP_SETTINGS, SLOW_PATH_SETTINGS, configs


@LOOP_SETTINGS
@given(configs(max_size=8193))
@example(DecayConfig())
@example(DecayConfig(w0=-1.0))
@example(DecayConfig(size=1000, dtype="float32", epochs=5))
@example(DecayConfig(size=257, dtype="float32", epochs=3, transition_begin=2, end_value=0.15))
@example(DecayConfig(size=8193, dtype="float64", epochs=3))
def test_eager_equals_the_emulation_bit_for_bit(config: DecayConfig) -> None:
    # Mode numpy is the emulation; eager is TensorFlow's kernels: each is the other's check.
    eager, emulated = run(config, "eager"), run(config, "numpy")
    assert_array_equal(eager.w, emulated.w)
    assert_array_equal(eager.loss, emulated.loss)
    assert_array_equal(eager.lr, emulated.lr)


# The modes that wrap Keras or a distribution strategy around the loop: their own, fewer examples.
SLOW_PATHS = ("keras", "fit", "callback", "mirrored", "multiworker")
# Mode numpy is the emulation these properties hold the others to: the eager property above checks it.
SELF = ("numpy",)
# Sizes across the AVX (8) and AVX-512 (16) packets and the 32-element unroll: XLA compiles per size.
LOOP_CONFIGS = configs(max_size=33, epochs=st.sampled_from([1, 7, 40]))


def _within_bounds(config: DecayConfig, modes: tuple[str, ...]) -> None:
    # One run per mode, checked by the very comparison verify uses: repeatability and resume
    # have their own tests (test_determinism, test_resume), so the examples go to the bounds.
    emulated, full = emulate(config), bound_emulation(config)
    for mode in modes:
        contract = REGISTRY[mode].contract
        comparison = compare(run(config, mode), emulated, contract, full)
        assert comparison.within_bound, (mode, comparison)
        if contract == "exact":
            assert comparison.identical, (mode, comparison)


@LOOP_SETTINGS
@given(LOOP_CONFIGS)
def test_every_mode_stays_within_its_bound(config: DecayConfig) -> None:
    # epochs from a small set: XLA compiles once per epochs value, so examples reuse compiles.
    _within_bounds(config, tuple(mode for mode in MODES if mode not in SLOW_PATHS + SELF))


@SLOW_PATH_SETTINGS
@given(LOOP_CONFIGS)
def test_the_keras_and_distributed_paths_stay_within_their_bounds(config: DecayConfig) -> None:
    _within_bounds(config, tuple(mode for mode in MODES if mode in SLOW_PATHS))


@SLOW_PATH_SETTINGS
@given(configs(max_size=33, epochs=st.sampled_from([1, 7, 12]), steps_per_epoch=st.integers(min_value=1, max_value=4)))
@example(DecayConfig(epochs=7, steps_per_epoch=3))
@example(
    DecayConfig(epochs=7, steps_per_epoch=2, size=9, dtype="float64", staircase=True, decay_steps=2, transition_begin=2, end_value=0.19)
)
def test_fit_and_callback_are_the_emulation_of_their_updates(config: DecayConfig) -> None:
    # S updates an epoch on the same sample: fit's lr counts updates, the callback's epochs (decaybench.steps).
    for mode in several_steps():
        trace, emulated = run(config, mode), emulate_steps(config, step_lrs(config, mode))
        assert_array_equal(trace.w, emulated.w, err_msg=mode)
        assert_array_equal(trace.loss, emulated.loss, err_msg=mode)
        assert_array_equal(trace.lr, emulated.lr, err_msg=mode)


def test_the_property_tests_cover_every_mode() -> None:
    assert set(SLOW_PATHS) < set(MODES), set(SLOW_PATHS) - set(MODES)
    assert set(several_steps()) <= set(SLOW_PATHS) and set(SELF) < set(MODES)


@given(configs(max_epochs=300, max_lr=0.5, rate=st.floats(min_value=0.5, max_value=1.0), max_size=3))
@example(DecayConfig(initial_learning_rate=0.5, decay_rate=1.0, epochs=5))
@example(DecayConfig(initial_learning_rate=0.5, decay_rate=1.0, w0=-37.25, dtype="float32"))
@example(DecayConfig(initial_learning_rate=0.5000000000000001, decay_rate=1.0, w0=5.0, dtype="float32"))
def test_distance_to_minimum_never_grows_when_two_lr_at_most_one(config: DecayConfig) -> None:
    # Exact math: x <- (1 - 2 lr) x with 0 <= 2 lr <= 1 cannot grow |x|. In floats, the product
    # lr * 2x rounds to at most |x| (rounding is monotone and x is a float), so w - lr * 2x
    # lies between w and -1, and so does its rounding: the property survives rounding.
    trace = emulate(dataclasses.replace(config, record_every=1))
    distance = np.abs(trace.w.astype(np.float64) + 1.0)[:, 0]
    start = abs(float(np.asarray(config.w0, dtype=config.dtype)) + 1.0)
    assert np.all(np.diff(np.concatenate([[start], distance])) <= 0)


@LOOP_SETTINGS
@given(
    st.floats(min_value=1.0, max_value=3.0, exclude_min=True),
    st.floats(min_value=1.0, max_value=1.5),
    st.sampled_from(["eager", "graph", "xla", "numpy"]),
    st.sampled_from(["float32", "float64"]),
)
@example(2.0, 1.0, "xla", "float32")
@example(1.0000000000000002, 1.0, "eager", "float64")
@example(1.0000000000000004, 1.5, "eager", "float32")
@example(1.0000000000000004, 1.0000000000000002, "eager", "float32")
def test_a_diverging_run_completes_and_says_so(initial: float, rate: float, mode: str, dtype: str) -> None:
    config = DecayConfig(initial_learning_rate=initial, decay_rate=rate, epochs=400, dtype=dtype)
    trace = run(config, mode)
    assert len(trace) == 400
    # The first epoch whose lr, in the run's dtype, exceeds 1. 1 + 2**-52 is 1.0 in float32, and
    # so is (1 + 2**-52) * (1 + 2**-52)**399 (found by hypothesis): such a run never diverges.
    unstable = first_unstable_epoch(config)
    assert trace.diverged_at == unstable
    distance = np.abs(trace.w[-1, 0].astype(np.float64) + 1.0)
    if unstable is None:
        assert distance == 6.0  # |1 - 2 lr| = 1 at every epoch: |w + 1| stays 6
    else:
        assert not np.isfinite(distance) or distance > 6.0  # |1 - 2 lr| > 1 from then on: it grew


def test_an_overflowing_gradient_is_a_divergence_too() -> None:
    # 2 (w + 1) overflows float32 for w0 = 3e38 although 2 lr <= 1: the values say it.
    for mode in ("eager", "xla", "numpy"):
        trace = run(DecayConfig(initial_learning_rate=0.5, decay_rate=1.0, w0=3e38), mode)
        assert trace.diverged_at == 0 and not np.isfinite(trace.w[0, 0])


@given(configs(max_epochs=80))
def test_parsing_lines_gives_the_trace_back(config: DecayConfig) -> None:
    trace = emulate(config)
    parsed = parse_lines(trace.lines())
    assert_array_equal(parsed.epoch, trace.epoch)
    for name, values in (("w", trace.w[:, 0]), ("loss", trace.loss), ("lr", trace.lr)):
        assert_array_equal(getattr(parsed, name), [float(f"{float(v):f}") for v in values])
