"""Hypothesis strategies: every generator of schedules, steps and configurations lives here."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence

import numpy as np
from hypothesis import assume, settings
from hypothesis import strategies as st

from decaybench.config import DecayConfig
from decaybench.rounding import finfo

# Loop properties run TensorFlow for each example; they take a tenth of the profile's examples
# (50 under `ci`, 6 under `dev`), and schedule properties take them all (500 under `ci`).
LOOP_SETTINGS = settings(max_examples=max(6, settings.default.max_examples // 10))
# The Keras and distributed paths (keras, fit, callback, mirrored, multiworker) cost ~0.2-0.5 s an example
# each, about two thirds of a loop example, while what can go wrong there is the plumbing of a
# configuration, not its values: a quarter of the loop examples (12 under `ci`, 3 under `dev`).
SLOW_PATH_SETTINGS = settings(max_examples=max(3, settings.default.max_examples // 40))

initial_lrs = st.floats(min_value=0.0, max_value=10.0, allow_nan=False, allow_infinity=False)
# Down to float64's smallest subnormal: the reference is plain float64 arithmetic, subnormals included.
positive_lrs = st.one_of(st.floats(min_value=1e-6, max_value=10.0), st.floats(min_value=5e-324, max_value=1e-6))
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
        "initial_learning_rate": draw(initial_lrs),
        "decay_steps": draw(decay_steps),
        "decay_rate": draw(rate),
        "staircase": draw(st.booleans()),
    }


NEAR_ONE_RATES = st.floats(min_value=0.8, max_value=1.02)


@st.composite
def huge_steps(draw: st.DrawFn) -> tuple[dict[str, object], int]:
    """``(schedule, step)`` with any step from 2**24 to 2**63 - 2 and a rate whose power there stays normal.

    The rate is ``exp(t / p)`` for a drawn ``|t|`` in [2**-4, 80] and ``p = step / decay_steps``
    (staircase: at most 2**36 stairs): the power is about ``e**t``, a normal float32 times any
    initial rate in [1e-3, 10], and a stair is ``|t| / p >= 2**-40`` (2**12 float64 ULP) from the
    next. Rounding the rate moves ``p ln(rate)`` by up to ``p * 2**-53``: checked, not assumed.
    """
    step = draw(st.one_of(st.integers(min_value=2**24, max_value=2**63 - 2), st.sampled_from([2**24 + 1, 2**31 + 1, 2**53 + 1, 2**63 - 2])))
    staircase = draw(st.booleans())
    if staircase:
        d = max(1, step // draw(st.integers(min_value=1, max_value=2**36)))
    else:
        d = draw(st.one_of(st.integers(min_value=1, max_value=1000), st.integers(min_value=1, max_value=step)))
    p = step // d if staircase else step / d
    t = draw(st.floats(min_value=2**-4, max_value=80.0)) * draw(st.sampled_from([-1.0, 1.0]))
    rate = math.exp(t / p)
    assume(rate != 1.0 and abs(p * math.log(rate)) <= 80.0)
    initial = draw(st.floats(min_value=1e-3, max_value=10.0))
    return {"initial_learning_rate": initial, "decay_steps": d, "decay_rate": rate, "staircase": staircase}, step


# Vector sizes across Eigen's packet (4, 8 and 16 lanes) and tree boundaries; larger ones where a
# mode runs them fast (max_size).
EIGEN_SIZES = (1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1023, 1024, 1025, 8191, 8192, 8193)


def sizes(max_size: int) -> st.SearchStrategy[int]:
    """Any size up to 17 (or ``max_size``), or one of :data:`EIGEN_SIZES` up to ``max_size``."""
    return st.one_of(st.integers(min_value=1, max_value=min(max_size, 17)), st.sampled_from([n for n in EIGEN_SIZES if n <= max_size]))


def learning_rates(dtype: str, max_lr: float) -> st.SearchStrategy[float]:
    """0 to ``max_lr``, and down to what ``dtype`` allows: float32 subnormals (1e-45, FTZ in every
    mode), float64 down to 1e-290 (its decayed value stays normal: a float64 subnormal lr is
    flushed by the compiled modes' schedule, so the lr column would differ)."""
    smallest = 1e-45 if dtype == "float32" else 1e-290
    return st.one_of(st.floats(min_value=0.0, max_value=max_lr), st.floats(min_value=smallest, max_value=1e-30))


def options(draw: st.DrawFn, max_lr: float) -> dict[str, object]:
    """optax's options: ``transition_begin`` (0 most often) and ``end_value`` (``None`` most often).

    ``end_value`` is 0 or a normal float64: a subnormal one is a subnormal lr, which the compiled
    modes' in-graph schedule flushes to 0 (FTZ) while eager records it; that finding is pinned by
    ``tests/test_modes.py::test_a_subnormal_float64_lr_is_flushed_by_the_compiled_schedules_only``.
    """
    normal = st.floats(min_value=sys.float_info.min, max_value=max_lr)
    return {
        "transition_begin": draw(st.one_of(st.just(0), st.integers(min_value=0, max_value=12))),
        "end_value": draw(st.one_of(st.none(), st.none(), st.just(0.0), normal)),
    }


ONE_STEP = st.just(1)


@st.composite
def configs(
    draw: st.DrawFn,
    max_epochs: int = 60,
    max_size: int = 257,
    max_lr: float = 0.6,
    rate: st.SearchStrategy[float] = NEAR_ONE_RATES,
    epochs: st.SearchStrategy[int] | None = None,
    steps_per_epoch: st.SearchStrategy[int] = ONE_STEP,
) -> DecayConfig:
    """Training configurations, both dtypes, vectors and optax's options included; converging
    unless told otherwise. ``steps_per_epoch`` > 1 only for modes fit and callback."""
    dtype = draw(st.sampled_from(["float32", "float64"]))
    return DecayConfig(
        initial_learning_rate=draw(learning_rates(dtype, max_lr)),
        decay_rate=draw(rate),
        decay_steps=draw(st.integers(min_value=1, max_value=8)),
        staircase=draw(st.booleans()),
        epochs=draw(epochs if epochs is not None else st.integers(min_value=1, max_value=max_epochs)),
        w0=draw(st.floats(min_value=-50.0, max_value=50.0)),
        dtype=dtype,
        size=draw(sizes(max_size)),
        record_every=draw(st.sampled_from([1, 1, 1, 3])),
        steps_per_epoch=draw(steps_per_epoch),
        **options(draw, max_lr),
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
def exact_configs(draw: st.DrawFn, shapes: Sequence[tuple[str, int, int, int]] = EXACT_SHAPES, smallest32: float = 1e-45) -> DecayConfig:
    """Configurations of ``shapes`` ``(dtype, size, epochs, record_every)``, any schedule: converging,
    diverging, lr 0, optax's options.

    The float64 lr stays normal (above 1e-6 * 1e-3**30): a subnormal one is flushed to zero by
    every compiled mode's schedule (FTZ), as by eager's multiply, which changes no w.
    """
    dtype, size, epochs, record_every = draw(st.sampled_from(shapes))
    smallest = smallest32 if dtype == "float32" else 1e-6  # float32: down to its subnormals, flushed alike
    return DecayConfig(
        initial_learning_rate=draw(st.one_of(st.just(0.0), st.floats(min_value=smallest, max_value=1.2))),
        decay_rate=draw(st.one_of(NEAR_ONE_RATES, rates)),
        decay_steps=draw(st.integers(min_value=1, max_value=8)),
        staircase=draw(st.booleans()),
        epochs=epochs,
        w0=draw(st.floats(min_value=-1e3, max_value=1e3)),
        dtype=dtype,
        size=size,
        record_every=record_every,
        **options(draw, 1.2),
    )


# --- Hostile checkpoint files (issue 26): what a careless user, a forger or a damaged disk leaves in a
# checkpoint directory. Each example is one refused resume in mode numpy (no TensorFlow), a few ms:
# a tenth of the profile's examples (50 under `ci`, 10 under `dev`).
HOSTILE_SETTINGS = settings(max_examples=max(10, settings.default.max_examples // 10))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)


def _differs(new: object, old: object) -> bool:
    # By value: a manifest whose w0 is 5 where ours says 5.0 describes the same run.
    return bool(new != old)


@st.composite
def deep_json(draw: st.DrawFn) -> str:
    """JSON nested past any parser's recursion: lists, objects or both, closed or not (depth 65 to 200,000)."""
    depth = draw(st.sampled_from([65, 1000, 3000, 100_000, 200_000]))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a": ', "}"), ('[{"a": ', "}]")]))
    return opener * depth + draw(st.sampled_from(["1", ""])) + (closer * depth if draw(st.booleans()) else "")


@st.composite
def hostile_manifests(draw: st.DrawFn, document: dict[str, object]) -> bytes:
    """The bytes of a ``manifest.json`` that is not ``document`` (a valid manifest's JSON), nor any valid manifest of its run."""
    text = json.dumps(document)
    kind = draw(
        st.sampled_from(["deep", "deep inside", "truncated", "field", "config field", "missing", "unknown", "not an object", "bytes"])
    )
    if kind == "deep":
        return draw(deep_json()).encode()
    if kind == "deep inside":
        field = draw(st.sampled_from(sorted(document)))
        return json.dumps({**document, field: "DEEP"}).replace('"DEEP"', draw(deep_json())).encode()
    if kind == "truncated":
        return text[: draw(st.integers(0, len(text) - 1))].encode()
    if kind == "bytes":
        at = draw(st.integers(0, len(text)))
        return text[:at].encode() + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00\xfe"])) + text[at:].encode()
    if kind == "not an object":
        return json.dumps(draw(json_values.filter(lambda value: not isinstance(value, dict)))).encode()
    changed = json.loads(text)
    config = changed["config"]
    if kind == "field":
        field = draw(st.sampled_from(sorted(changed)))
        changed[field] = draw(json_values.filter(lambda value: _differs(value, document[field])))
    elif kind == "config field":
        field = draw(st.sampled_from(sorted(config)))
        config[field] = draw(json_values.filter(lambda value: _differs(value, config[field])))  # type: ignore[index]
    elif kind == "missing":
        del changed[draw(st.sampled_from(sorted(changed)))]
    else:
        config[draw(st.text(min_size=1, max_size=8).filter(lambda key: key not in config))] = draw(json_values)  # type: ignore[index, operator]
    return json.dumps(changed).encode()


_EPOCHS = st.builds(
    lambda shape, dtype, value: np.full(shape, value).astype(dtype),
    st.sampled_from([(), (1,), (1, 1), (0,), (2,)]),
    st.sampled_from(["int64", "int32", "uint64", "float64", "bool"]),
    st.sampled_from([-1, 0, 3, 20, 2**40]),
)


@st.composite
def hostile_states(draw: st.DrawFn, members: dict[str, np.ndarray], epochs: int) -> dict[str, np.ndarray]:
    """The arrays of a ``state.npz`` (``members``: a valid one's) with one to three defects no digest can reveal.

    Defects: an epoch of another shape, dtype or out of ``0..epochs``; an array of another dtype or
    shape; a member missing or one too many. (An epoch inside the range with the same rows can be a
    valid state's, and is not drawn.)
    """
    state = dict(members)
    # Each member is changed at most once: a second change of the same member could undo the first's
    # dtype and shape and leave only new values, which the forger's digest makes a valid state.
    # (Nothing else can empty the original members: "missing" runs once.)
    for name in draw(st.lists(st.sampled_from([*sorted(members), "missing", "extra"]), min_size=1, max_size=3, unique=True)):
        if name == "missing":  # one of the valid state's members: deleting a drawn extra would undo it
            del state[draw(st.sampled_from(sorted(set(state) & set(members))))]
        elif name == "extra":
            state[draw(st.sampled_from(["extra", "digest2", "w_"]))] = np.zeros(draw(st.integers(0, 3)))
        elif name == "epoch":
            state["epoch"] = draw(
                _EPOCHS.filter(lambda epoch: not (epoch.dtype == np.int64 and epoch.shape == () and 0 <= epoch <= epochs))
            )
        elif name in state:
            old = state[name]
            dtype = draw(st.sampled_from(["float16", "float32", "float64", "int32", "int64", "complex64", "bool", "uint8"]))
            shape = draw(
                st.sampled_from([old.shape, (*old.shape, 1), old.shape[1:], (old.shape[0] + 1 if old.shape else 2, *old.shape[1:])])
            )
            new = np.zeros(shape, dtype)
            if new.dtype == old.dtype and new.shape == old.shape:
                new = np.zeros((*old.shape, 2), dtype)
            state[name] = new
    return state


# ---- hostile TF_CONFIG values (decaybench.modes.distributed.tf_config) ---------------------------------

# Ports that look like numbers to someone: non-ASCII digits ("²".isdigit() is true), signs, exponents,
# out of range, too many digits for int().
HOSTILE_PORTS = st.one_of(
    st.integers(min_value=-2, max_value=10**6).map(str),
    st.sampled_from(["²", "٣", "\uff18\uff10", "1e3", "+80", "-1", " 80", "80 ", "0x50", "", "0", "65536", "9" * 5000]),
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=6),
)
HOSTILE_HOSTS = st.one_of(
    st.sampled_from(["localhost", "127.0.0.1", "127.0.0.2", "0.0.0.0", "[::1]", "::1", "[::1", "[nope]", "a_b", "-a", "a-", "1.2.3.999"]),
    st.sampled_from(["", "exa mple", "host\n", "h\x1b[2J", "\u2028", "x" * 300, "[::ffff:127.0.0.1]", "[fe80::1%eth0]"]),
    st.text(max_size=12),
)
hostile_addresses = st.one_of(
    st.builds(lambda host, port: f"{host}:{port}", HOSTILE_HOSTS, HOSTILE_PORTS),
    st.builds(lambda port: f"127.0.0.1:{port}", st.integers(min_value=1, max_value=65535)),
    st.text(max_size=20),
)


@st.composite
def hostile_tf_configs(draw: st.DrawFn) -> str:
    """``TF_CONFIG`` texts a careless or hostile user may set: bad addresses, one address twice,
    wrong types, unknown jobs and tasks, deep nesting (to 5,000 levels), cut-off JSON, any text."""
    workers = draw(st.lists(hostile_addresses, min_size=0, max_size=4))
    if workers and draw(st.booleans()):
        workers.append(draw(st.sampled_from(workers)))  # one address twice
    cluster: dict[str, object] = {"worker": workers}
    if draw(st.booleans()):
        cluster["chief"] = draw(st.lists(hostile_addresses, max_size=2))
    if draw(st.integers(0, 9)) == 0:
        cluster[draw(st.sampled_from(["ps", "evaluator", ""]))] = ["127.0.0.1:1"]
    task_type = draw(st.sampled_from(["worker", "chief", "ps", "", None, 0]))
    index = draw(st.one_of(st.integers(min_value=-2, max_value=5), st.sampled_from([True, None, "0", 1.0, [0]])))
    document: object = {"cluster": cluster, "task": {"type": task_type, "index": index}}
    if draw(st.integers(0, 9)) == 0:
        document = draw(st.sampled_from([[], None, "cluster", {"cluster": workers}, {"task": {}}]))
    text = json.dumps(document)
    depth = draw(st.sampled_from([0, 0, 0, 1, 63, 64, 65, 1000, 5000]))
    text = "[" * depth + text + "]" * depth if draw(st.booleans()) else text.replace('"worker": ', '"worker": ' + "[" * depth, 1)
    cut = draw(st.integers(min_value=0, max_value=len(text)))
    return draw(st.one_of(st.just(text), st.just(text[:cut]), st.text(max_size=40)))


# float16 and bfloat16 (tests/properties/test_half_dtypes.py): sizes up to 7 are summed in index
# order by Eigen (no whole packet), which an independent emulation can follow; 9 and 40 cross packets.
HALF_SHAPES = [
    ("float16", 1, 30, 1),
    ("bfloat16", 1, 30, 1),
    ("float16", 5, 20, 3),
    ("bfloat16", 7, 20, 1),
    ("float16", 40, 20, 1),
    ("bfloat16", 9, 20, 3),
]


@st.composite
def half_configs(draw: st.DrawFn) -> DecayConfig:
    """Configurations of :data:`HALF_SHAPES`, converging and diverging; ``w0`` up to float16's largest
    finite value, so that many float16 runs overflow to inf and then NaN. The lr stays a normal
    float64 (see :func:`exact_configs`)."""
    dtype, size, epochs, record_every = draw(st.sampled_from(HALF_SHAPES))
    largest = 65504.0 if dtype == "float16" else 1e30
    # Where the compilers' update orders differ from the seed's (ModeSpec.update_order): 2 (w + 1)
    # overflows (w0 past half the dtype's largest value), or lr * (w + 1) is subnormal (tiny lrs).
    edge = float(finfo(dtype).max)
    return DecayConfig(
        initial_learning_rate=draw(
            st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=3.0), st.floats(min_value=1e-9, max_value=1e-4))
        ),
        decay_rate=draw(st.one_of(NEAR_ONE_RATES, rates)),
        decay_steps=draw(st.integers(min_value=1, max_value=8)),
        staircase=draw(st.booleans()),
        epochs=epochs,
        w0=draw(
            st.one_of(
                st.floats(min_value=-1e3, max_value=1e3),
                st.floats(min_value=-largest, max_value=largest),
                st.tuples(st.floats(min_value=edge / 2, max_value=edge), st.sampled_from([1.0, -1.0])).map(lambda pair: pair[0] * pair[1]),
            )
        ),
        dtype=dtype,
        size=size,
        record_every=record_every,
        **options(draw, 3.0),
    )
