"""The sweep floor (decaybench.bench.native_sweep) computes run_grid's xla-exact cells, bit for bit."""

from __future__ import annotations

import pytest

from decaybench.config import DecayConfig
from decaybench.grid import Grid, parse_range, run_grid

pytest.importorskip("numba")

from decaybench.bench.native_sweep import sweep_floor

BASES = [
    DecayConfig(epochs=1000),  # the benchmark's: lr(e) float32-subnormal, then 0, late in the run
    DecayConfig(dtype="float64", epochs=97, w0=-3.5, staircase=True),
    DecayConfig(epochs=300, w0=1e30, transition_begin=7, end_value=0.05),  # overflows: non-finite before lr > 1
]


@pytest.mark.parametrize("base", BASES, ids=lambda base: f"{base.dtype}-e{base.epochs}")
def test_the_floor_is_run_grid_bit_for_bit(base: DecayConfig) -> None:
    grid = Grid(
        initial_learning_rate=(0.0, *parse_range("initial_learning_rate", "0.02:1.6:23")),
        decay_rate=parse_range("decay_rate", "0.7,0.9,0.99,1.0,1.01,1.2"),
        decay_steps=(1, 4),
        base=base,
    )
    ours, floor = run_grid(grid, 1e-6, "xla-exact"), sweep_floor(grid, 1e-6)
    for name in ("final_loss", "epochs_to_tol", "diverged_at"):
        assert getattr(floor, name).tobytes() == getattr(ours, name).tobytes(), name
