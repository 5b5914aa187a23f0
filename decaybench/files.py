"""Writing files so that nothing is ever half-written: a temporary file, then ``os.replace``.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> write_atomic(target, "one\\n")
>>> target.read_text()
'one\\n'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["OutputError", "check_writable", "write_atomic"]


class OutputError(OSError):
    """A file cannot be written; the message names the path and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot write {self.path!r}: {reason}")


def check_writable(path: Path | str) -> Path:
    """Refuse, before any work is done, a path that :func:`write_atomic` could not write."""
    target = Path(path)
    if target.is_dir():
        raise OutputError(target, "it is a directory")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(target, f"directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(target, f"directory {str(parent)!r} is not writable")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(target, "the file is not writable")
    return target


def write_atomic(path: Path | str, data: str | bytes) -> None:
    """Write ``data`` to ``path`` all at once: readers see the old file or the new one, whole.

    The data goes to a temporary file in the same directory, is flushed to disk, and then
    replaces ``path`` with ``os.replace``; on any failure (or Ctrl-C) the temporary file is
    removed and ``path`` is untouched.
    """
    target = check_writable(path)
    payload = data.encode() if isinstance(data, str) else data
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            os.chmod(temporary, target.stat().st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, OutputError):
            raise OutputError(target, error.strerror or str(error)) from error
        raise
