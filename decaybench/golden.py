"""Golden files: the seed's documented output, and the full traces generated from it.

``golden/`` holds three files:

* ``seed_documented.txt``: the 15 lines and three ``...`` elisions printed in the course note,
  copied verbatim. Nothing generates it; everything is checked against it.
* ``seed_trace.txt`` and ``seed_trace.json``: the full 40-epoch trace of the ``eager`` mode,
  written by ``decaybench golden --update`` (atomically, with a diff summary) and checked
  against the documented lines before it is written.

>>> documented = read_documented()
>>> len(documented.lines), len(documented.elided_after)
(15, 3)
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from decaybench.files import write_atomic
from decaybench.trace import SeedText, Trace, parse_lines

__all__ = [
    "DOCUMENTED",
    "GoldenError",
    "LineCheck",
    "check_documented",
    "golden_dir",
    "read_documented",
    "read_golden_trace",
    "render_golden",
    "update_golden",
]

DOCUMENTED = "seed_documented.txt"
TRACE_TEXT = "seed_trace.txt"
TRACE_JSON = "seed_trace.json"
# The course note prints 15 lines with three "..." elisions; fewer means a truncated copy.
DOCUMENTED_LINES = 15
DOCUMENTED_ELISIONS = 3


class GoldenError(ValueError):
    """A golden file is missing, truncated or malformed; the message names the file and line."""


@dataclass(frozen=True)
class LineCheck:
    """One documented line against the line a trace prints for the same epoch."""

    epoch: int
    expected: str
    actual: str | None

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


def golden_dir() -> Path:
    """``$DECAYBENCH_GOLDEN_DIR``, else the checkout's ``golden/``, else the installed copy."""
    override = os.environ.get("DECAYBENCH_GOLDEN_DIR")
    if override:
        return Path(override)
    checkout = Path(__file__).resolve().parent.parent / "golden"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "decaybench" / "golden"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GoldenError(f"{path}: golden file is missing") from None
    except (OSError, UnicodeDecodeError) as error:
        raise GoldenError(f"{path}: cannot read golden file: {error}") from None


def _parse(path: Path) -> SeedText:
    try:
        return parse_lines(_read(path), source=str(path))
    except GoldenError:
        raise
    except ValueError as error:
        raise GoldenError(str(error)) from None


def read_documented(directory: Path | None = None) -> SeedText:
    """The documented seed lines; a missing, truncated or malformed file is a :class:`GoldenError`."""
    path = (directory or golden_dir()) / DOCUMENTED
    text = _parse(path)
    if len(text.lines) != DOCUMENTED_LINES or len(text.elided_after) != DOCUMENTED_ELISIONS:
        raise GoldenError(
            f"{path}:{len(_read(path).splitlines())}: truncated: expected {DOCUMENTED_LINES} lines and "
            f"{DOCUMENTED_ELISIONS} '...' elisions, found {len(text.lines)} and {len(text.elided_after)}"
        )
    return text


def check_documented(trace: Trace, documented: SeedText | None = None) -> list[LineCheck]:
    """Compare every documented line, byte for byte, with the trace's line for that epoch."""
    documented = documented if documented is not None else read_documented()
    printed = dict(zip(trace.epoch.tolist(), trace.lines(), strict=True))
    return [LineCheck(epoch, line, printed.get(epoch)) for epoch, line in documented.by_epoch().items()]


def read_golden_trace(directory: Path | None = None) -> Trace:
    """The generated full trace (JSON, exact floats), cross-checked with its text twin."""
    directory = directory or golden_dir()
    path = directory / TRACE_JSON
    try:
        trace = Trace.from_json(_read(path))
    except GoldenError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise GoldenError(f"{path}:1: malformed golden trace: {error}") from None
    text = _parse(directory / TRACE_TEXT)
    if list(text.lines) != trace.lines():
        pairs = enumerate(zip(text.lines, trace.lines(), strict=False))
        first = next((i for i, (a, b) in pairs if a != b), min(len(text.lines), len(trace)))
        raise GoldenError(f"{directory / TRACE_TEXT}:{first + 1}: does not match {TRACE_JSON} (truncated or edited)")
    return trace


def render_golden(trace: Trace) -> dict[str, str]:
    """The generated golden files' contents for ``trace``, refused unless it reproduces the seed."""
    failures = [check for check in check_documented(trace) if not check.ok]
    if failures:
        first = failures[0]
        raise GoldenError(f"refusing to write golden files: epoch {first.epoch} prints {first.actual!r}, documented {first.expected!r}")
    return {TRACE_TEXT: "\n".join(trace.lines()) + "\n", TRACE_JSON: trace.to_json()}


def update_golden(trace: Trace, directory: Path | None = None) -> list[str]:
    """Write the generated golden files atomically; return a one-line diff summary per file."""
    directory = directory or golden_dir()
    summary = []
    for name, content in render_golden(trace).items():
        path = directory / name
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old == content:
            summary.append(f"{path}: unchanged")
            continue
        write_atomic(path, content)
        if old is None:
            summary.append(f"{path}: created, {len(content.splitlines())} lines")
        else:
            diff = list(difflib.unified_diff(old.splitlines(), content.splitlines(), lineterm="", n=0))
            removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
            added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
            summary.append(f"{path}: updated, -{removed} +{added} lines")
    return summary
