"""float16 and bfloat16 runs, bit for bit an independent per-operation emulation.

Modes eager, function, graph, xla-exact and numpy, over drawn configurations that converge,
diverge and overflow float16.

The emulation here is written apart from :mod:`decaybench.rounding`: float16 in NumPy's own float16
arithmetic (correctly rounded, as TensorFlow's float32-then-round kernels are: see that module's
proof), bfloat16 in float32 with FTZ written out, then rounded. Up to 7 elements Eigen sums in index
order (no whole packet of 8), so the loss is a plain loop; larger sizes are held to mode ``numpy``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, example, given, settings

from decaybench.bits import same_bits
from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.modes import REGISTRY
from decaybench.modes.emulation import emulate
from decaybench.trace import Trace
from tests.properties.strategies import LOOP_SETTINGS, half_configs

MODES = ("eager", "function", "graph", "xla-exact", "numpy")
# How each mode associates the update's product lr * (1 * (x * 2)), for size 1 and size > 1, as
# measured bit for bit on TF 2.15 and 2.21 (the orders round alike except where x*2 or lr*2
# overflows or lr*x is subnormal, which the drawn configurations reach):
# - eager and numpy: the seed's lr*(x*2), op by op.
# - function and graph, size > 1: Grappler's arithmetic optimizer multiplies the two scalars first,
#   (lr*2)*x; graph's size-1 loop (lr is [1] there) becomes (lr*x)*2. Disabling only
#   "arithmetic_optimization" restores lr*(x*2) in both.
# - xla-exact, size > 1: XLA's algebraic simplifier does the same, (lr*2)*x, with Grappler off too;
#   but not in bfloat16 (XLA_KEEPS), which XLA's CPU backend computes in float32 with converts around
#   each operation.
XLA_KEEPS = "bfloat16"
MEASURED = {
    "eager": ("lr*(x*2)", "lr*(x*2)"),
    "function": ("lr*(x*2)", "(lr*2)*x"),
    "graph": ("(lr*x)*2", "(lr*2)*x"),
    "xla-exact": ("lr*(x*2)", "(lr*2)*x"),
    "numpy": ("lr*(x*2)", "lr*(x*2)"),
}


_TINY32 = np.float32(2.0**-126)


def _flush(values: np.ndarray) -> np.ndarray:
    return np.where(np.abs(values) < _TINY32, np.copysign(np.float32(0), values), values).astype(np.float32)


def _op(dtype: np.dtype, op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One kernel: float16 in NumPy's float16; bfloat16 as float32 under FTZ/DAZ, rounded once."""
    if dtype == np.float16:
        return {"+": np.add, "-": np.subtract, "*": np.multiply}[op](a.astype(np.float16), np.asarray(b).astype(np.float16))
    x, y = _flush(a.astype(np.float32)), _flush(np.asarray(b).astype(np.float32))
    return _flush({"+": x + y, "-": x - y, "*": x * y}[op]).astype(dtype)


def _loss(dtype: np.dtype, squares: np.ndarray) -> np.ndarray:
    """Up to 7 values: one copied, else added in index order (float16), in float32 then rounded (bfloat16)."""
    if squares.size == 1:
        return squares[0]
    wide = dtype != np.float16
    total = np.zeros((), np.float32 if wide else dtype)
    for value in squares:
        total = np.asarray(total + (value.astype(np.float32) if wide else value))
    return total.astype(dtype)


def independent(config: DecayConfig, order: str = "lr*(x*2)") -> Trace:
    """The seed's step, one operation at a time; ``lr`` float64 -> float32 -> dtype, as TensorFlow casts.

    ``order``: how the update's product is associated (:data:`MEASURED`), ``w - lr*(x*2)``,
    ``w - (lr*x)*2`` or ``w - (lr*2)*x``.
    """
    dtype = np.dtype(config.dtype)
    w, rows, losses = np.full(config.size, config.w0, dtype), [], []
    lrs = config.schedule.lr(np.arange(config.epochs))
    recorded = set(config.recorded().tolist())
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for epoch in range(config.epochs):
            lr = np.full(1, np.float32(lrs[epoch])).astype(dtype)
            x = _op(dtype, "+", w, np.ones(1))
            loss = _loss(dtype, _op(dtype, "*", x, x))
            two = np.full(1, 2.0)
            if order == "(lr*x)*2":
                product = _op(dtype, "*", _op(dtype, "*", lr, x), two)
            elif order == "(lr*2)*x":
                product = _op(dtype, "*", _op(dtype, "*", lr, two), x)
            else:
                product = _op(dtype, "*", lr, _op(dtype, "*", x, two))
            w = _op(dtype, "-", w, product)
            if epoch in recorded:
                rows.append(w)
                losses.append(loss)
    return Trace(config.recorded(), np.stack(rows), np.asarray(losses, dtype), lrs[config.recorded()], config, "independent")


def measured_order(mode: str, config: DecayConfig) -> str:
    if mode == "xla-exact" and config.dtype == XLA_KEEPS:
        return "lr*(x*2)"
    return MEASURED[mode][0 if config.size == 1 else 1]


def test_the_registry_states_the_measured_orders() -> None:
    for dtype in ("float16", "bfloat16"):
        for size in (1, 2):
            config = DecayConfig(dtype=dtype, size=size)
            stated = {mode: REGISTRY[mode].order_at(size, dtype) for mode in MEASURED}
            assert stated == {mode: measured_order(mode, config) for mode in MEASURED}


# TensorFlow's bfloat16 kernels write every NaN of a whole 8-lane packet as 0x7fc0, and keep the
# sign of a NaN in the tail lanes, as the emulation does everywhere (XLA too): the NaN's bits, not
# its place (tests/test_dtypes.py pins it). JSON carries no NaN bits.
KERNEL_MODES = ("eager", "function", "graph")


def _same(ran: np.ndarray, want: np.ndarray, mode: str, config: DecayConfig) -> np.ndarray:
    """Per element: the same bits; or, where TensorFlow's kernels write NaNs in packets, both NaN."""
    same = same_bits(ran, want)
    if config.dtype == "bfloat16" and config.size >= 8 and mode in KERNEL_MODES:
        same |= np.isnan(ran.astype(np.float32)) & np.isnan(want.astype(np.float32))
    return np.asarray(same)


@settings(LOOP_SETTINGS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(half_configs())
@example(DecayConfig(dtype="float16"))  # the seed
@example(DecayConfig(dtype="bfloat16"))
@example(
    DecayConfig(dtype="float16", w0=0.0, initial_learning_rate=0.0999755859375 + 2**-15 + 2**-40, epochs=30)
)  # lr(0) rounded once: 1 ULP more
@example(
    DecayConfig(dtype="float16", size=40, epochs=20, w0=3.0)
)  # whole packets (w is uniform, so predux order shows in tests/test_dtypes.py only)
@example(DecayConfig(dtype="bfloat16", size=9, epochs=20, w0=3.0, record_every=3))
@example(DecayConfig(dtype="float16", w0=60000.0, initial_learning_rate=2.0, decay_rate=1.01, epochs=30))  # inf, then NaN
@example(DecayConfig(dtype="bfloat16", w0=1e30, initial_learning_rate=3.0, decay_rate=1.5, epochs=30))
@example(DecayConfig(initial_learning_rate=1e-06, decay_rate=2.5, decay_steps=4, epochs=30, w0=0.0, dtype="float16"))  # subnormal lrs
@example(DecayConfig(initial_learning_rate=0.0, decay_rate=1.0, epochs=30, w0=32760.0, dtype="float16"))  # 2 (w + 1) overflows
@example(DecayConfig(initial_learning_rate=0.0, decay_rate=1.0, epochs=20, w0=32760.0, dtype="float16", size=3))
@example(
    DecayConfig(initial_learning_rate=0.0, decay_rate=1.0, epochs=20, w0=1.698088713909206e38, dtype="bfloat16", size=7)
)  # HYPOTHESIS_SEED=21: XLA keeps bfloat16's order
@example(
    DecayConfig(initial_learning_rate=0.0, decay_rate=1.0, epochs=20, w0=1.698088713909206e38, dtype="bfloat16", size=9, record_every=3)
)  # HYPOTHESIS_SEED=24: NaNs in packets
def test_half_dtypes_are_the_independent_emulation_bit_for_bit(config: DecayConfig) -> None:
    for mode in MODES:
        order = measured_order(mode, config)
        want = independent(config, order)
        if config.size > 7:  # w is elementwise, right at any size; the loss of a whole packet is Eigen's tree
            want = dataclasses.replace(want, loss=emulate(config, order=order).loss)  # type: ignore[arg-type]
        ran = run(config, mode)
        same = {name: _same(getattr(ran, name), getattr(want, name), mode, config) for name in ("w", "loss", "lr")}
        differing = {name: int((~agree).sum()) for name, agree in same.items()}
        assert not any(differing.values()), f"{mode} ({order}) {config}: differing values {differing}"
        # JSON writes every NaN as NaN (no sign, no payload): the JSON round trip is compared with the
        # emulation's own round trip.
        written = Trace.from_json(want.to_json())
        assert Trace.from_json(ran.to_json()).identical(written), f"{mode} {config}: what `decaybench run --format json` writes"
