"""The internal tools behind ``make``, built by the same code as ``decaybench``'s parser.

* ``python -m decaybench.compat collect|build``: one tox env's facts, then ``docs/compat.md`` (``make compat``);
* ``python -m decaybench.docs [--update]``: the README's generated blocks (``make docs``, and a test);
* ``python -m decaybench.bench --output FILE [--notes FILE] [--quick]``: ``docs/benchmarks.md`` (``make bench-docs``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

from decaybench.cli.parsing import Command, Flag, build_parser, run_parser, tool_parser
from decaybench.files import check_writable, write_atomic

__all__ = ["bench_docs_main", "compat_main", "docs_main"]


def _collect(args: argparse.Namespace) -> int:
    from decaybench.compat import collect

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(output, json.dumps(collect(args.env, args.compile_runs), indent=2) + "\n")
    return 0


def _build(args: argparse.Namespace) -> int:
    from decaybench.compat import build

    build(args.input, args.output)
    return 0


def _compat_commands() -> tuple[Command, ...]:
    # --env's default is read when the parser is built: tox sets TOX_ENV_NAME in each env.
    env = os.environ.get("TOX_ENV_NAME", platform.node())
    collect = "write this env's facts as JSON"
    build = "write docs/compat.md from the envs' JSON files"
    return (
        Command(
            "collect",
            _collect,
            help=collect,
            description=f"{collect[0].upper()}{collect[1:]}.",
            flags=(
                Flag("--output", {"required": True, "metavar": "FILE"}),
                Flag("--env", {"default": env, "help": "column name (default: $TOX_ENV_NAME)"}),
                Flag(
                    "--compile-runs", {"type": int, "default": 3, "metavar": "N", "help": "fresh processes timing the first xla call (3)"}
                ),
            ),
        ),
        Command(
            "build",
            _build,
            help=build,
            description=f"{build[0].upper()}{build[1:]}.",
            flags=(Flag("--input", {"required": True, "metavar": "DIR"}), Flag("--output", {"required": True, "metavar": "FILE"})),
        ),
    )


def compat_main(argv: Sequence[str] | None = None) -> int:
    """``python -m decaybench.compat``: ``collect --output FILE`` inside an env, ``build --input DIR --output FILE`` after."""
    import decaybench.compat

    commands = _compat_commands()
    description = (decaybench.compat.__doc__ or "").split("\n", 1)[0]
    parser = build_parser("python -m decaybench.compat", description, commands)
    return run_parser(parser, commands, argv, errors=(ValueError, OSError))


def _docs(args: argparse.Namespace) -> int:
    from decaybench import docs

    if args.update:
        changed = docs.update(names=args.blocks)
        print(f"updated: {', '.join(changed) or 'nothing'}")
        return 0
    stale = docs.stale_blocks(names=args.blocks)
    for name in stale:
        print(f"README.md: block {name!r} is out of date; run make docs", file=sys.stderr)
    return 1 if stale else 0


def docs_main(argv: Sequence[str] | None = None) -> int:
    """``python -m decaybench.docs [--update] [--blocks NAME ...]``: exit 1 when a block is out of date."""
    from decaybench.docs import BLOCKS

    command = Command(
        "docs",
        _docs,
        help="check or --update the README's generated blocks",
        description="Check or --update the README's generated blocks.",
        flags=(
            Flag("--update", {"action": "store_true", "help": "rewrite the blocks"}),
            Flag("--blocks", {"nargs": "+", "choices": tuple(BLOCKS), "default": tuple(BLOCKS)}),
        ),
    )
    return run_parser(tool_parser("python -m decaybench.docs", command), (command,), argv)


def _bench_docs(args: argparse.Namespace) -> int:
    from decaybench.bench import diagnose, markdown, run_benchmarks

    output = check_writable(args.output)
    notes = Path(args.notes).read_text(encoding="utf-8") if args.notes else ""
    report = run_benchmarks(quick=args.quick)
    write_atomic(output, markdown(report, notes + "\n\n" + diagnose()))
    return 0


BENCH_DOCS = Command(
    "bench-docs",
    _bench_docs,
    help="write docs/benchmarks.md",
    description="Time every benchmark workload and write the docs page: the tables, the targets, then the notes.",
    examples=("python -m decaybench.bench --notes docs/benchmarks.notes.md --output docs/benchmarks.md",),
    flags=(
        Flag("--quick", {"action": "store_true", "help": "fewer rounds and no workload slower than a few seconds"}),
        Flag("--output", {"required": True, "metavar": "FILE", "help": "the page to write (atomically)"}),
        Flag("--notes", {"metavar": "FILE", "help": "Markdown appended after the tables (the analysis of missed targets)"}),
    ),
)


def bench_docs_main(argv: Sequence[str] | None = None) -> int:
    """``python -m decaybench.bench [--quick] --output docs/benchmarks.md [--notes FILE]``: the docs page."""
    from decaybench.bench import BenchmarkError

    return run_parser(tool_parser("python -m decaybench.bench", BENCH_DOCS), (BENCH_DOCS,), argv, errors=(BenchmarkError,))
