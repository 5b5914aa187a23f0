"""The ``decaybench`` command: it parses, calls the public API and formats; nothing else.

Bad input exits with status 2 and one line on stderr naming the flag and the value, before
TensorFlow is loaded and before any file is touched.

Each subcommand is declared once below (its texts and its own flags) and handled by one function
of :mod:`decaybench.cli.commands`; the configuration flags come from ``DecayConfig``'s fields
(:mod:`decaybench.cli.parsing`), and so do the flag names in error messages:

>>> main(["run", "--decay-rate", "0"])
2
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from decaybench.bench import GROUPS
from decaybench.cli import commands
from decaybench.cli.audit import AUDIT
from decaybench.cli.commands import CHECKPOINT_FLAGS, OUTPUT, TABLE_OR_JSON
from decaybench.cli.parsing import Command, Flag, Parser, run_parser
from decaybench.cli.parsing import build_parser as _build
from decaybench.cli.runtime import CLUSTER_FLAGS, PROG, RUNTIME_FLAGS
from decaybench.cli.sweep import SWEEP
from decaybench.messages import say
from decaybench.modes import REGISTRY, ModeWarning
from decaybench.modes.distributed import tf_config

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = (
    Command(
        "run",
        commands.run,
        help="train the seed problem and print its trace",
        description="Train w on sum((w + 1)**2) with the exponential-decay schedule and print the trace.",
        examples=(
            f"{PROG} run",
            f"{PROG} run --epochs 100 --format csv --output trace.csv",
            f"{PROG} run --epochs 1000000 --mode xla --checkpoint-dir run1   # after a crash, the same with --resume",
        ),
        config=True,
        runtime=RUNTIME_FLAGS,
        flags=(
            # The registry itself: its modes (other distributions' too) are read when the value is checked.
            Flag("--mode", {"choices": REGISTRY, "default": "eager", "help": "execution mode (eager)"}),
            Flag("--format", {"choices": ("text", "csv", "json"), "default": "text", "help": "text: the seed's lines (text)"}),
            OUTPUT,
            Flag("--progress", {"action": "store_true", "help": "show a progress bar on stderr even when it is not a terminal"}),
            *CHECKPOINT_FLAGS,
            *CLUSTER_FLAGS,
        ),
    ),
    Command(
        "verify",
        commands.verify,
        help="run every mode and check it against the emulation, the oracle and the seed",
        description=(
            "Run every mode on one configuration (default: the seed's) and print one row per mode: documented seed lines "
            "reproduced, bit-identity with the NumPy emulation, ULP distances against each mode's stated bound, relative "
            "error against the exact oracle, lr agreement with tf.keras's own ExponentialDecay, and traces per run. "
            "Exits 0 only when every mode meets its bound."
        ),
        examples=(
            f"{PROG} verify",
            f"{PROG} verify --dtype float64 --size 1000 --format json --output verify.json",
            f"{PROG} verify --xla-no-fma",
            f"{PROG} verify --policy mixed_float16   # modes keras, fit, callback against the mixed emulation",
        ),
        config=True,
        runtime=RUNTIME_FLAGS,
        flags=(TABLE_OR_JSON, OUTPUT),
    ),
    Command(
        "modes",
        commands.modes,
        help="list the execution modes",
        description="List the execution modes, one per line.",
        examples=(f"{PROG} modes",),
    ),
    Command(
        "golden",
        commands.golden,
        help="check (or --update) the generated golden trace",
        description="Check the eager trace against golden/; with --update, regenerate golden/seed_trace.*.",
        examples=(f"{PROG} golden", f"{PROG} golden --update"),
        flags=(
            Flag("--update", {"action": "store_true", "help": "rewrite the generated golden files atomically"}),
            Flag("--dir", {"metavar": "DIR", "help": "golden directory (default: the checkout's golden/)"}),
        ),
    ),
    Command(
        "plot",
        commands.plot,
        help="draw lr, w, loss and each mode's ULP distance to the emulation into a PNG",
        description=(
            "Run the modes on one configuration (default: the seed's) and draw one PNG: lr against the epoch (continuous "
            "and staircase), w and the loss (log scale) per mode, and each mode's ULP distance to the NumPy emulation."
        ),
        examples=(
            f"{PROG} plot --output seed.png",
            f"{PROG} plot --staircase --decay-steps 5 --modes eager xla --output staircase.png",
        ),
        config=True,
        runtime=RUNTIME_FLAGS,
        flags=(
            Flag(
                "--modes",
                {
                    "nargs": "+",
                    "choices": REGISTRY,
                    "metavar": "MODE",
                    "help": "modes to run and draw (all)",
                },
            ),
            Flag("--output", {"metavar": "FILE", "required": True, "help": "the PNG to write (atomically)"}),
        ),
    ),
    Command(
        "bench",
        commands.bench,
        help="time every mode against its peers and floors; print medians, ratios and the targets",
        description=(
            "Run the benchmarks/ suite through pytest-benchmark (`pytest --benchmark-only`): every mode, the peers "
            "(tf.keras, PyTorch, optax) and the floors (plain Python, NumPy, a memory copy), on the CPU and on a GPU when "
            "TensorFlow sees one. Prints one row per workload, read from pytest-benchmark's JSON: the median, the rounds, "
            "ns per step, and how many times faster it is than eager, than the fastest peer, than the fastest floor, each "
            "with a 95% interval; then the targets: met, missed or inconclusive. pytest's output goes to stderr."
        ),
        examples=(
            f"{PROG} bench --quick",
            f"{PROG} bench --group seed sweep",
            f"{PROG} bench --format json --output bench.json",
            f"{PROG} bench --quick --group seed --benchmark-save before",
            f"{PROG} bench --quick --group seed --benchmark-compare before --benchmark-compare-fail median:25%",
        ),
        flags=(
            Flag(
                "--quick",
                {
                    "action": "store_true",
                    "help": "5 rounds (or 0.05 s) a workload; outside the seed group, none of a second or more a call",
                },
            ),
            Flag(
                "--group",
                {
                    "nargs": "+",
                    "choices": GROUPS,
                    "default": GROUPS,
                    "metavar": "GROUP",
                    "help": f"groups to time: {', '.join(GROUPS)} (all)",
                },
            ),
            TABLE_OR_JSON,
            OUTPUT,
            Flag("--benchmark-save", {"metavar": "NAME", "help": "store this run in pytest-benchmark's storage, as NAME"}),
            Flag(
                "--benchmark-compare",
                {"nargs": "?", "const": "", "metavar": "RUN", "help": "compare with a stored run (its number or name; the latest)"},
            ),
            Flag(
                "--benchmark-compare-fail",
                {"nargs": "+", "metavar": "EXPR", "help": "exit 1 on a regression past EXPR, e.g. median:10%% (pytest-benchmark's)"},
            ),
            Flag("--benchmark-storage", {"metavar": "URI", "help": "where runs are stored (pytest-benchmark's default: ./.benchmarks)"}),
        ),
    ),
    SWEEP,
    AUDIT,
)


def build_parser() -> Parser:
    """The argument parser, with an example in every help text."""
    return _build(
        PROG,
        "Exponential-decay learning-rate schedules in TensorFlow 2: reproduce, verify, benchmark.",
        COMMANDS,
        epilog=(
            f"{PROG} run",
            f"{PROG} run --mode graph --staircase --decay-steps 5",
            f"{PROG} verify",
            f"{PROG} plot --output seed.png",
            f"{PROG} sweep --output sweep.png",
            f"{PROG} modes",
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 check failed, 2 usage, 130 Ctrl-C).

    A mode that another distribution declares but that cannot be used is reported first, one line
    each (:attr:`decaybench.modes.Registry.problems`); the other modes work as ever.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModeWarning)  # said here in one line, not as a warning's two
        problems = REGISTRY.problems
    for problem in problems:
        say(f"{PROG}: warning: {problem}")
    return tf_config.leave(run_parser(build_parser(), COMMANDS, argv))  # a host of a real cluster ends here
