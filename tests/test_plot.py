"""decaybench.plot: the figure's size, its content on edge cases, and ``decaybench plot`` as a user runs it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

pytest.importorskip("matplotlib", reason="the plot extra is not installed")

import matplotlib
import matplotlib.image
import numpy as np

from decaybench.bounds import bound_emulation
from decaybench.config import DecayConfig
from decaybench.files import OutputError
from decaybench.modes.emulation import emulate
from decaybench.plot import PIXELS, PNG_SIGNATURE, plot_traces, png_bytes, png_size, save_plot
from decaybench.trace import Trace
from decaybench.validation import InvalidValue
from decaybench.verify import compare

if TYPE_CHECKING:
    from tests.conftest import Command

ROOT = Path(__file__).resolve().parents[1]


def assert_png(path: Path) -> None:
    """Written, a PNG of PIXELS by its header, and decodable to that many pixels."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert png_size(data) == PIXELS
    width, height = PIXELS
    assert matplotlib.image.imread(path).shape == (height, width, 4)


def texts(figure: matplotlib.figure.Figure) -> str:
    return "\n".join(text.get_text() for axes in figure.axes for text in axes.texts)


def legend(figure: matplotlib.figure.Figure, panel: int) -> list[str]:
    drawn = figure.axes[panel].get_legend()
    assert drawn is not None
    return [text.get_text() for text in drawn.get_texts()]


def both(config: DecayConfig) -> dict[str, Trace]:
    return {"numpy": emulate(config), "fused": emulate(config, fused=True)}


def test_png_is_written_decodes_and_has_the_fixed_size(tmp_path: Path) -> None:
    target = tmp_path / "fig.png"
    target.write_bytes(png_bytes(plot_traces(both(DecayConfig()))))
    assert_png(target)


def test_size_ignores_the_users_matplotlib_settings(tmp_path: Path) -> None:
    figure = plot_traces(both(DecayConfig(epochs=5)))
    with matplotlib.rc_context({"savefig.bbox": "tight", "savefig.dpi": 33, "figure.dpi": 50, "font.size": 30}):
        data = png_bytes(figure)
        data_built_inside = png_bytes(plot_traces(both(DecayConfig(epochs=5))))
    assert png_size(data) == png_size(data_built_inside) == PIXELS


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(DecayConfig(w0=-1.0), id="loss-zero"),
        pytest.param(DecayConfig(initial_learning_rate=0.9, decay_rate=1.05, epochs=30), id="diverges"),
        pytest.param(DecayConfig(decay_rate=1e200, epochs=6), id="lr-overflows"),
        pytest.param(DecayConfig(staircase=True, decay_steps=5, decay_rate=0.5, epochs=60), id="staircase"),
        pytest.param(DecayConfig(size=7, record_every=3, epochs=50, dtype="float64"), id="vector-float64-sparse"),
        pytest.param(DecayConfig(epochs=1), id="one-epoch"),
        pytest.param(DecayConfig(decay_rate=1.0, initial_learning_rate=0.0), id="lr-zero"),
    ],
)
def test_edge_cases_draw_without_warnings(config: DecayConfig) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = png_bytes(plot_traces(both(config)))
    assert png_size(data) == PIXELS


def test_seed_figure_says_what_it_shows() -> None:
    config = DecayConfig()
    numpy = emulate(config)
    figure = plot_traces({"eager": dataclasses.replace(numpy, mode="eager"), "numpy": numpy, "xla": emulate(config, fused=True)})
    _, w_panel, loss_panel, ulp_w, ulp_loss = figure.axes
    assert r"0.2 \cdot 0.99^{\,e/1}" in figure.get_suptitle() and figure.get_suptitle().startswith("The seed")
    assert loss_panel.get_yscale() == "log" and ulp_w.get_yscale() == ulp_loss.get_yscale() == "symlog"
    # decay_steps=1: the stairs are an illustration with D=5 and rate 0.99**5, and say so.
    assert any(r"\lfloor e/5 \rfloor" in label and "not run" in label for label in legend(figure, 0))
    w_legend = w_panel.get_legend()
    assert w_legend is not None
    assert w_legend.get_title().get_text() == "3 modes, 2 bit-identical to the NumPy emulation (their lines overlap)"
    assert legend(figure, 1) == [
        "eager: = emulation, bit for bit",
        "numpy: the emulation of record",
        "xla: one rounding per update (FMA): up to 1 ULP (w), 5 ULP (loss)",
    ]
    assert legend(figure, 3) == ["fused-update bound (xla)"]
    # Identical lines are told apart by their styles.
    styles = {(line.get_linestyle(), line.get_marker(), line.get_linewidth()) for line in w_panel.get_lines()[:3]}
    assert len(styles) == 3


def test_panel_four_draws_what_verify_compares() -> None:
    config = DecayConfig(initial_learning_rate=0.9, decay_rate=1.05, epochs=30)  # diverges at epoch 3
    traces = both(config)
    figure = plot_traces(traces)
    # The emulation's fused variant keeps xla's contract, and so its bound.
    found = compare(traces["fused"], traces["numpy"], "fused-update", bound_emulation(config))
    assert found.stop == 3 and legend(figure, 3) == ["fused-update bound (fused)"]
    for axes, ulps, bound in ((figure.axes[3], found.ulp_w, found.bound_w), (figure.axes[4], found.ulp_loss, found.bound_loss)):
        numpy_line, fused_line, bound_line, stop_line = axes.get_lines()
        np.testing.assert_array_equal(numpy_line.get_ydata(), np.where(np.arange(30) < 3, 0.0, np.nan))
        np.testing.assert_array_equal(fused_line.get_ydata(), found.shown(ulps))
        assert bound is not None
        np.testing.assert_array_equal(bound_line.get_ydata(), found.shown(bound))
        assert list(stop_line.get_xdata()) == [3, 3]


def test_zero_loss_and_divergence_are_said() -> None:
    assert "loss = 0 (not drawn on a log scale) from epoch 0" in texts(plot_traces([emulate(DecayConfig(w0=-1.0))]))
    assert "diverged at epoch 3" in texts(plot_traces([emulate(DecayConfig(initial_learning_rate=0.9, decay_rate=1.05, epochs=30))]))


def test_bad_traces_are_refused() -> None:
    seed = emulate(DecayConfig(epochs=3))
    with pytest.raises(ValueError, match="at least one"):
        plot_traces([])
    with pytest.raises(ValueError, match="repeated modes"):
        plot_traces([seed, seed])
    with pytest.raises(ValueError, match="one DecayConfig"):
        plot_traces({"a": seed, "b": emulate(dataclasses.replace(seed.config, epochs=4))})
    with pytest.raises(TypeError, match="must be a Trace"):
        plot_traces({"a": "not a trace"})  # type: ignore[dict-item]


def test_save_plot_checks_before_running(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match="mode"):
        save_plot(tmp_path / "fig.png", DecayConfig(epochs=3), ["numpy", "warp"])
    with pytest.raises(OutputError, match="does not exist"):
        save_plot(tmp_path / "no" / "fig.png", DecayConfig(epochs=3), ["numpy"])
    assert list(tmp_path.iterdir()) == []
    traces = save_plot(tmp_path / "fig.png", DecayConfig(epochs=3), ["numpy", "numpy"])
    assert list(traces) == ["numpy"]
    assert_png(tmp_path / "fig.png")
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_importing_the_module_loads_neither_pyplot_nor_tensorflow() -> None:
    code = "import sys, decaybench.plot; print(sorted(m for m in ('matplotlib.pyplot', 'tensorflow') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


def test_cli_plots_every_mode(decaybench: Command, tmp_path: Path) -> None:
    output = tmp_path / "fig.png"
    done = decaybench("plot", "--epochs", "8", "--output", str(output))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert_png(output)
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


@pytest.mark.parametrize(
    ("args", "named", "value"),
    [
        (["--modes", "eager", "warp"], "--modes", "warp"),
        (["--modes"], "--modes", ""),
        (["--decay-rate", "0"], "--decay-rate", "0"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line_and_no_file(
    decaybench: Command, tmp_path: Path, args: list[str], named: str, value: str
) -> None:
    output = tmp_path / "fig.png"
    done = decaybench("plot", *args, "--output", str(output))
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and named in done.stderr and value in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_needs_output(decaybench: Command) -> None:
    done = decaybench("plot", "--modes", "numpy")
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and "--output" in done.stderr


def test_the_readme_figure_is_there() -> None:
    assert_png(ROOT / "docs" / "figures" / "seed.png")
