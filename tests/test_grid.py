"""run_grid: each cell's metrics are those of run(config, mode) computed by decaybench.metrics."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from decaybench import grid as grid_module
from decaybench import grid_run, sweep_loops
from decaybench.checkpoint import ArrayCheckpoints, Manifest, Stopped, latest_epoch
from decaybench.checkpoint.manifest import write_manifest
from decaybench.config import DecayConfig
from decaybench.grid import MAX_CHUNK, Grid, GridResult, checkpoint_options, chunk_cells, parse_range, run_grid
from decaybench.loops import run
from decaybench.metrics import CellMetrics
from decaybench.modes._scaffold import chunks
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


def _same(one: GridResult, other: GridResult) -> None:
    for name in ("final_loss", "epochs_to_tol", "diverged_at"):
        assert getattr(one, name).tobytes() == getattr(other, name).tobytes(), name


@pytest.mark.parametrize("mode", sweep_modes())
def test_the_flat_call_is_the_concrete_functions_own_call(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    # sweep_loops._call skips the signature's checks and casts; TensorFlow's public call, its fallback, gives the same bits.
    # lr0 and decay_rate both [3] float64: a call that took one for the other would still run.
    grid = Grid(
        initial_learning_rate=(0.1, 0.6, 1.1), decay_rate=(0.5, 1.0, 1.3), decay_steps=(1, 3), base=DecayConfig(epochs=30, staircase=True)
    )
    flat = run_grid(grid, 1e-2, mode)
    monkeypatch.setattr(sweep_loops, "_call", lambda concrete, tensors: concrete(*tensors))
    _same(run_grid(grid, 1e-2, mode), flat)


def test_calls_split_by_groups_and_by_epochs_are_the_whole_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    grid = Grid(initial_learning_rate=parse_range("initial_learning_rate", "0.05:1.2:11"), decay_rate=(0.9, 0.99, 1.05))
    whole = run_grid(grid, 1e-3, "xla")
    monkeypatch.setattr(grid_run, "MAX_CELLS", 22)  # 3 groups of 11 cells: 2 calls a span, the last padded
    monkeypatch.setattr(chunks, "CHUNK_SECONDS", 1e-12)  # one epoch a call
    assert chunk_cells(grid) == 22 and MAX_CHUNK > 22 and grid_run.epochs_per_call(22, "xla") == 1
    _same(run_grid(grid, 1e-3, "xla"), whole)


@pytest.mark.parametrize("mode", sweep_modes())
def test_stopped_after_any_epoch_and_resumed_is_the_uninterrupted_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    real, spans = sweep_loops.grid_chunk, []
    monkeypatch.setattr(sweep_loops, "grid_chunk", lambda *args: spans.append(args[2:4]) or real(*args))  # (start, stop) of each call
    base = DecayConfig(epochs=7, dtype="float64", staircase=True)
    grid = Grid(initial_learning_rate=(0.1, 0.6, 1.1), decay_rate=(0.5, 1.0, 1.3), decay_steps=(1, 3), base=base)
    whole = run_grid(grid, 1e-2, mode)
    for split in range(1, base.epochs + 1):
        directory = tmp_path / f"split-{split}"
        options = checkpoint_options(grid, 1e-2, mode, directory, split, False)
        assert options is not None
        checkpoints = ArrayCheckpoints(dataclasses.replace(options, stop_after=split), grid_module._manifest(grid, 1e-2, mode))
        with contextlib.suppress(Stopped):  # a sweep killed right after that checkpoint
            grid_run.run_cells(grid_module._cells(grid), 1e-2, mode, False, checkpoints)
        assert latest_epoch(directory) == split
        spans.clear()
        _same(run_grid(grid, 1e-2, mode, checkpoint_dir=directory, checkpoint_every=2, resume=True), whole)
        assert min([start for start, _ in spans], default=split) == split  # where it stopped, not from 0


def test_a_checkpoint_of_another_sweep_is_refused(tmp_path: Path) -> None:
    grid = Grid(initial_learning_rate=(0.1, 0.6), decay_rate=(0.9,), base=DecayConfig(epochs=5))
    run_grid(grid, 1e-2, "xla", checkpoint_dir=tmp_path / "a")
    with pytest.raises(InvalidValue, match=r"grid tol is 0\.01 there, 0\.001 in this run"):
        run_grid(grid, 1e-3, "xla", checkpoint_dir=tmp_path / "a", resume=True)
    with pytest.raises(InvalidValue, match="grid initial_learning_rate is"):
        run_grid(dataclasses.replace(grid, initial_learning_rate=(0.1, 0.7)), 1e-2, "xla", checkpoint_dir=tmp_path / "a", resume=True)
    (tmp_path / "b").mkdir()
    write_manifest(tmp_path / "b", Manifest.of(grid.config(0), "xla"))  # a run's directory
    with pytest.raises(InvalidValue, match="sweep is False there, True in this run"):
        run_grid(grid, 1e-2, "xla", checkpoint_dir=tmp_path / "b", resume=True)
    with pytest.raises(InvalidValue, match="sweep is True there, False in this run"):
        run(grid.config(0), "xla", checkpoint_dir=tmp_path / "a", resume=True)


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
