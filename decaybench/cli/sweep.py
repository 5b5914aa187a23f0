"""``decaybench sweep``: a grid of schedules, its metrics as a table, CSV, JSON or a heatmap.

The range flags are the configuration flags of the swept fields, taking a range instead of one
value; the other flags are the configuration flags of the fields a grid shares, generated from
``DecayConfig`` as for every command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from decaybench.checkpoint import latest_epoch
from decaybench.cli.parsing import Command, Flag, UsageError, config_flags
from decaybench.cli.runtime import PROG, emit, load_tensorflow
from decaybench.config import DecayConfig
from decaybench.files import check_writable
from decaybench.grid import AXES, DEFAULT_RANGES, Grid, check_tol, checkpoint_options, default_mode, run_grid
from decaybench.messages import say
from decaybench.metrics import METRICS
from decaybench.paths import check_apart
from decaybench.sweep import sweep_modes
from decaybench.validation import InvalidValue

__all__ = ["FORMATS", "SWEEP", "sweep"]

FORMATS = ("table", "csv", "json")
# --output's extension decides what is written.
EXTENSIONS = {".png": "png", ".csv": "csv", ".json": "json"}
SHARED = ("staircase", "epochs", "w0", "dtype")


def _range_flag(flag: Flag) -> Flag:
    name = flag.dest
    help_text = f"{flag.options['help'].rsplit(' (', 1)[0]}: start:stop:num or a comma list ({DEFAULT_RANGES[name]})"
    return Flag(flag.option, {"dest": name, "default": DEFAULT_RANGES[name], "metavar": "A:B:N|LIST", "help": help_text})


def _flags() -> tuple[Flag, ...]:
    by_name = {flag.dest: flag for flag in config_flags()}
    return (
        *(_range_flag(by_name[name]) for name in reversed(AXES)),
        *(by_name[name] for name in SHARED),
        Flag("--metric", {"choices": METRICS, "default": "final-loss", "help": "the figure's colour (final-loss)"}),
        Flag("--tol", {"type": float, "default": 1e-6, "help": "epochs-to-tol counts epochs until the loss is below this (1e-6)"}),
        Flag("--mode", {"choices": sweep_modes(), "default": default_mode(), "help": f"the compiled loop ({default_mode()})"}),
        Flag("--format", {"choices": FORMATS, "help": "without --output: table (default), csv or json"}),
        Flag("--output", {"metavar": "FILE", "help": "FILE.png (the heatmap), FILE.csv or FILE.json, written atomically"}),
        Flag(
            "--checkpoint-dir", {"metavar": "DIR", "help": "save the cells' state in DIR (a new directory, or the sweep's with --resume)"}
        ),
        Flag("--checkpoint-every", {"type": int, "metavar": "K", "help": "save every K epochs and after the last (epochs // 10)"}),
        Flag("--resume", {"action": "store_true", "help": "continue from the latest checkpoint in --checkpoint-dir"}),
    )


def _format(args: argparse.Namespace) -> str:
    if args.output is None:
        return str(args.format or "table")
    found = EXTENSIONS.get(Path(args.output).suffix.lower())
    if found is None:
        raise InvalidValue("output", args.output, f"must end in {', '.join(EXTENSIONS)}: the extension names the format")
    if args.format is not None and args.format != found:
        raise UsageError(f"--format: {args.format} contradicts --output {args.output!r}; leave --format out with --output")
    return found


def _grid(args: argparse.Namespace) -> Grid:
    base = DecayConfig(**{name: getattr(args, name) for name in SHARED})
    try:
        return Grid.parse({name: getattr(args, name) for name in AXES}, base)
    except InvalidValue as error:
        if str(error.value).startswith("<"):  # a grid too large: name the flag's own text
            raise InvalidValue(error.argument, getattr(args, error.argument), error.rule) from None
        raise


def sweep(args: argparse.Namespace) -> int:
    """``decaybench sweep``: every cell's metrics, one compiled call per chunk, then the output."""
    grid = _grid(args)
    check_tol(args.tol)
    kind = _format(args)
    check_apart({"checkpoint_dir": args.checkpoint_dir, "output": args.output})  # apart, and not in golden/, as run's
    output = check_writable(args.output) if args.output else None
    saving = {"checkpoint_dir": args.checkpoint_dir, "checkpoint_every": args.checkpoint_every, "resume": args.resume}
    checkpoint = checkpoint_options(grid, args.tol, args.mode, *saving.values())  # before TensorFlow and any file
    if kind == "png":
        try:
            from decaybench.sweep_plot import save_grid_plot  # loads matplotlib, an optional extra
        except ModuleNotFoundError as error:
            raise UsageError(f"a png needs matplotlib, the plot extra: pip install 'decaybench[plot]' ({error})") from error
    load_tensorflow()
    resumed = (latest_epoch(checkpoint.directory) or 0) if checkpoint is not None and checkpoint.resume else None
    result = run_grid(grid, args.tol, args.mode, **saving)
    if kind == "png":
        save_grid_plot(output, result, args.metric)  # type: ignore[arg-type]
    else:
        emit({"table": result.table, "csv": result.to_csv, "json": result.to_json}[kind](), output)
    if resumed is not None:
        say(f"{PROG}: resumed at epoch {resumed} from {args.checkpoint_dir}")
    return 0


SWEEP = Command(
    "sweep",
    sweep,
    help="run a grid of schedules in one compiled call; print its metrics or draw its heatmap",
    description=(
        "Run every (initial lr, decay rate, decay steps) of a grid, one compiled XLA call per chunk, and keep per cell the "
        "final loss, the first epoch whose loss is below --tol, and the divergence epoch (lr > 1, i.e. |1 - 2 lr| > 1, or "
        "non-finite values). Each cell equals `decaybench run --mode MODE` on its configuration, bit for bit. A range is "
        "start:stop:num (num values, both ends included) or a comma list; the defaults centre on the seed (0.2, 0.99), "
        "60 x 51 cells. --output FILE.png draws the heatmap; .csv and .json write one row per cell. Ctrl-C or SIGTERM stops "
        "a sweep within a fraction of a second; with --checkpoint-dir, --resume continues it to the same bytes."
    ),
    examples=(
        f"{PROG} sweep --output sweep.png",
        f"{PROG} sweep --initial-lr 0.1:0.9:5 --decay-rate 0.9,0.99 --format csv",
        f"{PROG} sweep --decay-steps 1,5 --staircase --metric epochs-to-tol --output staircase.png",
    ),
    flags=_flags(),
)
