"""Grids of configurations: ranges, the product, and its metrics in compiled calls of about a quarter second.

A range is ``start:stop:num`` (``num`` evenly spaced values, both ends included, rounded to 12
significant digits so that ``0.02:1.2:60`` holds ``0.2`` as typed) or a comma list; values
are sorted and deduplicated. A :class:`Grid` is the product of three ranges, the schedule's
``initial_learning_rate``, ``decay_rate`` and ``decay_steps``, over one base configuration
(``staircase``, ``epochs``, ``w0``, ``dtype``). :func:`run_grid` runs it through
:mod:`decaybench.sweep_loops` and returns a :class:`GridResult` of the
:mod:`decaybench.metrics`, never the traces.

A :class:`GridResult` row holds the cell's configuration (every :class:`~decaybench.config.DecayConfig`
field) and its three metrics; ``epochs_to_tol`` and ``diverged_at`` are empty (CSV), ``null`` (JSON)
or ``-`` (table) when they never happen. Floats are written exactly: the repr of the value, as
``Trace.to_csv`` writes them, and NaN and infinities as ``Trace.to_json`` does.

The default grid centres on the seed (``0.2``, ``0.99``): 60 initial rates ``0.02:1.2`` (step
0.02, into the divergent ``lr > 1``) by 51 decay rates ``0.9:1.0`` (step 0.002), 3,060 cells.

>>> parse_range("decay_rate", "0.9:1.0:6")
(0.9, 0.92, 0.94, 0.96, 0.98, 1.0)
>>> parse_range("decay_steps", "10,1,5", integer=True)
(1, 5, 10)
>>> parse_range("decay_rate", "0.5:0.1:0")
Traceback (most recent call last):
...
decaybench.validation.InvalidValue: decay_rate num must be a positive integer, got '0.5:0.1:0'
>>> Grid().shape, DecayConfig() in Grid().configs()
((1, 51, 60), True)
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decaybench.checkpoint import ArrayCheckpoints, CheckpointOptions, Manifest, check_options
from decaybench.config import DecayConfig
from decaybench.grid_run import MAX_CELLS, Cells, groups_per_call, run_cells
from decaybench.json_floats import encode
from decaybench.memory import PEAK_COPIES, available_memory
from decaybench.metrics import METRICS, CellMetrics
from decaybench.sweep import sweep_modes
from decaybench.validation import InvalidValue, check_choice, check_finite

__all__ = [
    "AXES",
    "COLUMNS",
    "DEFAULT_RANGES",
    "MAX_CHUNK",
    "Grid",
    "GridResult",
    "check_tol",
    "checkpoint_options",
    "chunk_cells",
    "default_mode",
    "parse_range",
    "run_grid",
]

# The swept fields, slowest-varying first: a result is [decay_steps, decay_rate, initial_learning_rate].
AXES = ("decay_steps", "decay_rate", "initial_learning_rate")
DEFAULT_RANGES = {"initial_learning_rate": "0.02:1.2:60", "decay_rate": "0.9:1.0:51", "decay_steps": "1"}
MAX_CHUNK = MAX_CELLS  # cells per compiled call at most (decaybench.grid_run)
SIGNIFICANT = 12


def _number(argument: str, text: str, part: str) -> float:
    try:
        value = float(part)
    except ValueError:
        raise InvalidValue(argument, text, "must be start:stop:num or a comma list of numbers") from None
    if not math.isfinite(value):
        raise InvalidValue(argument, text, "must hold finite numbers")
    return value


def _evenly(argument: str, text: str, parts: list[str]) -> list[float]:
    if len(parts) != 3:
        raise InvalidValue(argument, text, "must be start:stop:num (num values, both ends included) or a comma list")
    start, stop = _number(argument, text, parts[0]), _number(argument, text, parts[1])
    try:
        num = int(parts[2])
    except ValueError:
        num = 0
    if num < 1:
        raise InvalidValue(argument, text, "num must be a positive integer")
    if stop < start:
        raise InvalidValue(argument, text, "stop must be >= start")
    needed, available = PEAK_COPIES * num * 8, available_memory()
    if needed > available:
        raise InvalidValue(
            argument, text, f"needs {needed:,} bytes for {num:,} values, more than the {available:,} available; use a smaller num"
        )
    return [float(f"{value:.{SIGNIFICANT}g}") for value in np.linspace(start, stop, num).tolist()]


def parse_range(argument: str, text: str, integer: bool = False) -> tuple[float, ...] | tuple[int, ...]:
    """The sorted distinct values of ``start:stop:num`` or ``a,b,c``; errors name ``argument`` and ``text``."""
    parts = text.split(":")
    values = _evenly(argument, text, parts) if len(parts) > 1 else [_number(argument, text, part) for part in text.split(",")]
    if not integer:
        return tuple(sorted(set(values)))
    if any(value != int(value) for value in values):
        raise InvalidValue(argument, text, "must give integers")
    return tuple(sorted({int(value) for value in values}))


def _checked(name: str, values: Sequence[float]) -> tuple[float, ...]:
    if not values:
        raise InvalidValue(name, values, "must hold at least one value")
    # DecayConfig's own rule for the field, so a value is refused exactly as `run` would refuse it.
    rule = next(field.metadata["check"] for field in dataclasses.fields(DecayConfig) if field.name == name)
    return tuple(rule(value) for value in values)


@dataclass(frozen=True)
class Grid:
    """The product of ``initial_learning_rate x decay_rate x decay_steps`` over ``base``'s other fields."""

    initial_learning_rate: tuple[float, ...] = parse_range("initial_learning_rate", DEFAULT_RANGES["initial_learning_rate"])
    decay_rate: tuple[float, ...] = parse_range("decay_rate", DEFAULT_RANGES["decay_rate"])
    decay_steps: tuple[int, ...] = (1,)
    base: DecayConfig = field(default_factory=DecayConfig)

    def __post_init__(self) -> None:
        if self.base.size != 1 or self.base.record_every != 1:
            raise InvalidValue("base", self.base, "must have size 1 and record_every 1")
        available, needed = available_memory(), PEAK_COPIES * self.cells * _result_bytes(self.base)
        if needed > available:
            name = max(AXES, key=lambda axis: len(getattr(self, axis)))
            raise InvalidValue(
                name,
                f"<{len(getattr(self, name)):,} values>",
                f"makes a grid of {self.cells:,} cells that needs {needed:,} bytes, more than the {available:,} available; "
                "use fewer values (a smaller num)",
            )
        for name in AXES:
            object.__setattr__(self, name, _checked(name, getattr(self, name)))

    @classmethod
    def parse(cls, ranges: dict[str, str], base: DecayConfig | None = None) -> Grid:
        """The grid of range texts by field name (missing fields: :data:`DEFAULT_RANGES`)."""
        texts = {**DEFAULT_RANGES, **ranges}
        axes = {name: parse_range(name, texts[name], integer=name == "decay_steps") for name in AXES}
        return cls(**axes, base=base if base is not None else DecayConfig())  # type: ignore[arg-type]

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(len(decay_steps), len(decay_rate), len(initial_learning_rate))``."""
        return len(self.decay_steps), len(self.decay_rate), len(self.initial_learning_rate)

    @property
    def cells(self) -> int:
        return math.prod(self.shape)

    def columns(self) -> dict[str, np.ndarray]:
        """Each swept field per cell, flat in result order (``initial_learning_rate`` fastest)."""
        steps, rates, lrs = np.meshgrid(
            np.asarray(self.decay_steps, np.int64), np.asarray(self.decay_rate), np.asarray(self.initial_learning_rate), indexing="ij"
        )
        return {"decay_steps": steps.ravel(), "decay_rate": rates.ravel(), "initial_learning_rate": lrs.ravel()}

    def config(self, index: int) -> DecayConfig:
        """The configuration of flat cell ``index``."""
        step, rate, lr = np.unravel_index(index, self.shape)
        return dataclasses.replace(
            self.base,
            decay_steps=self.decay_steps[step],
            decay_rate=self.decay_rate[rate],
            initial_learning_rate=self.initial_learning_rate[lr],
        )

    def configs(self) -> list[DecayConfig]:
        """Every cell's configuration, in result order."""
        return [self.config(index) for index in range(self.cells)]


def _result_bytes(base: DecayConfig) -> int:
    # Per cell, kept: the three swept fields, the final loss, two int64 epochs.
    return 3 * 8 + np.dtype(base.dtype).itemsize + 2 * 8


def chunk_cells(grid: Grid) -> int:
    """Cells per compiled call: whole rows of ``initial_learning_rate`` up to :data:`MAX_CHUNK`
    cells and what memory allows (``PEAK_COPIES`` of each cell's loop state, the rule of
    :func:`decaybench.loops.check_memory`), at least one row."""
    return groups_per_call(_cells(grid)) * len(grid.initial_learning_rate)


# The metrics' columns, in METRICS' order.
COLUMNS = tuple(name.replace("-", "_") for name in METRICS)
_TABLE = (("initial_learning_rate", "initial_lr"), ("decay_rate", "decay_rate"), ("decay_steps", "decay_steps"))


def _epoch(value: int) -> int | None:
    return None if value < 0 else int(value)


@dataclass(frozen=True, eq=False)
class GridResult:
    """The metrics of every cell of ``grid``, flat in its order (``initial_learning_rate`` fastest).

    Attributes:
        grid, tol, mode: what was run.
        final_loss: ``grid.base.dtype``, shape ``(cells,)``.
        epochs_to_tol, diverged_at: int64, shape ``(cells,)``, ``-1`` for never.
    """

    grid: Grid
    tol: float
    mode: str
    final_loss: np.ndarray
    epochs_to_tol: np.ndarray
    diverged_at: np.ndarray

    def cell(self, index: int) -> CellMetrics:
        """Cell ``index``'s metrics, as :meth:`CellMetrics.of` gives them for a trace."""
        return CellMetrics(float(self.final_loss[index]), _epoch(self.epochs_to_tol[index]), _epoch(self.diverged_at[index]))

    def values(self, metric: str) -> np.ndarray:
        """``metric`` (one of :data:`~decaybench.metrics.METRICS`) as float64 of ``grid.shape``; NaN for never."""
        column = getattr(self, metric.replace("-", "_"))
        values = column.astype(np.float64) if metric == "final-loss" else np.where(column < 0, np.nan, column.astype(np.float64))
        return values.reshape(self.grid.shape)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per cell: the configuration's fields, then the metrics (``None`` for never)."""
        rows = []
        for index in range(self.grid.cells):
            metrics = self.cell(index)
            rows.append({**self.grid.config(index).to_dict(), **{name: getattr(metrics, name) for name in COLUMNS}})
        return rows

    def to_csv(self) -> str:
        """A header of the field and metric names, then one exact row per cell."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        rows = self.rows()
        writer.writerow(rows[0].keys())
        for row in rows:
            writer.writerow(["" if value is None else repr(value) if isinstance(value, float) else value for value in row.values()])
        return buffer.getvalue()

    def to_json(self) -> str:
        """``{"mode", "tol", "metrics", "cells": [row, ...]}``, strict JSON, floats exact."""
        cells = [{key: encode(value) if isinstance(value, float) else value for key, value in row.items()} for row in self.rows()]
        document = {"mode": self.mode, "tol": self.tol, "metrics": list(COLUMNS), "cells": cells}
        return json.dumps(document, allow_nan=False) + "\n"

    def table(self) -> str:
        """Aligned columns, one line per cell; the seed's cell is marked."""
        header = [short for _, short in _TABLE] + list(COLUMNS)
        lines, marks = [header], [""]
        for row in self.rows():
            cells = [f"{row[name]:g}" for name, _ in _TABLE]
            cells.append(f"{row['final_loss']:.6g}")
            cells.extend("-" if row[name] is None else str(row[name]) for name in COLUMNS[1:])
            lines.append(cells)
            marks.append("  <- seed" if DecayConfig.from_dict(_config_fields(row)).is_seed else "")
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        aligned = ("  ".join(text.rjust(width) for text, width in zip(line, widths, strict=True)) for line in lines)
        return "".join(f"{line}{mark}\n" for line, mark in zip(aligned, marks, strict=True))


def _config_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in COLUMNS}


def check_tol(tol: float) -> float:
    """``tol`` of ``epochs_to_tol``: finite and > 0."""
    if not check_finite("tol", tol) > 0:
        raise InvalidValue("tol", tol, "must be finite and > 0")
    return float(tol)


def run_grid(
    grid: Grid,
    tol: float = 1e-6,
    mode: str | None = None,
    progress: bool | None = None,
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
) -> GridResult:
    """Every cell's :mod:`decaybench.metrics`, in compiled calls of about a quarter second (:mod:`decaybench.grid_run`).

    Args:
        grid: the configurations.
        tol: the tolerance of ``epochs_to_tol`` (finite, > 0).
        mode: a mode of ``decaybench.sweep.sweep_modes()``; default the exact one when offered
            (``xla-exact``), else ``xla``. Each cell equals ``run(config, mode)`` bit for bit.
        progress: a bar over the cells on stderr (``None``: when stderr is a terminal).
        checkpoint_dir, checkpoint_every, resume: as :func:`decaybench.loops.run`'s: the cells'
            state is saved every ``checkpoint_every`` epochs (default: ten a sweep) and after the
            last, and a resumed sweep's result is the uninterrupted one's, bit for bit.
    """
    mode = check_choice("mode", mode if mode is not None else default_mode(), sweep_modes())
    check_tol(tol)
    options = checkpoint_options(grid, tol, mode, checkpoint_dir, checkpoint_every, resume)
    checkpoints = ArrayCheckpoints(options, _manifest(grid, tol, mode)) if options is not None else None
    state = run_cells(_cells(grid), tol, mode, progress, checkpoints)
    loss, below, bad, unstable = (state[name].reshape(-1) for name in ("loss", "below", "bad", "unstable"))
    # metrics.diverged_at: the earlier of the lr rule's epoch and the first non-finite one (-1: never).
    diverged = np.where((unstable >= 0) & ((bad < 0) | (unstable < bad)), unstable, bad)
    return GridResult(grid=grid, tol=float(tol), mode=mode, final_loss=loss, epochs_to_tol=below, diverged_at=diverged)


def default_mode() -> str:
    """``xla-exact`` when sweeps offer it (cells then equal eager runs too), else ``xla``."""
    return "xla-exact" if "xla-exact" in sweep_modes() else "xla"


def _manifest(grid: Grid, tol: float, mode: str) -> Manifest:
    # A sweep's checkpoint belongs to its ranges and tol as well as its base and mode.
    ranges: dict[str, Any] = {axis: list(getattr(grid, axis)) for axis in AXES}
    return Manifest.of(grid.base, mode, {**ranges, "tol": float(tol)})


def checkpoint_options(grid: Grid, tol: float, mode: str, directory: Any, every: Any, resume: Any) -> CheckpointOptions | None:
    """:func:`decaybench.checkpoint.check_options` for a sweep: its manifest names the grid and ``tol``.

    Without TensorFlow and before anything is written, so the CLI refuses bad options first.
    """
    # The manifest reads the installed versions' metadata (milliseconds): only for a directory.
    manifest = _manifest(grid, tol, mode) if directory is not None else None
    return check_options(grid.base, mode, directory, every, resume, manifest)


def _cells(grid: Grid) -> Cells:
    # The groups, decay_steps the slower axis: what np.meshgrid(steps, rates, indexing="ij") would flatten to.
    steps, rates = np.asarray(grid.decay_steps, np.int64), np.asarray(grid.decay_rate, np.float64)
    return Cells(grid.base, np.repeat(steps, len(rates)), np.tile(rates, len(steps)), np.asarray(grid.initial_learning_rate, np.float64))
