"""The figure of one configuration under a Keras mixed policy in several Kerases: lr and w against the epoch.

Two panels share the epoch axis: the lr each epoch's step was evaluated at (the reference at the
optimizer's ``iterations``, so a schedule held back by skipped steps shows as a shift), and the
distance of w to the minimum, ``w + 1`` (log scale), with the skipped epochs marked. Drawn like
:mod:`decaybench.plot`: a ``matplotlib.figure.Figure`` on the Agg canvas under the default style,
at :data:`decaybench.plot.DPI`. Needs the ``plot`` extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.style
from matplotlib.figure import Figure

from decaybench.files import write_atomic
from decaybench.plot import DPI, png_bytes
from decaybench.trace import Trace

__all__ = ["plot_mixed", "save_mixed_plot"]


def plot_mixed(traces: Mapping[str, Trace]) -> Figure:
    """lr and w against the epoch, one line per trace (labelled by its key), skipped epochs as crosses."""
    with matplotlib.style.context("default"):
        figure = Figure(figsize=(9.0, 6.0), dpi=DPI, layout="constrained")
        lr_axes, w_axes = figure.subplots(2, 1, sharex=True)
        for (name, trace), marker in zip(traces.items(), ("o", "s", "^", "v"), strict=False):
            line = lr_axes.plot(trace.epoch, trace.lr, marker=marker, markersize=3, label=name)[0]
            w_axes.plot(trace.epoch, trace.w[:, 0] + 1, marker=marker, markersize=3, color=line.get_color(), label=name)
            if trace.scaling is not None and trace.scaling.skipped.any():
                skipped = trace.scaling.skipped
                w_axes.plot(trace.epoch[skipped], trace.w[skipped, 0] + 1, "x", color="black", markersize=8)
        policy = next(iter(traces.values())).config.policy
        lr_axes.set(ylabel="lr applied (at iterations)", title=f"model.fit under {policy}: crosses mark skipped steps")
        w_axes.set(xlabel="epoch", ylabel="w + 1 after the epoch", yscale="log")
        for axes in (lr_axes, w_axes):
            axes.grid(alpha=0.3)
            axes.legend()
    return figure


def save_mixed_plot(path: Path | str, traces: Mapping[str, Trace]) -> None:
    """:func:`plot_mixed` written to ``path`` as a PNG, atomically."""
    write_atomic(path, png_bytes(plot_mixed(traces)))
