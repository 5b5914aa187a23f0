"""The ``decaybench`` command: it parses, calls the public API and formats; nothing else.

Bad input exits with status 2 and one line on stderr naming the flag and the value, before
TensorFlow is loaded and before any file is touched.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from decaybench.bench import GROUPS
from decaybench.config import DTYPES, DecayConfig
from decaybench.files import OutputError, check_writable, write_atomic
from decaybench.golden import GoldenError
from decaybench.modes import REGISTRY
from decaybench.progress import stop_on_interrupt
from decaybench.validation import ArgumentError
from decaybench.xla_flags import XLA_NO_FMA, with_flag, xla_accepts

__all__ = ["main"]

PROG = "decaybench"

# The flag a user typed for each API argument, so that errors name what the user can fix.
FLAGS = {
    "initial_learning_rate": "--initial-lr",
    "decay_rate": "--decay-rate",
    "decay_steps": "--decay-steps",
    "staircase": "--staircase",
    "epochs": "--epochs",
    "w0": "--w0",
    "dtype": "--dtype",
    "size": "--size",
    "record_every": "--record-every",
    "mode": "--mode",
    "format": "--format",
}


class UsageError(Exception):
    """A user error to report in one line and exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the usage too; our contract is one line on stderr.
        raise UsageError(message)


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _config_flags() -> _Parser:
    flags = _Parser(add_help=False)
    group = flags.add_argument_group("configuration (defaults: the seed's)")
    group.add_argument("--initial-lr", type=float, default=0.2, help="lr at epoch 0 (0.2)")
    group.add_argument("--decay-rate", type=float, default=0.99, help="factor per decay_steps epochs (0.99)")
    group.add_argument("--decay-steps", type=int, default=1, help="epochs per decay (1)")
    group.add_argument("--staircase", action="store_true", help="decay in whole steps: epoch // decay_steps")
    group.add_argument("--epochs", type=int, default=40, help="number of updates (40)")
    group.add_argument("--w0", type=float, default=5.0, help="initial value of every element of w (5.0)")
    group.add_argument("--dtype", choices=DTYPES, default="float32", help="float32 (the seed's) or float64")
    group.add_argument("--size", type=int, default=1, help="number of elements of w (1)")
    group.add_argument("--record-every", type=int, default=1, metavar="K", help="keep every K-th epoch, the first and the last (1)")
    return flags


def _runtime_flags() -> _Parser:
    flags = _Parser(add_help=False)
    flags.add_argument("--xla-no-fma", action="store_true", help=f"make XLA bit-exact by forbidding FMA (XLA_FLAGS={XLA_NO_FMA})")
    return flags


def _config(args: argparse.Namespace) -> DecayConfig:
    return DecayConfig(
        initial_learning_rate=args.initial_lr,
        decay_rate=args.decay_rate,
        decay_steps=args.decay_steps,
        staircase=args.staircase,
        epochs=args.epochs,
        w0=args.w0,
        dtype=args.dtype,
        size=args.size,
        record_every=args.record_every,
    )


@contextlib.contextmanager
def _stderr_captured() -> Iterator[None]:
    """Hold back what C++ libraries write on fd 2 (TensorFlow's start-up logging); replay it on error."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _load_tensorflow(xla_no_fma: bool = False) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if xla_no_fma:
        if not xla_accepts(XLA_NO_FMA):
            raise UsageError(f"--xla-no-fma: this TensorFlow's XLA does not know {XLA_NO_FMA} (TensorFlow 2.19 or newer does)")
        os.environ["XLA_FLAGS"] = with_flag(os.environ.get("XLA_FLAGS"), XLA_NO_FMA)
    with _stderr_captured():
        import tensorflow as tf

        from decaybench.modes.distributed import setup_devices

        setup_devices()  # before any op: mode mirrored then runs in this process, on 2 logical CPUs
        tf.config.list_physical_devices()  # device start-up logs here, not mid-output


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomic(output, text)


def _cmd_run(args: argparse.Namespace) -> int:
    from decaybench.loops import check_memory, run

    config = _config(args)
    check_memory(config)
    output = check_writable(args.output) if args.output else None
    _load_tensorflow(args.xla_no_fma)
    trace = run(config, args.mode, progress=True if args.progress else None)
    formats: dict[str, Callable[[], str]] = {
        "text": lambda: "\n".join(trace.lines()) + "\n",
        "csv": trace.to_csv,
        "json": trace.to_json,
    }
    _emit(formats[args.format](), output)
    if trace.diverged_at is not None:
        print(f"{PROG}: diverged at epoch {trace.diverged_at}", file=sys.stderr)
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    config = _config(args)
    output = check_writable(args.output) if args.output else None
    _load_tensorflow(args.xla_no_fma)
    from decaybench.report import verify_table
    from decaybench.verify import verify

    report = verify(config)
    text = json.dumps(report.to_dict(), indent=2) + "\n" if args.format == "json" else verify_table(report) + "\n"
    _emit(text, output)
    diverged = sorted({row.diverged_at for row in report.rows if row.diverged_at is not None})
    if diverged:
        print(f"{PROG}: diverged at epoch {diverged[0]}", file=sys.stderr)
    return 0 if report.ok else 1


def _cmd_modes(args: argparse.Namespace) -> int:
    width = max(len(name) for name in REGISTRY)
    for spec in REGISTRY.values():
        print(f"{spec.name:<{width}}  {spec.summary}")
    return 0


def _cmd_golden(args: argparse.Namespace) -> int:
    from decaybench import golden

    directory = Path(args.dir) if args.dir else golden.golden_dir()
    documented = golden.read_documented(directory)
    _load_tensorflow()
    from decaybench.loops import run

    trace = run(DecayConfig(), "eager")
    if args.update:
        for line in golden.update_golden(trace, directory):
            print(line)
        return 0
    failures = [check for check in golden.check_documented(trace, documented) if not check.ok]
    stored = golden.read_golden_trace(directory)
    drifted = stored.lines() != trace.lines() or stored.to_json() != trace.to_json()
    print(f"documented lines reproduced: {len(documented.lines) - len(failures)}/{len(documented.lines)}")
    print(f"{directory / golden.TRACE_JSON}: {'differs from this run' if drifted else 'matches this run bit for bit'}")
    return 1 if failures or drifted else 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from decaybench.loops import check_memory

    config = _config(args)
    check_memory(config)
    output = check_writable(args.output)
    try:
        from decaybench.plot import save_plot
    except ModuleNotFoundError as error:
        raise UsageError(f"plot needs matplotlib, the plot extra: pip install 'decaybench[plot]' ({error})") from error
    _load_tensorflow(args.xla_no_fma)
    traces = save_plot(output, config, args.modes)
    diverged = sorted({trace.diverged_at for trace in traces.values() if trace.diverged_at is not None})
    if diverged:
        print(f"{PROG}: diverged at epoch {diverged[0]}", file=sys.stderr)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    output = check_writable(args.output) if args.output else None
    _load_tensorflow()
    from decaybench.bench import run_benchmarks, table

    report = run_benchmarks(args.group, quick=args.quick, progress=True)
    _emit(json.dumps(report.to_dict(), indent=2) + "\n" if args.format == "json" else table(report) + "\n", output)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with an example in every help text."""
    parser = _Parser(
        prog=PROG,
        description="Exponential-decay learning-rate schedules in TensorFlow 2: reproduce, verify, benchmark.",
        epilog=_examples(
            f"{PROG} run",
            f"{PROG} run --mode graph --staircase --decay-steps 5",
            f"{PROG} verify",
            f"{PROG} plot --output seed.png",
            f"{PROG} modes",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    config_flags = _config_flags()
    runtime_flags = _runtime_flags()

    run_parser = commands.add_parser(
        "run",
        parents=[config_flags, runtime_flags],
        help="train the seed problem and print its trace",
        description="Train w on sum((w + 1)**2) with the exponential-decay schedule and print the trace.",
        epilog=_examples(f"{PROG} run", f"{PROG} run --epochs 100 --format csv --output trace.csv"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run_parser.add_argument("--mode", choices=tuple(REGISTRY), default="eager", help="execution mode (eager)")
    run_parser.add_argument("--format", choices=("text", "csv", "json"), default="text", help="text: the seed's lines (text)")
    run_parser.add_argument("--output", metavar="FILE", help="write here (atomically) instead of stdout")
    run_parser.add_argument("--progress", action="store_true", help="show a progress bar on stderr even when it is not a terminal")
    run_parser.set_defaults(handler=_cmd_run)

    verify_parser = commands.add_parser(
        "verify",
        parents=[config_flags, runtime_flags],
        help="run every mode and check it against the emulation, the oracle and the seed",
        description=(
            "Run every mode on one configuration (default: the seed's) and print one row per mode: documented seed lines "
            "reproduced, bit-identity with the NumPy emulation, ULP distances against each mode's stated bound, relative "
            "error against the exact oracle, lr agreement with tf.keras's own ExponentialDecay, and traces per run. "
            "Exits 0 only when every mode meets its bound."
        ),
        epilog=_examples(
            f"{PROG} verify", f"{PROG} verify --dtype float64 --size 1000 --format json --output verify.json", f"{PROG} verify --xla-no-fma"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify_parser.add_argument("--format", choices=("table", "json"), default="table", help="table (default) or json")
    verify_parser.add_argument("--output", metavar="FILE", help="write here (atomically) instead of stdout")
    verify_parser.set_defaults(handler=_cmd_verify)

    modes_parser = commands.add_parser(
        "modes",
        help="list the execution modes",
        description="List the execution modes, one per line.",
        epilog=_examples(f"{PROG} modes"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    modes_parser.set_defaults(handler=_cmd_modes)

    golden_parser = commands.add_parser(
        "golden",
        help="check (or --update) the generated golden trace",
        description="Check the eager trace against golden/; with --update, regenerate golden/seed_trace.*.",
        epilog=_examples(f"{PROG} golden", f"{PROG} golden --update"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    golden_parser.add_argument("--update", action="store_true", help="rewrite the generated golden files atomically")
    golden_parser.add_argument("--dir", metavar="DIR", help="golden directory (default: the checkout's golden/)")
    golden_parser.set_defaults(handler=_cmd_golden)

    plot_parser = commands.add_parser(
        "plot",
        parents=[config_flags, runtime_flags],
        help="draw lr, w, loss and each mode's ULP distance to the emulation into a PNG",
        description=(
            "Run the modes on one configuration (default: the seed's) and draw one PNG: lr against the epoch (continuous "
            "and staircase), w and the loss (log scale) per mode, and each mode's ULP distance to the NumPy emulation."
        ),
        epilog=_examples(
            f"{PROG} plot --output seed.png",
            f"{PROG} plot --staircase --decay-steps 5 --modes eager xla --output staircase.png",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plot_parser.add_argument(
        "--modes", nargs="+", choices=tuple(REGISTRY), default=tuple(REGISTRY), metavar="MODE", help="modes to run and draw (all)"
    )
    plot_parser.add_argument("--output", metavar="FILE", required=True, help="the PNG to write (atomically)")
    plot_parser.set_defaults(handler=_cmd_plot)

    bench_parser = commands.add_parser(
        "bench",
        help="time every mode against its peers and floors; print medians, ratios and the targets",
        description=(
            "Time the benchmark workloads (the same as `pytest --benchmark-only` in benchmarks/): every mode, the peers "
            "(tf.keras, PyTorch, optax) and the floors (plain Python, NumPy, a memory copy), on the CPU and on a GPU when "
            "TensorFlow sees one. Prints one row per workload: the median, ns per step, and how many times faster it is "
            "than eager, than the fastest peer, than the fastest floor; then the targets, met or missed. Progress on stderr."
        ),
        epilog=_examples(f"{PROG} bench --quick", f"{PROG} bench --group seed sweep", f"{PROG} bench --format json --output bench.json"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench_parser.add_argument("--quick", action="store_true", help="fewer rounds and no workload slower than a few seconds (< 60 s)")
    bench_parser.add_argument(
        "--group", nargs="+", choices=GROUPS, default=GROUPS, metavar="GROUP", help=f"groups to time: {', '.join(GROUPS)} (all)"
    )
    bench_parser.add_argument("--format", choices=("table", "json"), default="table", help="table (default) or json")
    bench_parser.add_argument("--output", metavar="FILE", help="write here (atomically) instead of stdout")
    bench_parser.set_defaults(handler=_cmd_bench)
    return parser


def _flag_message(error: ArgumentError) -> str:
    flag = FLAGS.get(error.argument, error.argument)
    return f"{flag}: {error.rule}, got {error.value!r}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 check failed, 2 usage, 130 Ctrl-C)."""
    try:
        args = build_parser().parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler
        with stop_on_interrupt():
            return handler(args)
    except SystemExit as done:  # --help
        return int(done.code or 0)
    except UsageError as error:
        message = str(error)
    except ArgumentError as error:
        message = _flag_message(error)
    except OutputError as error:
        message = f"--output: {error}"
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except GoldenError as error:
        message = str(error)
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2
