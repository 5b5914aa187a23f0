"""The ``decaybench`` subcommands: one function each, which parses nothing, calls the API and formats."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from decaybench.bench import BenchmarkError, run_benchmarks, table
from decaybench.checkpoint import check_options, latest_epoch
from decaybench.cli.parsing import Flag, UsageError, config_from
from decaybench.cli.runtime import PROG, emit, load_tensorflow, report_divergence
from decaybench.config import DecayConfig
from decaybench.files import OutputError, check_writable
from decaybench.golden import check_drift, check_update, golden_dir, read_documented, read_golden_trace, update_golden
from decaybench.loops import check_policy_mode
from decaybench.loops import run as run_mode
from decaybench.memory import check_memory
from decaybench.messages import say
from decaybench.modes import REGISTRY, modes_for
from decaybench.modes.distributed import tf_config
from decaybench.modes.distributed.timeouts import ClusterOptions, Timeouts, cluster_options
from decaybench.paths import check_apart
from decaybench.report import verify_table
from decaybench.verify import verify as verify_modes
from decaybench.verify_policy import policy_table, verify_policy

__all__ = ["CHECKPOINT_FLAGS", "OUTPUT", "bench", "golden", "modes", "plot", "run", "verify"]

OUTPUT = Flag("--output", {"metavar": "FILE", "help": "write here (atomically) instead of stdout"})
CHECKPOINT_FLAGS = (
    Flag("--checkpoint-dir", {"metavar": "DIR", "help": "save the run's state in DIR (a new directory, or the run's with --resume)"}),
    Flag("--checkpoint-every", {"type": int, "metavar": "K", "help": "save every K epochs and after the last (epochs // 10)"}),
    Flag("--resume", {"action": "store_true", "help": "continue from the latest checkpoint in --checkpoint-dir"}),
)
TABLE_OR_JSON = Flag("--format", {"choices": ("table", "json"), "default": "table", "help": "table (default) or json"})


def _output(args: argparse.Namespace) -> Path | None:
    check_apart({"output": args.output})  # not into golden/
    return check_writable(args.output) if args.output is not None else None  # '' is refused, not stdout


def run(args: argparse.Namespace) -> int:
    """``decaybench run``: one mode's trace as the seed's lines, CSV or JSON."""
    config = config_from(args)
    check_memory(config, args.mode)
    check_policy_mode(config, args.mode, args.checkpoint_dir)  # before TensorFlow loads
    spec = REGISTRY[args.mode]
    host = tf_config.from_environment() if spec.cluster else None  # a bad TF_CONFIG: one line, exit 2
    options = ClusterOptions(Timeouts(startup=args.startup_timeout, collective=args.collective_timeout), args.max_restarts)
    if host is not None:
        tf_config.check_addresses(host, options.timeouts.startup)  # names resolve, no server twice, this host's port free
    # A host of a real cluster resumes its checkpoint directory by itself: a scheduler restarts the same command.
    args.resume = args.resume or tf_config.resumes(host, args.checkpoint_dir)
    check_apart({"checkpoint_dir": args.checkpoint_dir, "output": args.output})  # before the run fills either
    checkpoint = check_options(config, args.mode, args.checkpoint_dir, args.checkpoint_every, args.resume)  # before any file
    output = _output(args)
    resumed = (latest_epoch(checkpoint.directory) or 0) if checkpoint is not None and checkpoint.resume else None
    if spec.tensorflow:  # a NumPy mode (the emulation) starts in a tenth of the time without it
        load_tensorflow(args.xla_no_fma, args.compile_cache)
    saving = {"checkpoint_dir": args.checkpoint_dir, "checkpoint_every": args.checkpoint_every, "resume": args.resume}
    with cluster_options(options.timeouts, options.max_restarts):
        trace = run_mode(config, args.mode, progress=True if args.progress else None, **saving)
    if host is not None and not (host.is_chief or args.output_all):
        say(f"{PROG}: {host.name(host.rank)}: the trace equals the chief's; the chief writes it (--output-all: every host)")
        return 0
    formats: dict[str, Callable[[], str]] = {
        "text": lambda: "\n".join(trace.lines()) + "\n",
        "csv": trace.to_csv,
        "json": trace.to_json,
    }
    emit(formats[args.format](), output)
    if resumed is not None:
        say(f"{PROG}: resumed at epoch {resumed} from {args.checkpoint_dir}")
    report_divergence([trace.diverged_at])
    return 0


def verify(args: argparse.Namespace) -> int:
    """``decaybench verify``: every mode against its checks; exit 1 when one misses its bound."""
    config = config_from(args)
    check_memory(config, modes_for(config.dtype), "verify")
    output = _output(args)
    tf_config.refuse_for("verify")
    load_tensorflow(args.xla_no_fma, args.compile_cache)
    if config.policy is not None:  # the modes that take a policy, against the mixed emulation
        mixed = verify_policy(config)
        emit(json.dumps(mixed.to_dict(), indent=2) + "\n" if args.format == "json" else policy_table(mixed) + "\n", output)
        return 0 if mixed.ok else 1
    report = verify_modes(config)
    text = json.dumps(report.to_dict(), indent=2) + "\n" if args.format == "json" else verify_table(report) + "\n"
    emit(text, output)
    report_divergence(row.diverged_at for row in report.rows)
    return 0 if report.ok else 1


def modes(args: argparse.Namespace) -> int:
    """``decaybench modes``: the registry, one mode per line."""
    width = max(len(name) for name in REGISTRY)
    for spec in REGISTRY.values():
        print(f"{spec.name:<{width}}  {spec.summary}")
    return 0


def golden(args: argparse.Namespace) -> int:
    """``decaybench golden``: a fresh eager run against ``golden/``, or ``--update`` to rewrite it."""
    if args.dir == "":
        raise UsageError("--dir: the path is empty")
    directory = Path(args.dir) if args.dir is not None else golden_dir()
    documented = read_documented(directory)  # a bad golden/ is reported before TensorFlow loads
    stored = None if args.update else read_golden_trace(directory)  # (--update treats a bad pair as absent)
    if args.update:
        try:
            check_update(directory)  # both files writable, before any work
        except OutputError as error:
            raise UsageError(f"--dir: {error}") from None
    load_tensorflow()
    trace = run_mode(DecayConfig(), "eager")
    if args.update:
        for line in update_golden(trace, directory):
            print(line)
        return 0
    drift = check_drift(trace, documented, directory, stored)
    print("\n".join(drift.summary()))
    return 0 if drift.ok else 1


def plot(args: argparse.Namespace) -> int:
    """``decaybench plot``: the modes' lr, w, loss and ULP distances in one PNG."""
    config = config_from(args)
    modes = tuple(dict.fromkeys(args.modes or modes_for(config.dtype)))  # default: every mode that runs the dtype
    check_memory(config, modes, "plot")
    check_apart({"output": args.output})
    output = check_writable(args.output)
    try:
        from decaybench.plot import save_plot  # loads matplotlib, an optional extra
    except ModuleNotFoundError as error:
        raise UsageError(f"plot needs matplotlib, the plot extra: pip install 'decaybench[plot]' ({error})") from error
    tf_config.refuse_for("plot")
    load_tensorflow(args.xla_no_fma, args.compile_cache)
    traces = save_plot(output, config, modes)
    report_divergence(trace.diverged_at for trace in traces.values())
    return 0


def bench(args: argparse.Namespace) -> int:
    """``decaybench bench``: the ``benchmarks/`` suite timed by pytest-benchmark, as a table or JSON.

    Exit 1 when pytest failed (a benchmark raised, or ``--benchmark-compare-fail`` found a regression)."""
    output = _output(args)
    try:
        report = run_benchmarks(
            args.group,
            quick=args.quick,
            save=args.benchmark_save,
            compare=args.benchmark_compare,
            compare_fail=args.benchmark_compare_fail or (),
            storage=args.benchmark_storage,
        )
    except BenchmarkError as error:
        raise UsageError(str(error)) from None
    emit(json.dumps(report.to_dict(), indent=2) + "\n" if args.format == "json" else table(report) + "\n", output)
    return 1 if report.status else 0
