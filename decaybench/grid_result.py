"""What a grid produced: each cell's metrics, and its table, CSV and JSON (one row per cell).

A row holds the cell's configuration (every :class:`~decaybench.config.DecayConfig` field) and
its three :mod:`decaybench.metrics`; ``epochs_to_tol`` and ``diverged_at`` are empty (CSV),
``null`` (JSON) or ``-`` (table) when they never happen. Floats are written exactly: the repr of
the value, as ``Trace.to_csv`` writes them, and NaN and infinities as ``Trace.to_json`` does.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from decaybench.config import DecayConfig
from decaybench.grid import Grid
from decaybench.json_floats import encode
from decaybench.metrics import METRICS, CellMetrics

__all__ = ["COLUMNS", "GridResult"]

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
