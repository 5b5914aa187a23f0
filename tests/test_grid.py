"""run_grid: each cell's metrics are those of run(config, mode) computed by decaybench.metrics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from decaybench.config import DecayConfig
from decaybench.grid import MAX_CHUNK, Grid, chunk_cells, parse_range, run_grid
from decaybench.loops import run
from decaybench.metrics import CellMetrics
from decaybench.sweep import sweep_modes
from decaybench.validation import InvalidValue

BASES = [
    DecayConfig(),
    DecayConfig(dtype="float64", epochs=97, w0=-3.5),
    DecayConfig(staircase=True, epochs=300, w0=1e30),  # overflows: non-finite before lr > 1
]


@pytest.mark.parametrize("mode", sweep_modes())
@pytest.mark.parametrize("base", BASES, ids=lambda base: f"{base.dtype}-e{base.epochs}")
def test_random_cells_are_their_single_runs(mode: str, base: DecayConfig) -> None:
    grid = Grid(
        initial_learning_rate=parse_range("initial_learning_rate", "0:1.6:17"),
        decay_rate=parse_range("decay_rate", "0.7,0.9,0.99,1.0,1.01,1.2"),
        decay_steps=(1, 4),
        base=base,
    )
    result = run_grid(grid, 1e-6, mode)
    for index in np.random.default_rng(base.epochs).choice(grid.cells, 12, replace=False):
        config = grid.config(int(index))
        trace = run(config, mode)
        # repr: a float's repr is its exact value, and NaN equals NaN.
        assert repr(result.cell(int(index))) == repr(CellMetrics.of(config, trace.epoch, trace.loss, trace.w, 1e-6)), config
        assert result.cell(int(index)).diverged_at == trace.diverged_at  # Trace's rule is the metrics' rule
        assert np.asarray(result.final_loss[index]).tobytes() == trace.loss[-1].tobytes()


def test_chunks_are_padded_and_reassembled(monkeypatch: pytest.MonkeyPatch) -> None:
    grid = Grid(initial_learning_rate=parse_range("initial_learning_rate", "0.05:1.2:11"), decay_rate=(0.9, 0.99, 1.05))
    whole = run_grid(grid, 1e-3, "xla")
    monkeypatch.setattr("decaybench.grid.MAX_CHUNK", 7)  # 33 cells: 5 chunks, the last padded
    assert chunk_cells(grid) == 7 and MAX_CHUNK > 7
    chunked = run_grid(grid, 1e-3, "xla")
    for name in ("final_loss", "epochs_to_tol", "diverged_at"):
        assert getattr(chunked, name).tobytes() == getattr(whole, name).tobytes()


def test_grid_order_and_seed() -> None:
    grid = Grid()
    assert grid.shape == (1, 51, 60) and grid.config(0) == dataclasses.replace(DecayConfig(), initial_learning_rate=0.02, decay_rate=0.9)
    assert grid.configs().index(DecayConfig()) == grid.decay_rate.index(0.99) * 60 + grid.initial_learning_rate.index(0.2)


def test_bad_arguments() -> None:
    with pytest.raises(InvalidValue, match="tol"):
        run_grid(Grid(decay_rate=(0.99,)), 0.0, "xla")
    with pytest.raises(InvalidValue, match="mode"):
        run_grid(Grid(decay_rate=(0.99,)), 1e-6, "graph")
    with pytest.raises(InvalidValue, match="initial_learning_rate"):
        Grid(initial_learning_rate=(0.1, -1.0))
