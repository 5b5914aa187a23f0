r"""One figure of a configuration's runs: the schedule, w, the loss, and each mode's ULP distance.

The seed trains one variable with the exponential-decay schedule,

.. math::

    \mathrm{lr}(e) = \mathrm{lr}_0 \cdot r^{\,p(e)}, \quad p(e) = e / d \ \text{or}\ \lfloor e / d \rfloor,
    \qquad w \leftarrow w - \mathrm{lr}(e)\, \partial_w \textstyle\sum_i (w_i + 1)^2,

and the figure has four panels, all against the epoch ``e``::

    1. lr(e), continuous and staircase      (the float64 reference, decaybench.schedule)
    2. w after each update, one line per mode
    3. the loss before each update, log scale, one line per mode (0 is not drawn, and said)
    4. per mode, ulp_distance(mode, emulation) for w and for the loss, symlog scale,
       with the bound of each mode's contract where it is not 0 (fused-update: xla)

Panel 4 draws what ``verify`` finds, :func:`decaybench.verify.compare` against the emulation of
record under the contract of the trace's mode (:func:`decaybench.modes.contract_of`): the ULP
distance counts the floats between two values, so 0 means bit for bit. Identical modes overlap:
each has its own colour, dashes, markers at its own epochs and line width, and the legend says
which are bit-identical. Comparisons stop before the first diverged epoch, marked in red.

With ``decay_steps = 1`` the staircase equals the continuous schedule at every epoch, so panel 1
draws, as a labelled illustration that is not run, the staircase with ``D`` epochs per stair and
rate ``r ** D``: the same continuous curve :math:`\mathrm{lr}_0 r^e`, floored every ``D`` epochs,
with ``D = max(2, min(epochs // 8, ceil(ln 2 / |ln r|)))`` (about eight stairs, none longer
than the schedule's half-life or doubling time).

The figure is ``FIGSIZE`` inches at ``DPI``: always ``PIXELS`` (1440 x 960) pixels. It is drawn with
``matplotlib.figure.Figure`` and the Agg canvas under matplotlib's default style, so neither
pyplot, a display nor the user's matplotlibrc changes it. Needs the ``plot`` extra (matplotlib).

>>> from decaybench.modes.emulation import emulate
>>> config = DecayConfig(epochs=20)
>>> figure = plot_traces({"numpy": emulate(config), "fused": emulate(config, fused=True)})
>>> png = png_bytes(figure)
>>> png[:8] == PNG_SIGNATURE, png_size(png) == PIXELS
(True, True)
"""

from __future__ import annotations

import dataclasses
import io
import math
import struct
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:
    import matplotlib.style
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
except ModuleNotFoundError as error:  # pragma: no cover - the plot extra is missing
    raise ModuleNotFoundError(f"decaybench.plot needs matplotlib: pip install 'decaybench[plot]' ({error})", name=error.name) from error

from decaybench.bounds import bound_emulation
from decaybench.config import DecayConfig
from decaybench.files import check_writable, write_atomic
from decaybench.loops import run
from decaybench.memory import check_memory
from decaybench.modes import REGISTRY, Contract, contract_of, modes_for
from decaybench.modes.emulation import emulate
from decaybench.report import format_count
from decaybench.schedule import exponential_decay
from decaybench.trace import Trace
from decaybench.validation import check_choice
from decaybench.verify import Comparison, compare

__all__ = ["DPI", "FIGSIZE", "PIXELS", "PNG_SIGNATURE", "plot_modes", "plot_traces", "png_bytes", "png_size", "run_modes", "save_plot"]

FIGSIZE = (12.0, 8.0)
DPI = 120
PIXELS = (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The bounds walk a full emulation, fused_update_bound every epoch in Python (~15 µs each): draw
# them only while that stays around a second.
BOUND_EPOCHS = 20_000
# Points for the lr curves: smooth at any epoch count, and stairs still look vertical.
CURVE_POINTS = 1000
# Why a contract's mode differs from the emulation, for its legend entry.
_WHY: dict[Contract | None, str] = {"fused-update": "one rounding per update (FMA): "}

# Identical modes draw on top of each other: each gets a colour, a dash pattern, a marker at
# its own epochs, and a thinner line than the one before, so every one of them stays visible.
_DASHES = ("-", "--", "-.", ":", (0, (6, 2)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2, 2, 2)))
_MARKERS = "osD^vPX*<>"


def plot_traces(traces: Mapping[str, Trace] | Sequence[Trace], *, title: str | None = None) -> Figure:
    """The four panels for runs of one configuration (see the module doc).

    Args:
        traces: the runs to draw, labelled by the mapping's keys, or by each trace's ``mode``
            for a sequence. All must share one :class:`DecayConfig`.
        title: the figure's title; by default the update rule and the schedule with the
            configuration's numbers.

    Returns:
        A ``matplotlib.figure.Figure`` of ``FIGSIZE`` inches at ``DPI`` on an Agg canvas.

    Raises:
        ValueError: no traces, repeated labels, or traces of different configurations.
        TypeError: something other than a :class:`Trace`.
    """
    labelled = _labelled(traces)
    config = next(iter(labelled.values())).config
    comparisons = _compare(labelled)
    stop = min((found.stop for found in comparisons.values() if found.stop is not None), default=None)
    with matplotlib.style.context("default"):
        figure = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        grid = figure.add_gridspec(2, 2)
        lr_axes, w_axes, loss_axes = figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[0, 1]), figure.add_subplot(grid[1, 0])
        ulp_grid = grid[1, 1].subgridspec(2, 1, hspace=0.0)
        ulp_w_axes = figure.add_subplot(ulp_grid[0])
        ulp_loss_axes = figure.add_subplot(ulp_grid[1], sharex=ulp_w_axes)
        _draw_schedule(lr_axes, next(iter(labelled.values())))
        _draw_modes(w_axes, loss_axes, labelled, comparisons)
        _draw_ulps(ulp_w_axes, ulp_loss_axes, labelled, comparisons)
        last = config.epochs - 1
        margin = max(0.5, 0.02 * last)
        for axes in (lr_axes, w_axes, loss_axes, ulp_w_axes, ulp_loss_axes):
            axes.set_xlim(-margin, last + margin)
            if stop is not None:
                axes.axvline(stop, color="red", linewidth=1, alpha=0.6)
        if stop is not None:
            offset: dict[str, Any] = {"xycoords": ("data", "axes fraction"), "xytext": (4, 6), "textcoords": "offset points"}
            w_axes.annotate(f"diverged at epoch {stop}", (stop, 0.0), color="red", **offset)
        figure.suptitle(title if title is not None else _title(config), fontsize=13)
    return figure


def plot_modes(config: DecayConfig | None = None, modes: Sequence[str] | None = None) -> Figure:
    """Run ``config`` (default: the seed's) in each of ``modes`` (default: all) and draw :func:`plot_traces`."""
    return plot_traces(run_modes(config, modes))


def run_modes(config: DecayConfig | None = None, modes: Sequence[str] | None = None) -> dict[str, Trace]:
    """``{mode: run(config, mode)}`` in the order given (default: all); modes are checked before any run."""
    config = config if config is not None else DecayConfig()
    modes = modes if modes is not None else modes_for(config.dtype)
    if isinstance(modes, str) or not modes:
        raise ValueError(f"modes must be a non-empty sequence of mode names, got {modes!r}")
    for mode in modes:
        check_choice("mode", mode, tuple(REGISTRY))
    check_memory(config, tuple(dict.fromkeys(modes)), "plot")
    return {mode: run(config, mode) for mode in dict.fromkeys(modes)}


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG bytes, at the figure's own size and dpi (no tight bounding box)."""
    buffer = io.BytesIO()
    with matplotlib.style.context("default"):
        figure.savefig(buffer, format="png", dpi=figure.dpi)
    return buffer.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` in pixels from a PNG's header (its first chunk, IHDR).

    >>> png_size(PNG_SIGNATURE + struct.pack(">I4sII", 13, b"IHDR", 1400, 900))
    (1400, 900)
    """
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("not a PNG: no signature and IHDR chunk")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def save_plot(path: Path | str, config: DecayConfig | None = None, modes: Sequence[str] | None = None) -> dict[str, Trace]:
    """Run ``modes`` (default: all) on ``config``, draw them and write the PNG to ``path`` atomically.

    Returns the traces drawn, by mode. The path is checked before anything runs.
    """
    target = check_writable(path)
    traces = run_modes(config, modes)
    write_atomic(target, png_bytes(plot_traces(traces)))
    return traces


def _labelled(traces: Mapping[str, Trace] | Sequence[Trace]) -> dict[str, Trace]:
    if isinstance(traces, Mapping):
        labelled = dict(traces)
    else:
        labels = [getattr(trace, "mode", None) for trace in traces]
        repeated = sorted({str(label) for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"traces have repeated modes {repeated}; pass a mapping of labels to traces")
        labelled = dict(zip(map(str, labels), traces, strict=True))
    if not labelled:
        raise ValueError("plot_traces needs at least one trace")
    for label, trace in labelled.items():
        if not isinstance(trace, Trace):
            raise TypeError(f"traces[{label!r}] must be a Trace, got {type(trace).__name__}")
    configs = {trace.config for trace in labelled.values()}
    if len(configs) > 1:
        raise ValueError(f"traces must share one DecayConfig, got {len(configs)} different ones")
    return labelled


def _compare(traces: Mapping[str, Trace]) -> dict[str, Comparison]:
    """Each trace's :func:`decaybench.verify.compare` under its mode's contract."""
    config = next(iter(traces.values())).config
    # The numpy mode is the emulation of record (run_numpy is emulate); reuse it rather than run it twice.
    numpy = [trace for trace in traces.values() if trace.mode == "numpy"]
    emulated = numpy[0] if numpy else emulate(config)
    contracts = {label: contract_of(trace.mode) for label, trace in traces.items()}
    bounded = config.epochs <= BOUND_EPOCHS and any(contract is not None for contract in contracts.values())
    full = bound_emulation(config) if bounded else None
    return {label: compare(trace, emulated, contracts[label], full) for label, trace in traces.items()}


def _number(value: float) -> str:
    return f"{value:g}"


def _exponent(decay_steps: int, staircase: bool) -> str:
    return rf"\lfloor e/{decay_steps} \rfloor" if staircase else rf"e/{decay_steps}"


def _title(config: DecayConfig) -> str:
    loss = r"(w+1)^2" if config.size == 1 else r"\Sigma_i (w_i+1)^2"
    power = rf"{_number(config.decay_rate)}^{{\,{_exponent(config.decay_steps, config.staircase)}}}"
    schedule = rf"$\mathrm{{lr}}(e) = {_number(config.initial_learning_rate)} \cdot {power}$"
    rule = rf"$w \leftarrow w - \mathrm{{lr}}(e)\,\partial_w {loss}$"
    name = "The seed" if config.is_seed else "decaybench"
    details = f"w0 = {_number(config.w0)}, {config.dtype}, size {config.size}, {config.epochs} epochs" + (
        f", recorded every {config.record_every}" if config.record_every > 1 else ""
    )
    return f"{name}:  {rule}  with  {schedule}\n{details}"


def _stairs(config: DecayConfig) -> tuple[int, float]:
    """``(decay_steps, decay_rate)`` of the staircase panel 1 draws: the config's own, or with
    ``decay_steps = 1`` the illustration ``(D, r ** D)`` of the module doc.

    >>> _stairs(DecayConfig()), _stairs(DecayConfig(decay_steps=4))
    ((5, 0.9509900498999999), (4, 0.99))
    """
    if config.decay_steps > 1:
        return config.decay_steps, config.decay_rate
    # About eight stairs, none longer than the half-life (doubling time), so that they show.
    lifetime = math.ceil(math.log(2) / abs(math.log(config.decay_rate))) if config.decay_rate != 1.0 else config.epochs
    steps = max(2, min(config.epochs // 8, lifetime))
    try:
        rate = math.pow(config.decay_rate, steps)
    except OverflowError:
        rate = sys.float_info.max
    # Absurd rates (1e-200, 1e200) must still give a valid decay_rate: finite and > 0.
    return steps, min(max(rate, sys.float_info.min), sys.float_info.max)


def _draw_schedule(axes: Axes, trace: Trace) -> None:
    """Continuous and staircase lr; with decay_steps = 1 both coincide, so the stairs illustrate
    ``decay_steps = D`` with ``decay_rate ** D``: the same continuous curve, floored every D epochs."""
    config = trace.config
    last = config.epochs - 1
    grid = np.linspace(0.0, float(last), CURVE_POINTS if last > 0 else 1)
    continuous = dataclasses.replace(config.schedule, staircase=False).lr(grid)
    axes.plot(grid, continuous, color="C0", linewidth=2.2, label=rf"continuous: $p = {_exponent(config.decay_steps, False)}$")
    steps, rate = _stairs(config)
    note = f", rate {_number(config.decay_rate)}$^{{{steps}}}$\n(illustration, not run: at decay_steps=1 staircase = continuous)"
    stairs = exponential_decay(grid, config.initial_learning_rate, steps, rate, staircase=True)
    label = rf"staircase: $p = {_exponent(steps, True)}$" + (note if steps != config.decay_steps else "")
    axes.plot(grid, stairs, color="C1", linewidth=1.6, linestyle="--", label=label)
    stride = max(1, len(trace) // 60)
    applied = f"lr(e) the runs applied ({'staircase' if config.staircase else 'continuous'})"
    axes.plot(trace.epoch[::stride], trace.lr[::stride], linestyle="none", marker="o", markersize=3.5, color="black", label=applied)
    axes.set(title="1. learning rate", xlabel="epoch e", ylabel="lr(e)")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right", fontsize=8)


def _style(index: int, count: int, length: int) -> dict[str, Any]:
    # Markers of the k modes take turns: mode i marks epochs i, i + k, i + 2k, ... (in recorded rows).
    stride = count * max(1, round(length / (count * 7)))
    width = 3.4 - 2.4 * index / max(1, count - 1)
    return {
        "color": f"C{index % 10}",
        "linestyle": _DASHES[index % len(_DASHES)],
        "linewidth": width,
        "marker": _MARKERS[index % len(_MARKERS)],
        "markersize": 4 + width,
        "markevery": (index * stride // count, stride),
    }


def _label(label: str, trace: Trace, comparison: Comparison) -> str:
    if trace.mode == "numpy":
        return f"{label}: the emulation of record"
    if comparison.identical:
        return f"{label}: = emulation, bit for bit"
    w_ulp, loss_ulp = map(format_count, comparison.worst)
    return f"{label}: {_WHY.get(comparison.contract, '')}up to {w_ulp} ULP (w), {loss_ulp} ULP (loss)"


def _draw_modes(w_axes: Axes, loss_axes: Axes, traces: Mapping[str, Trace], comparisons: Mapping[str, Comparison]) -> None:
    config = next(iter(traces.values())).config
    zero_from: list[int] = []
    for index, (label, trace) in enumerate(traces.items()):
        style = _style(index, len(traces), len(trace))
        w_axes.plot(trace.epoch, trace.w[:, 0], label=_label(label, trace, comparisons[label]), **style)
        with np.errstate(invalid="ignore"):
            shown = np.isfinite(trace.loss) & (trace.loss > 0)
        loss_axes.plot(trace.epoch, np.where(shown, trace.loss, np.nan), **style)
        zeros = np.flatnonzero(trace.loss == 0)
        if zeros.size:
            zero_from.append(int(trace.epoch[zeros[0]]))
    w_axes.axhline(-1.0, color="gray", linewidth=1, linestyle=":")
    w_axes.set(
        title="2. w after each update (the minimum is w = -1)",
        xlabel="epoch e",
        ylabel="w" if config.size == 1 else "w[0] (every element alike)",
    )
    w_axes.grid(alpha=0.3)
    identical = sum(found.identical for found in comparisons.values())
    overlap = " (their lines overlap)" if identical > 1 else ""
    title = f"{len(traces)} modes, {identical} bit-identical to the NumPy emulation{overlap}"
    w_axes.legend(loc="upper right", fontsize=8, title_fontsize=8, title=title)
    loss_axes.set_yscale("log", nonpositive="mask")
    loss_name = "(w+1)$^2$" if config.size == 1 else r"$\Sigma_i$(w$_i$+1)$^2$"
    loss_axes.set(title=f"3. loss = {loss_name} before each update (log scale)", xlabel="epoch e", ylabel="loss")
    loss_axes.grid(alpha=0.3, which="both")
    if zero_from:
        loss_note = f"loss = 0 (not drawn on a log scale) from epoch {min(zero_from)}"
        _note(loss_axes, (0.98, 0.95), loss_note, ha="right", fontsize=9, bbox={"facecolor": "white", "edgecolor": "gray"})
    if not np.any([np.isfinite(t.loss) & (t.loss > 0) for t in traces.values()]):
        loss_axes.set_ylim(1e-1, 1e1)


def _draw_ulps(w_axes: Axes, loss_axes: Axes, traces: Mapping[str, Trace], comparisons: Mapping[str, Comparison]) -> None:
    for index, (label, trace) in enumerate(traces.items()):
        style = _style(index, len(traces), len(trace)) | {"drawstyle": "steps-mid"}
        found = comparisons[label]
        for axes, distance in ((w_axes, found.ulp_w), (loss_axes, found.ulp_loss)):
            axes.plot(trace.epoch, found.shown(distance), **style)
    if any(found.contract is not None and not found.bounds for found in comparisons.values()):
        _note(w_axes, (0.98, 0.92), f"bounds not drawn: over {BOUND_EPOCHS} epochs", ha="right")
    elif _draw_bounds(w_axes, loss_axes, comparisons):
        w_axes.legend(loc="upper right", fontsize=8)
    for axes, name in ((w_axes, "w"), (loss_axes, "loss")):
        _ulp_axis(axes)
        axes.set_ylabel(f"ULP, {name}")
        axes.grid(alpha=0.3, which="both")
    w_axes.set_title("4. ULP distance to the NumPy emulation (symlog)")
    w_axes.tick_params(labelbottom=False)
    loss_axes.set_xlabel("epoch e")


def _draw_bounds(w_axes: Axes, loss_axes: Axes, comparisons: Mapping[str, Comparison]) -> bool:
    """One dashed line per contract whose bound is not 0 (a 0 bound is bit for bit, which the
    legend says); whether any was drawn."""
    named: dict[Contract, list[str]] = {}
    for label, found in comparisons.items():
        if found.contract is not None and any(bound[found.compared].any() for bound in found.bounds):
            named.setdefault(found.contract, []).append(label)
    for contract, labels in named.items():
        found = comparisons[labels[0]]
        for axes, bound in zip((w_axes, loss_axes), found.bounds, strict=True):
            # The uint64 maximum means no finite bound (a value near 0 or not finite): say so, do not draw 1.8e19.
            unbounded = found.compared & (bound == np.iinfo(np.uint64).max)
            if unbounded.any():
                _note(axes, (0.5, 0.92), f"from epoch {found.epochs[unbounded][0]} the bound is not finite", ha="center", color="dimgray")
            line = np.where(unbounded, np.nan, found.shown(bound))
            dashes: dict[str, Any] = {"color": "gray", "linestyle": (0, (4, 2)), "linewidth": 1.2, "drawstyle": "steps-mid"}
            axes.plot(found.epochs, line, **dashes, label=f"{contract} bound ({', '.join(labels)})")
    return bool(named)


def _note(axes: Axes, where: tuple[float, float], text: str, **style: Any) -> None:
    """``text`` hanging from ``where`` in axes fractions, 8 points unless ``style`` says otherwise."""
    axes.text(*where, text, transform=axes.transAxes, va="top", **({"fontsize": 8} | style))


def _ulp_axis(axes: Axes) -> None:
    """Symlog with 0 at the bottom and at most six ticks: 0, 1, 10, 100, 1000, then powers of ten."""
    finite = [np.nanmax(line.get_ydata(), initial=0.0) for line in axes.get_lines() if np.isfinite(line.get_ydata()).any()]
    decades = max(1, math.ceil(math.log10(max(1.0, *finite))))
    every = math.ceil((decades + 1) / 5)
    axes.set_yscale("symlog", linthresh=1.0)
    axes.set_ylim(-0.3, 10.0**decades * 1.6)
    # Skip 1 when decades are skipped: next to 0 its label would overlap.
    axes.yaxis.set_major_locator(FixedLocator([0.0, *(10.0**k for k in range(0 if every == 1 else every, decades + 1, every))]))
    axes.yaxis.set_minor_locator(NullLocator())
    axes.yaxis.set_major_formatter(
        FuncFormatter(lambda value, _: f"{value:.0f}" if value < 1e4 else f"$10^{{{round(math.log10(value))}}}$")
    )
