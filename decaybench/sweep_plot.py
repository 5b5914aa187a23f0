r"""The figure of a grid: which (initial rate, decay rate) pairs converge, how fast, and where they diverge.

One panel per ``decay_steps`` value, initial learning rate :math:`\mathrm{lr}_0` across,
decay rate :math:`r` up::

    colour    the chosen metric per cell (decaybench.metrics); log scale for the final loss,
              with a loss of exactly 0 (w = -1 to the last bit) in its own colour
    hatching  cells that diverged: some epoch's step has |1 - 2 lr| > 1, i.e. lr > 1
    red line  that boundary, lr_0 * r ** p(E - 1) = 1 for r > 1 and lr_0 = 1 for r <= 1
    contours  epochs until the loss is below tol
    star      the seed's schedule (0.2, 0.99)

Drawn like :mod:`decaybench.plot`: a ``matplotlib.figure.Figure`` on the Agg canvas under the
default style, at :data:`decaybench.plot.DPI`. Needs the ``plot`` extra (matplotlib).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

try:
    import matplotlib.style
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import QuadMesh
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator
except ModuleNotFoundError as error:  # pragma: no cover - the plot extra is missing
    raise ModuleNotFoundError(
        f"decaybench.sweep_plot needs matplotlib: pip install 'decaybench[plot]' ({error})", name=error.name
    ) from error

from decaybench.config import DecayConfig
from decaybench.files import write_atomic
from decaybench.grid import GridResult
from decaybench.metrics import METRICS
from decaybench.plot import DPI, png_bytes
from decaybench.validation import check_choice

__all__ = ["PANEL", "plot_grid", "save_grid_plot"]

PANEL = (9.0, 6.5)
SEED = DecayConfig()
_ZERO = "black"  # a final loss of exactly 0: below any log scale
_GREW = "#b2182b"  # a final loss above the first: |w + 1| grew
_NEVER = "#d9d9d9"  # never below tol / never diverged
_LABELS = {
    "final-loss": "final loss (before the last update)",
    "epochs-to-tol": "first epoch with loss < tol",
    "diverged-at": "divergence epoch",
}


def plot_grid(result: GridResult, metric: str = "final-loss") -> Figure:
    """The figure of ``result`` coloured by ``metric`` (one of :data:`~decaybench.metrics.METRICS`)."""
    check_choice("metric", metric, METRICS)
    steps = result.grid.decay_steps
    columns = min(len(steps), 3)
    rows = math.ceil(len(steps) / columns)
    with matplotlib.style.context("default"):
        figure = Figure(figsize=(PANEL[0] * columns, PANEL[1] * rows), dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        values = result.values(metric)
        norm, cmap = _colours(values, metric, result.grid.base)
        for panel, axes in enumerate(figure.subplots(rows, columns, squeeze=False).ravel()):
            if panel >= len(steps):
                axes.set_visible(False)
                continue
            mesh = _draw_panel(axes, result, panel, values[panel], norm, cmap)
        figure.colorbar(mesh, ax=figure.axes, label=_LABELS[metric], extend="both" if metric == "final-loss" else "neither")
        figure.suptitle(_title(result, metric))
        _legend(figure, result, metric)
    return figure


def save_grid_plot(path: Path | str, result: GridResult, metric: str = "final-loss") -> None:
    """Draw :func:`plot_grid` and write the PNG to ``path`` atomically."""
    write_atomic(path, png_bytes(plot_grid(result, metric)))


def _colours(values: np.ndarray, metric: str, base: DecayConfig) -> tuple[Normalize, matplotlib.colors.Colormap]:
    cmap = matplotlib.colormaps["viridis"]
    if metric != "final-loss":
        return Normalize(0, max(base.epochs - 1, 1)), cmap.with_extremes(bad=_NEVER)
    # Up to the first epoch's loss: above it, training made things worse, whatever by how much.
    start = float(base.size * (base.w0 + 1.0) ** 2)
    positive = values[np.isfinite(values) & (values > 0) & (values <= start)]
    low = float(positive.min()) if positive.size else start / 1e6
    cmap = cmap.with_extremes(bad=_GREW, under=_ZERO, over=_GREW)
    if start <= low * 10:
        return Normalize(0, start), cmap
    return LogNorm(low, start), cmap


def _edges(centres: tuple[float, ...]) -> np.ndarray:
    c = np.asarray(centres, dtype=np.float64)
    if c.size == 1:
        half = abs(c[0]) * 0.05 or 0.5
        return np.array([c[0] - half, c[0] + half])
    middle = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (middle[0] - c[0])], middle, [c[-1] + (c[-1] - middle[-1])]])


def _draw_panel(
    axes: Axes, result: GridResult, panel: int, values: np.ndarray, norm: Normalize, cmap: matplotlib.colors.Colormap
) -> QuadMesh:
    grid, base = result.grid, result.grid.base
    lrs, rates = np.asarray(grid.initial_learning_rate), np.asarray(grid.decay_rate)
    x, y = _edges(grid.initial_learning_rate), _edges(grid.decay_rate)
    shown = np.where(values <= 0, float(norm.vmin or 1.0) / 2, values) if isinstance(norm, LogNorm) else values
    mesh = axes.pcolormesh(x, y, np.ma.masked_invalid(shown), norm=norm, cmap=cmap)
    diverged = result.values("diverged-at")[panel]
    if np.isfinite(diverged).any():
        hatched = np.ma.masked_where(~np.isfinite(diverged), np.ones_like(diverged))
        axes.pcolor(x, y, hatched, hatch="///", facecolor="none", edgecolor="white", linewidth=0.0, alpha=0.9)
    _boundary(axes, rates, grid.decay_steps[panel], base)
    # "Never" as the epoch after the last, so that each contour is one line, not pieces around holes.
    tol_epochs = np.nan_to_num(result.values("epochs-to-tol")[panel], nan=float(base.epochs))
    if len(lrs) > 1 and len(rates) > 1 and tol_epochs.min() < base.epochs:
        levels = [level for level in MaxNLocator(5, integer=True).tick_values(1, base.epochs) if 0 < level < base.epochs]
        contours = axes.contour(lrs, rates, tol_epochs, levels=levels, colors="white", linewidths=1.2)
        axes.clabel(contours, fmt=lambda level: f"{level:.0f}", fontsize=9, inline_spacing=8)
    seed_here = (
        grid.decay_steps[panel] == SEED.decay_steps and x[0] <= SEED.initial_learning_rate <= x[-1] and y[0] <= SEED.decay_rate <= y[-1]
    )
    if seed_here:
        axes.plot(SEED.initial_learning_rate, SEED.decay_rate, marker="*", markersize=18, color="#e8112d", markeredgecolor="white")
        axes.annotate(
            f"seed ({SEED.initial_learning_rate:g}, {SEED.decay_rate:g})",
            (SEED.initial_learning_rate, SEED.decay_rate),
            xytext=(10, -14),
            textcoords="offset points",
            color="white",
            fontweight="bold",
        )
    axes.set_xlim(x[0], x[-1])
    axes.set_ylim(y[0], y[-1])
    axes.set_xlabel(r"initial learning rate $\mathrm{lr}_0$")
    axes.set_ylabel(r"decay rate $r$")
    axes.set_title(f"decay_steps = {grid.decay_steps[panel]}" + (" (staircase)" if base.staircase else ""))
    return mesh


def _boundary(axes: Axes, rates: np.ndarray, decay_steps: int, base: DecayConfig) -> None:
    # The largest lr of a run is lr(0) for r <= 1 and lr(E - 1) for r > 1; it diverges when that exceeds 1.
    last = base.epochs - 1
    power = last // decay_steps if base.staircase else last / decay_steps
    dense = np.linspace(rates.min(), rates.max(), 400)
    lr0 = np.where(dense > 1.0, dense ** (-power), 1.0)
    axes.plot(lr0, dense, color="#e8112d", linewidth=2.0)
    top = len(dense) // 2
    axes.annotate(
        r"$|1 - 2\,\mathrm{lr}| > 1$",
        (lr0[top], dense[top]),
        xytext=(6, 0),
        textcoords="offset points",
        color="#e8112d",
        fontsize=12,
        fontweight="bold",
        rotation=90,
        va="center",
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#e8112d", "alpha": 0.9},
    )


def _title(result: GridResult, metric: str) -> str:
    base = result.grid.base
    exponent = r"\lfloor e/d \rfloor" if base.staircase else "e/d"
    return (
        rf"{_LABELS[metric]} of $w \leftarrow w - \mathrm{{lr}}(e)\,\partial_w (w+1)^2$, "
        rf"$\mathrm{{lr}}(e) = \mathrm{{lr}}_0\, r^{{{exponent}}}$"
        f"\n{base.epochs} epochs from $w_0$ = {base.w0:g} in {base.dtype}; {result.grid.cells:,} cells, mode {result.mode}"
    )


def _legend(figure: Figure, result: GridResult, metric: str) -> None:
    handles = [
        Patch(facecolor="#888888", hatch="///", edgecolor="white", label="diverged: an epoch with lr > 1, or w not finite"),
        Line2D([], [], color="#e8112d", linewidth=2, label=r"boundary: some epoch has $|1 - 2\,\mathrm{lr}| > 1$, i.e. lr > 1"),
        Line2D([], [], color="white", linewidth=1.2, label=f"contours: epochs until loss < {result.tol:g}"),
        Line2D([], [], linestyle="none", marker="*", markersize=14, color="#e8112d", label="the seed's schedule"),
    ]
    if metric == "final-loss":
        handles.append(Patch(facecolor=_ZERO, label="loss exactly 0 (w = -1 to the last bit)"))
        handles.append(Patch(facecolor=_GREW, label=f"loss above the first ({result.grid.base.size * (result.grid.base.w0 + 1) ** 2:g})"))
    else:
        handles.append(Patch(facecolor=_NEVER, label="never"))
    legend = figure.legend(handles=handles, loc="outside lower center", ncols=2, frameon=True, facecolor="#555555", labelcolor="white")
    legend.get_frame().set_edgecolor("#555555")
