"""The README's generated blocks: the verify and peers tables, the benchmark targets, the layout.

A block sits between ``<!-- BEGIN generated:NAME -->`` and ``<!-- END generated:NAME -->`` and is
rewritten, never edited, by ``python -m tools.docs --update`` (``make docs``). Without
``--update`` the command lists the blocks that are out of date and exits 1, which a test runs.

>>> replace_block("a\\n<!-- BEGIN generated:x -->\\nold\\n<!-- END generated:x -->\\nb", "x", "new")
'a\\n<!-- BEGIN generated:x -->\\nnew\\n<!-- END generated:x -->\\nb'
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from decaybench.cli.parsing import Command, Flag, run_parser
from decaybench.files import write_atomic
from decaybench.report import format_count, table, verify_table
from tools import layout, mixed
from tools.cli import tool_parser

__all__ = ["BLOCKS", "main", "render", "replace_block", "stale_blocks", "update"]

README = Path(__file__).resolve().parent.parent / "README.md"
BENCHMARKS = README.parent / "docs" / "benchmarks.md"
AUDIT = README.parent / "docs" / "audit.md"


def _block_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- BEGIN generated:{re.escape(name)} -->)(.*?)(<!-- END generated:{re.escape(name)} -->)", re.DOTALL)


def replace_block(text: str, name: str, content: str) -> str:
    """``text`` with block ``name``'s content replaced; a missing block is an error."""
    pattern = _block_pattern(name)
    if not pattern.search(text):
        raise ValueError(f"README has no generated block {name!r}")
    return pattern.sub(lambda match: match.group(1) + "\n" + content.strip("\n") + "\n" + match.group(3), text, count=1)


def _fenced(text: str) -> str:
    return "```text\n" + text.rstrip("\n") + "\n```"


def _verify() -> str:
    # Here, not at the top: they load TensorFlow, which the benchmarks block and the checks of the markers do not need.
    from decaybench.modes.distributed.training import setup_devices
    from decaybench.verify import verify

    setup_devices()  # as the CLI does: mode mirrored on 2 logical CPUs in this process

    return _fenced(verify_table(verify()))


def _peers() -> str:
    from decaybench.peers.conformance import conformance  # loads TensorFlow, and each peer's library when it runs

    rows = []
    for row in conformance():
        if row.skipped:
            rows.append([row.peer, "-", row.lr_dtype, "-", "-", "-", "-", row.skipped])
            continue
        differing = ", ".join(map(str, row.differing_lines)) or "none"
        rows.append(
            [
                row.peer,
                row.version or "-",
                row.lr_dtype,
                f"{row.documented}/15" if row.documented is not None else "-",
                f"{row.lines}/{row.total} (differ: {differing})",
                format_count(row.max_ulp or 0),
                row.resume,
                row.cause,
            ]
        )
    header = ["peer", "version", "lr dtype", "seed lines", "golden lines", "max ULP w", "resume", "cause (measured)"]
    return _fenced(table(header, rows)) + "\n\n" + _mixed_peers()


def _mixed_peers() -> str:
    from decaybench.peers.mixed import FORCED, mixed_precision  # loads TensorFlow, torch and JAX

    rows = [
        [
            row.peer,
            row.version,
            row.compute_dtype,
            ", ".join(map(str, row.skipped)) or "none",
            row.counter,
            row.on_skip,
            row.cause,
        ]
        for row in mixed_precision()
    ]
    header = ["peer", "version", "loss dtype", "skipped", "counter", "lr on a skip", "cause (measured)"]
    forced = ", ".join(FORCED)
    intro = f"Mixed precision (`decaybench.peers.mixed`): the seed, five steps with the gradient {forced}:"
    return intro + "\n\n" + _fenced(table(header, rows))


def _benchmarks() -> str:
    # docs/benchmarks.md's targets, intervals and verdicts, as `make bench-docs` last wrote them;
    # tests/test_docs.py fails when the README shows others.
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else ""
    match = re.search(r"<!-- BEGIN targets -->\s*\n(.*?)\n\s*<!-- END targets -->", text, re.DOTALL)
    if match is None:
        return "Run `make bench-docs` to measure the targets (docs/benchmarks.md has none yet)."
    return match.group(1) + "\n\nFull tables, machine and versions: [docs/benchmarks.md](docs/benchmarks.md)."


def _audit() -> str:
    # docs/audit.md's verdict matrix, as `make compat` (tools/audit_docs.py) last wrote it.
    text = AUDIT.read_text(encoding="utf-8") if AUDIT.exists() else ""
    match = re.search(r"<!-- BEGIN summary -->\s*\n(.*?)\n\s*<!-- END summary -->", text, re.DOTALL)
    return match.group(1) if match is not None else "Run `make compat` to audit the built-in schedules (docs/audit.md has none yet)."


BLOCKS: dict[str, Callable[[], str]] = {
    "verify": _verify,
    "peers": _peers,
    "benchmarks": _benchmarks,
    "layout": layout.render,
    "mixed": mixed.block,  # Keras 3 and Keras 2, one process each
    "audit": _audit,
}


def render(names: Sequence[str] = tuple(BLOCKS)) -> dict[str, str]:
    """The current content of each named block."""
    return {name: BLOCKS[name]() for name in names}


def stale_blocks(path: Path = README, names: Sequence[str] = tuple(BLOCKS)) -> list[str]:
    """The blocks whose content in ``path`` differs from what the code generates now."""
    text = path.read_text(encoding="utf-8")
    return [name for name, content in render(names).items() if replace_block(text, name, content) != text]


def update(path: Path = README, names: Sequence[str] = tuple(BLOCKS)) -> list[str]:
    """Rewrite the blocks (atomically); return the names of those that changed."""
    text = path.read_text(encoding="utf-8")
    new = text
    changed = []
    for name, content in render(names).items():
        replaced = replace_block(new, name, content)
        if replaced != new:
            changed.append(name)
        new = replaced
    if new != text:
        write_atomic(path, new)
    return changed


def _docs(args: argparse.Namespace) -> int:
    if args.update:
        changed = update(names=args.blocks)
        print(f"updated: {', '.join(changed) or 'nothing'}")
        return 0
    stale = stale_blocks(names=args.blocks)
    for name in stale:
        print(f"README.md: block {name!r} is out of date; run make docs", file=sys.stderr)
    return 1 if stale else 0


COMMAND = Command(
    "docs",
    _docs,
    help="check or --update the README's generated blocks",
    description="Check or --update the README's generated blocks.",
    flags=(
        Flag("--update", {"action": "store_true", "help": "rewrite the blocks"}),
        Flag("--blocks", {"nargs": "+", "choices": tuple(BLOCKS), "default": tuple(BLOCKS)}),
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.docs [--update] [--blocks NAME ...]``: exit 1 when a block is out of date."""
    return run_parser(tool_parser("python -m tools.docs", COMMAND), (COMMAND,), argv)


if __name__ == "__main__":
    raise SystemExit(main())
