"""Hypothesis strategies: every generator of schedules, steps and configurations lives here."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st

from decaybench.config import DecayConfig

# Loop properties run TensorFlow for each example; they take a tenth of the profile's examples
# (50 under `ci`, 6 under `dev`), and schedule properties take them all (500 under `ci`).
LOOP_SETTINGS = settings(max_examples=max(6, settings.default.max_examples // 10))
# The Keras and distributed paths (keras, fit, callback, mirrored, multiworker) cost ~0.2-0.5 s an example
# each, about two thirds of a loop example, while what can go wrong there is the plumbing of a
# configuration, not its values: a quarter of the loop examples (12 under `ci`, 3 under `dev`).
SLOW_PATH_SETTINGS = settings(max_examples=max(3, settings.default.max_examples // 40))

initial_lrs = st.floats(min_value=0.0, max_value=10.0, allow_nan=False, allow_infinity=False)
positive_lrs = st.floats(min_value=1e-6, max_value=10.0)
rates = st.floats(min_value=1e-3, max_value=10.0)
decaying_rates = st.floats(min_value=1e-3, max_value=0.999)
growing_rates = st.floats(min_value=1.001, max_value=10.0)
decay_steps = st.integers(min_value=1, max_value=10**6)
steps = st.integers(min_value=0, max_value=2**62)
small_steps = st.integers(min_value=0, max_value=10**6)


@st.composite
def schedules(draw: st.DrawFn, rate: st.SearchStrategy[float] = rates) -> dict[str, object]:
    """Keyword arguments of the schedule: initial_learning_rate, decay_steps, decay_rate, staircase."""
    return {
        "initial_learning_rate": draw(positive_lrs),
        "decay_steps": draw(decay_steps),
        "decay_rate": draw(rate),
        "staircase": draw(st.booleans()),
    }


NEAR_ONE_RATES = st.floats(min_value=0.8, max_value=1.02)


@st.composite
def configs(
    draw: st.DrawFn,
    max_epochs: int = 60,
    max_size: int = 40,
    max_lr: float = 0.6,
    rate: st.SearchStrategy[float] = NEAR_ONE_RATES,
    epochs: st.SearchStrategy[int] | None = None,
) -> DecayConfig:
    """Training configurations, both dtypes, vectors included; converging unless told otherwise."""
    return DecayConfig(
        initial_learning_rate=draw(st.floats(min_value=0.0, max_value=max_lr)),
        decay_rate=draw(rate),
        decay_steps=draw(st.integers(min_value=1, max_value=8)),
        staircase=draw(st.booleans()),
        epochs=draw(epochs if epochs is not None else st.integers(min_value=1, max_value=max_epochs)),
        w0=draw(st.floats(min_value=-50.0, max_value=50.0)),
        dtype=draw(st.sampled_from(["float32", "float64"])),
        size=draw(st.integers(min_value=1, max_value=max_size)),
        record_every=draw(st.sampled_from([1, 1, 1, 3])),
    )


# The shapes (dtype, size, epochs, record_every) xla-exact draws from: each is one XLA
# compilation, so a few shapes and many schedules keep 200 examples fast.
EXACT_SHAPES = [
    ("float32", 1, 30, 1),
    ("float64", 1, 30, 1),
    ("float32", 1, 25, 3),
    ("float64", 9, 25, 3),
    ("float32", 9, 30, 1),
    ("float32", 40, 30, 1),
    ("float64", 40, 30, 1),
]


@st.composite
def exact_configs(draw: st.DrawFn) -> DecayConfig:
    """Configurations of :data:`EXACT_SHAPES`, any schedule: converging, diverging, lr 0.

    The float64 lr stays normal (above 1e-6 * 1e-3**30): a subnormal one is flushed to zero by
    every compiled mode's schedule (FTZ), as by eager's multiply, which changes no w.
    """
    dtype, size, epochs, record_every = draw(st.sampled_from(EXACT_SHAPES))
    return DecayConfig(
        initial_learning_rate=draw(st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=1.2))),
        decay_rate=draw(st.one_of(NEAR_ONE_RATES, rates)),
        decay_steps=draw(st.integers(min_value=1, max_value=8)),
        staircase=draw(st.booleans()),
        epochs=epochs,
        w0=draw(st.floats(min_value=-1e3, max_value=1e3)),
        dtype=dtype,
        size=size,
        record_every=record_every,
    )
