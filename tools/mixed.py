"""Mixed precision across Keras 2 and 3: the README's table and figure, each Keras in its own process.

:func:`fit_traces` runs ``decaybench run --mode fit --policy mixed_float16 --format json`` on the seed
in a fresh interpreter per Keras (Keras 3, then tf_keras with ``TF_USE_LEGACY_KERAS=1``): a process
runs one Keras. :func:`block` is the README's table of the first epochs (generated block ``mixed``),
:func:`figure` draws lr and w against the epoch (``docs/figures/mixed_precision.png``)::

    python -m tools.mixed --output docs/figures/mixed_precision.png
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from decaybench.cli.parsing import Command, Flag, run_parser
from decaybench.trace import Trace
from tools.cli import tool_parser

__all__ = ["COMMAND", "EPOCHS", "FIGURE", "block", "figure", "fit_traces", "main"]

EPOCHS = 20
FIGURE = Path(__file__).resolve().parent.parent / "docs" / "figures" / "mixed_precision.png"
_KERASES = {"Keras 3": {}, "Keras 2": {"TF_USE_LEGACY_KERAS": "1"}}


def fit_traces(epochs: int = EPOCHS, policy: str = "mixed_float16") -> dict[str, Trace]:
    """The seed's ``fit`` under ``policy`` in each Keras, keyed by the name of the Keras that ran."""
    traces = {}
    for extra in _KERASES.values():
        env = {key: value for key, value in os.environ.items() if key != "TF_USE_LEGACY_KERAS"} | {"TF_CPP_MIN_LOG_LEVEL": "2", **extra}
        argv = [sys.executable, "-m", "decaybench", "run", "--mode", "fit", "--policy", policy, "--epochs", str(epochs), "--format", "json"]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[2:])} failed: {done.stderr.strip()[-500:]}")
        trace = Trace.from_json(done.stdout)
        assert trace.scaling is not None  # mixed_float16 scales the loss
        traces[trace.scaling.keras.name] = trace
    return traces


def block(traces: dict[str, Trace] | None = None) -> str:
    """The README's table: each Keras's w, iterations and loss scale for the epochs around the skipped steps,
    then the semantics of each."""
    from decaybench.verify_policy import epoch_table

    traces = traces if traces is not None else fit_traces()
    lines = [epoch_table(traces), ""]
    for trace in traces.values():
        assert trace.scaling is not None
        first = int(trace.scaling.skipped.argmin())
        lines.append(f"{trace.scaling.keras.semantics}: the first update (epoch {first}) applies lr = {trace.lr[first]:f}")
    return "```text\n" + "\n".join(lines) + "\n```"


def figure(path: Path | str = FIGURE, traces: dict[str, Trace] | None = None) -> None:
    """lr and w against the epoch, Keras 2 against Keras 3 (:func:`decaybench.mixed_plot.save_mixed_plot`)."""
    from decaybench.mixed_plot import save_mixed_plot  # loads matplotlib

    save_mixed_plot(path, traces if traces is not None else fit_traces())


def _figure(output: str) -> int:
    figure(output)
    return 0


COMMAND = Command(
    "mixed",
    lambda args: _figure(args.output),
    help="draw lr and w against the epoch under mixed_float16, Keras 2 against Keras 3",
    description="Draw lr and w against the epoch of the seed's fit under mixed_float16, Keras 2 against Keras 3 (one process each).",
    flags=(Flag("--output", {"metavar": "FILE", "default": str(FIGURE), "help": "the PNG (docs/figures/mixed_precision.png)"}),),
)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.mixed [--output FILE]``: write the figure."""
    return run_parser(tool_parser("python -m tools.mixed", COMMAND), (COMMAND,), argv)


if __name__ == "__main__":
    raise SystemExit(main())
