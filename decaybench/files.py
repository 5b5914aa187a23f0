"""Writing files so that nothing is ever half-written: a temporary file, then ``os.replace``.

One writer, :func:`atomic_writer`, for every file decaybench writes: the CLI's outputs, the
golden files, the docs pages, and the traces the distributed workers hand to their supervisor
(``fsync=False``: those live only until the supervisor on the same host reads them).

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> write_atomic(target, "one\\n")
>>> target.read_text()
'one\\n'
>>> update_text(target, "one\\n", lambda old: "changed")
'...out.txt: unchanged'
>>> update_text(target, "two\\n", lambda old: f"was {old!r}")
"...out.txt: was 'one\\\\n'"
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from decaybench.reading import UnreadableInput, read_bytes

__all__ = ["OutputError", "atomic_writer", "check_writable", "read_old", "update_text", "update_texts", "write_atomic"]


class OutputError(OSError):
    """A file cannot be written; the message names the path and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot write {self.path!r}: {reason}")


def _is_special(target: Path) -> bool:
    """An existing path (followed through symlinks) that is neither a regular file nor a directory."""
    try:
        mode = target.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def check_writable(path: Path | str) -> Path:
    """Refuse, before any work is done, a path that :func:`write_atomic` could not write."""
    if os.fspath(path) == "":  # Path("") is "."
        raise OutputError(path, "the path is empty")
    target = Path(path)
    if target.is_dir():
        raise OutputError(target, "it is a directory")
    if _is_special(target):  # written in place: only the device (FIFO, socket) itself must be writable
        if not os.access(target, os.W_OK):
            raise OutputError(target, "it is not writable")
        return target
    real = Path(os.path.realpath(target))  # a symlink's target is replaced; the link stays
    parent = real.parent
    if not parent.is_dir():
        raise OutputError(target, f"directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(target, f"directory {str(parent)!r} is not writable")
    if real.exists() and not os.access(real, os.W_OK):
        raise OutputError(target, "the file is not writable")
    return target


@contextlib.contextmanager
def _in_place(target: Path) -> Iterator[BinaryIO]:
    # A character device, FIFO or socket: replacing it with a regular file would destroy it
    # (as root, --output /dev/null would replace the system's /dev/null); write into it instead.
    try:
        with open(target, "wb") as handle:
            yield handle
            handle.flush()  # /dev/full's "no space left" surfaces here, as an OutputError
    except OSError as error:
        if isinstance(error, OutputError):
            raise
        raise OutputError(target, error.strerror or str(error)) from error


@contextlib.contextmanager
def atomic_writer(path: Path | str, fsync: bool = True) -> Iterator[BinaryIO]:
    """A binary handle whose bytes replace ``path`` all at once when the block ends without error.

    The bytes go to a temporary file in the same directory, are flushed (and, with ``fsync``,
    forced to disk), and then replace ``path`` with ``os.replace``: readers see the old file or
    the new one, whole. On any failure (or Ctrl-C) the temporary file is removed and ``path`` is
    untouched. The new file keeps the old one's permissions, or gets the umask's.

    Only a regular file or a missing path is replaced. A symlink's target is replaced and the link
    kept; a character device, FIFO or socket is written in place (not atomically: it has no
    directory entry to swap), and a write error there (``ENOSPC`` on ``/dev/full``) is an
    :class:`OutputError` too.
    """
    target = check_writable(path)
    if _is_special(target):
        with _in_place(target) as handle:
            yield handle
        return
    real = Path(os.path.realpath(target))
    descriptor, temporary = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        if real.exists():
            os.chmod(temporary, real.stat().st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, real)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, OutputError):
            raise OutputError(target, error.strerror or str(error)) from error
        raise


def write_atomic(path: Path | str, data: str | bytes, fsync: bool = True) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` all at once, with :func:`atomic_writer`."""
    with atomic_writer(path, fsync) as handle:
        handle.write(data.encode() if isinstance(data, str) else data)


def read_old(path: Path | str) -> tuple[str | None, str]:
    """What ``path`` holds before a rewrite: ``(text, "")``, ``(None, "")`` when it does not exist,
    or ``(None, reason)`` when it cannot be read as UTF-8 text (it is then treated as absent)."""
    target = Path(path)
    if not target.exists() or _is_special(target):
        return None, ""
    try:  # never blocks: a FIFO swapped in since the check is refused, not opened for reading
        raw = read_bytes(target, argument="path")
    except UnreadableInput as error:  # "cannot be read (Permission denied)", "is a FIFO, ..."
        reason = error.problem[len("cannot be read (") : -1] if error.problem.startswith("cannot be read (") else error.problem
        return None, f"unreadable ({reason})"
    try:
        return raw.decode("utf-8"), ""
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return None, f"not UTF-8 (line {line}, byte {error.start})"


def update_texts(files: Mapping[Path, str], describe: Callable[[Path, str | None], str]) -> list[str]:
    """Rewrite each file of ``files`` that does not hold its text yet, all or none; say what happened.

    Every target is checked writable and its old text read before anything is written; the new
    texts are then written to temporary files, and only when all are whole do they replace the
    old ones. Returns one line per file: ``"<path>: unchanged"``, ``"<path>: "`` and
    ``describe(path, old)`` (``old`` is ``None`` for a missing file), or, for a file that could not
    be read, ``"<path>: replaced a file that was <reason>"``.
    """
    targets = {check_writable(path): text for path, text in files.items()}
    olds = {path: read_old(path) for path in targets}
    lines = []
    with contextlib.ExitStack() as stack:
        for path, text in targets.items():
            old, problem = olds[path]
            if old == text:
                lines.append(f"{path}: unchanged")
                continue
            stack.enter_context(atomic_writer(path)).write(text.encode())
            lines.append(f"{path}: replaced a file that was {problem}" if problem else f"{path}: {describe(path, old)}")
    return lines


def update_text(path: Path | str, text: str, describe: Callable[[str | None], str]) -> str:
    """Rewrite ``path`` with ``text`` atomically unless it holds ``text`` already; say what happened.

    Returns one line: ``"<path>: unchanged"``, or ``"<path>: "`` and ``describe(old)``, where
    ``old`` is the text the file held before (``None`` when it did not exist).
    """
    return update_texts({Path(path): text}, lambda _, old: describe(old))[0]
