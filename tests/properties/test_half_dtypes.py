"""float16 and bfloat16 runs, bit for bit an independent per-operation emulation.

Modes eager, function, graph, xla-exact and numpy, over drawn configurations that converge,
diverge and overflow float16.

The emulation here is written apart from :mod:`decaybench.rounding`: float16 in NumPy's own float16
arithmetic (correctly rounded, as TensorFlow's float32-then-round kernels are: see that module's
proof), bfloat16 in float32 with FTZ written out, then rounded. Up to 7 elements Eigen sums in index
order (no whole packet of 8), so the loss is a plain loop; larger sizes are held to mode ``numpy``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, example, given, settings

from decaybench.bits import same_bits
from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.trace import Trace
from tests.properties.strategies import LOOP_SETTINGS, half_configs

MODES = ("eager", "function", "graph", "xla-exact", "numpy")


def _subnormal_float16_lr(trace: Trace) -> bool:
    """Whether some lr of a float16 run rounds to a float16 subnormal (0 < |lr| < 2**-14)."""
    lr = np.abs(trace.lr.astype(np.float32).astype(np.float16))
    return trace.config.dtype == "float16" and bool(np.any((lr > 0) & (lr < 2.0**-14)))


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


def independent(config: DecayConfig) -> Trace:
    """The seed's step, one operation at a time; ``lr`` float64 -> float32 -> dtype, as TensorFlow casts."""
    dtype = np.dtype(config.dtype)
    w, rows, losses = np.full(config.size, config.w0, dtype), [], []
    lrs = config.schedule.lr(np.arange(config.epochs))
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for epoch in range(config.epochs):
            lr = np.asarray(np.float32(lrs[epoch])).astype(dtype)
            x = _op(dtype, "+", w, np.ones(1))
            loss = _loss(dtype, _op(dtype, "*", x, x))
            w = _op(dtype, "-", w, _op(dtype, "*", lr, _op(dtype, "*", x, np.full(1, 2.0))))
            if epoch in set(config.recorded().tolist()):
                rows.append(w)
                losses.append(loss)
    return Trace(config.recorded(), np.stack(rows), np.asarray(losses, dtype), lrs[config.recorded()], config, "independent")


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
def test_half_dtypes_are_the_independent_emulation_bit_for_bit(config: DecayConfig) -> None:
    want = independent(config) if config.size <= 7 else run(config, "numpy")
    # JSON writes every NaN as NaN (no sign, no payload): the JSON round trip is compared with the
    # emulation's own round trip, and the run itself with the emulation, bit for bit, NaNs included.
    written = Trace.from_json(want.to_json())
    for mode in MODES:
        if mode == "graph" and _subnormal_float16_lr(want):
            continue  # Grappler's arithmetic optimizer moves graph's w there: tests/test_dtypes.py pins it
        ran = run(config, mode)
        bits = {name: (~same_bits(getattr(ran, name), getattr(want, name))).sum() for name in ("w", "loss", "lr")}
        assert ran.identical(want), f"{mode} {config}: differing values {bits}"
        assert Trace.from_json(ran.to_json()).identical(written), f"{mode} {config}: what `decaybench run --format json` writes"
