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

import contextlib
import difflib
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from decaybench.files import OutputError, check_writable, update_texts
from decaybench.reading import UnreadableInput, file_kind, read_bytes
from decaybench.trace import SeedText, Trace, TraceFormatError, parse_lines

__all__ = [
    "DOCUMENTED",
    "Drift",
    "GoldenError",
    "LineCheck",
    "check_documented",
    "check_drift",
    "check_update",
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
    if not os.path.lexists(path):
        raise GoldenError(f"{path}: golden file is missing")
    try:  # the one place a golden file is read: a FIFO, a directory or a device is refused, never blocks
        raw = read_bytes(path, argument="golden")
    except UnreadableInput as error:
        raise GoldenError(f"{path}: cannot read golden file: it {error.problem}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise GoldenError(f"{path}:{line}: not UTF-8 text (byte {error.start} is {raw[error.start]:#04x})") from None


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
    """The generated full trace (JSON, exact floats), cross-checked with its text twin.

    Any defect is a :class:`GoldenError` reading ``file:line: reason``: bad JSON (deep nesting
    included), a field of the wrong kind, an epoch that is not an int64 integer, a value not
    exact in the trace's dtype, or a text twin that differs.
    """
    directory = directory or golden_dir()
    path = directory / TRACE_JSON
    text = _read(path)
    try:
        trace = Trace.from_json(text)
    except TraceFormatError as error:
        raise GoldenError(f"{path}:{error.line}: malformed golden trace: {error.reason}") from None
    lines = _parse(directory / TRACE_TEXT)
    if list(lines.lines) != trace.lines():
        pairs = enumerate(zip(lines.lines, trace.lines(), strict=False))
        first = next((i for i, (a, b) in pairs if a != b), min(len(lines.lines), len(trace)))
        raise GoldenError(f"{directory / TRACE_TEXT}:{first + 1}: does not match {TRACE_JSON} (truncated or edited)")
    return trace


@dataclass(frozen=True)
class Drift:
    """A fresh trace against ``golden/``: which documented lines it misses, and whether the stored trace still matches it."""

    failures: list[LineCheck]
    documented: int
    stored: Path
    drifted: bool

    @property
    def ok(self) -> bool:
        return not self.failures and not self.drifted

    def summary(self) -> list[str]:
        """The two lines ``decaybench golden`` prints."""
        state = "differs from this run" if self.drifted else "matches this run bit for bit"
        return [f"documented lines reproduced: {self.documented - len(self.failures)}/{self.documented}", f"{self.stored}: {state}"]


def check_drift(trace: Trace, documented: SeedText, directory: Path | None = None, stored: Trace | None = None) -> Drift:
    """Check ``trace`` (a fresh eager run of the seed) against the documented lines and the stored golden trace.

    The stored trace drifted when its printed lines or its JSON (exact floats, the config, the mode)
    differ from ``trace``'s. ``stored``: the golden trace already read (:func:`read_golden_trace`,
    before the run), else it is read here.
    """
    directory = directory or golden_dir()
    failures = [check for check in check_documented(trace, documented) if not check.ok]
    stored = read_golden_trace(directory) if stored is None else stored
    drifted = stored.lines() != trace.lines() or stored.to_json() != trace.to_json()
    return Drift(failures, len(documented.lines), directory / TRACE_JSON, drifted)


def render_golden(trace: Trace) -> dict[str, str]:
    """The generated golden files' contents for ``trace``, refused unless it reproduces the seed."""
    failures = [check for check in check_documented(trace) if not check.ok]
    if failures:
        first = failures[0]
        raise GoldenError(f"refusing to write golden files: epoch {first.epoch} prints {first.actual!r}, documented {first.expected!r}")
    return {TRACE_TEXT: "\n".join(trace.lines()) + "\n", TRACE_JSON: trace.to_json()}


def check_update(directory: Path | None = None) -> None:
    """Refuse, before any work, a directory where :func:`update_golden` could not write both files.

    A golden file must be a regular file (or absent): a FIFO or a device would be written in place
    (:func:`decaybench.files.atomic_writer`), and a FIFO nobody reads blocks the writer for ever.
    """
    directory = directory or golden_dir()
    for name in (TRACE_TEXT, TRACE_JSON):
        path = check_writable(directory / name)
        with contextlib.suppress(FileNotFoundError):  # a dangling symlink: its target is written anew
            mode = os.stat(path).st_mode
            if not stat.S_ISREG(mode):
                raise OutputError(path, f"it is {file_kind(mode)}, not a regular file")


def update_golden(trace: Trace, directory: Path | None = None) -> list[str]:
    """Write the generated golden files, both or neither; return a one-line diff summary per file.

    The old pair is validated first (:func:`read_golden_trace`). An invalid or unreadable pair is
    treated as absent: both files are written anew and a first line says why. Nothing is written
    until both files are rendered, both targets checked writable and both old texts read
    (:func:`decaybench.files.update_texts`).
    """
    directory = directory or golden_dir()
    files = render_golden(trace)
    check_update(directory)
    notes = []
    if any((directory / name).exists() for name in files):
        try:
            read_golden_trace(directory)
        except GoldenError as error:
            notes.append(f"{directory}: the old golden trace is invalid, treated as absent ({error})")
    lines = update_texts({directory / name: content for name, content in files.items()}, _describe(files))
    return notes + lines


def _describe(files: dict[str, str]) -> Callable[[Path, str | None], str]:
    return lambda path, old: _line_changes(files[path.name], old)


def _line_changes(new: str, old: str | None) -> str:
    """What rewriting ``old`` (``None``: no file) as ``new`` changes, counted in lines."""
    if old is None:
        return f"created, {len(new.splitlines())} lines"
    diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0))
    removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
    added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
    return f"updated, -{removed} +{added} lines"
