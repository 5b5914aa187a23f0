"""The README's generated blocks: the conformance table, the cross-library table, the benchmark ratios.

A block sits between ``<!-- BEGIN generated:NAME -->`` and ``<!-- END generated:NAME -->`` and is
rewritten, never edited, by ``python -m decaybench.docs --update`` (``make docs``). Without
``--update`` the command lists the blocks that are out of date and exits 1, which a test runs.

>>> replace_block("a\\n<!-- BEGIN generated:x -->\\nold\\n<!-- END generated:x -->\\nb", "x", "new")
'a\\n<!-- BEGIN generated:x -->\\nnew\\n<!-- END generated:x -->\\nb'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from decaybench.files import write_atomic

__all__ = ["BLOCKS", "render", "replace_block", "stale_blocks", "update"]

README = Path(__file__).resolve().parent.parent / "README.md"
BENCHMARKS = README.parent / "docs" / "benchmarks.md"


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
    from decaybench.modes.distributed import setup_devices
    from decaybench.report import verify_table
    from decaybench.verify import verify

    setup_devices()  # as the CLI does: mode mirrored on 2 logical CPUs in this process

    return _fenced(verify_table(verify()))


def _peers() -> str:
    from decaybench.peers.conformance import conformance
    from decaybench.report import format_count, table

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
    return _fenced(table(["peer", "version", "lr dtype", "seed lines", "golden lines", "max ULP w", "resume", "cause (measured)"], rows))


def _benchmarks() -> str:
    # docs/benchmarks.md's targets, intervals and verdicts, as `make bench-docs` last wrote them;
    # tests/test_docs.py fails when the README shows others.
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else ""
    match = re.search(r"<!-- BEGIN targets -->\s*\n(.*?)\n\s*<!-- END targets -->", text, re.DOTALL)
    if match is None:
        return "Run `make bench-docs` to measure the targets (docs/benchmarks.md has none yet)."
    return match.group(1) + "\n\nFull tables, machine and versions: [docs/benchmarks.md](docs/benchmarks.md)."


BLOCKS: dict[str, Callable[[], str]] = {"verify": _verify, "peers": _peers, "benchmarks": _benchmarks}


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


if __name__ == "__main__":
    from decaybench.cli.tools import docs_main

    raise SystemExit(docs_main())
