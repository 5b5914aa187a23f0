"""What the ``sweep`` group times for ``decaybench sweep``: a square grid's metrics by ``run_grid``.

The grid is ``n x n`` cells around the seed (initial lr ``0.02:1.2``, decay rate ``0.9:1.0``),
the command's default ranges at another resolution; the baselines run the same configurations.
"""

from __future__ import annotations

import math

from decaybench.bench.workload import Call
from decaybench.config import DecayConfig
from decaybench.grid import Grid, parse_range, run_grid
from decaybench.loops import run
from decaybench.metrics import CellMetrics

__all__ = ["GRID_SHAPES", "grid_metrics", "grid_runs", "square_grid"]

# (cells, epochs): the seed's 40 epochs on a 50 x 50 grid, and 1,000 epochs on 100 x 100.
GRID_SHAPES = ((2_500, 40), (10_000, 1_000))


def square_grid(cells: int, epochs: int) -> Grid:
    """``sqrt(cells)`` initial lrs by as many decay rates, over the seed with ``epochs``."""
    side = math.isqrt(cells)
    return Grid(
        initial_learning_rate=parse_range("initial_learning_rate", f"0.02:1.2:{side}"),
        decay_rate=parse_range("decay_rate", f"0.9:1.0:{side}"),
        base=DecayConfig(epochs=epochs),
    )


def grid_metrics(cells: int, epochs: int, mode: str) -> Call:
    """``run_grid`` on the square grid: one compiled call per chunk, the metrics only."""
    grid = square_grid(cells, epochs)
    return lambda: run_grid(grid, 1e-6, mode, progress=False)


def grid_runs(cells: int, epochs: int) -> Call:
    """One ``run(config, "xla")`` per cell of the square grid, and the metrics of each trace."""
    configs = square_grid(cells, epochs).configs()

    def separate() -> list[CellMetrics]:
        traces = (run(config, "xla") for config in configs)
        return [CellMetrics.of(trace.config, trace.epoch, trace.loss, trace.w, 1e-6) for trace in traces]

    return separate
