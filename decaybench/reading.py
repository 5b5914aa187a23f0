"""Reading what decaybench did not just write: one place that refuses bad files and bad JSON in one line.

Every reader of a file or variable from outside (a checkpoint's manifest and states, TensorFlow's
``checkpoint`` index, golden files, ``TF_CONFIG``) goes through these functions, which raise
:class:`UnreadableInput` (an :class:`~decaybench.validation.InvalidValue`: the CLI names the
argument and exits 2) instead of blocking, recursing or tracing back:

* :func:`open_regular` opens a regular file (or a symlink to one) and nothing else: the type is
  checked with ``lstat``/``stat`` before opening, the file is opened with ``O_NONBLOCK`` (a FIFO
  swapped in after the check cannot block), and checked again with ``fstat`` on the open file.
* :func:`parse_json` refuses nesting deeper than ``max_depth`` before the parser sees it, so no
  input reaches Python's recursion limit::

      depth(text) = max over prefixes of (#"[" + #"{") - (#"]" + #"}"), outside strings
      refused when depth(text) > max_depth

>>> parse_json('{"a": [1, 2]}', source="TF_CONFIG", argument="TF_CONFIG")
{'a': [1, 2]}
>>> parse_json("[" * 100_000 + "]" * 100_000, source="TF_CONFIG", argument="TF_CONFIG", value="...")
Traceback (most recent call last):
...
decaybench.reading.UnreadableInput: TF_CONFIG is not valid JSON: nested deeper than 64 levels, got '...'
>>> read_json("/dev/null", argument="checkpoint_dir")
Traceback (most recent call last):
...
decaybench.reading.UnreadableInput: checkpoint_dir /dev/null is a character device, not a regular file, got '/dev/null'
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from decaybench.validation import InvalidValue

__all__ = ["MAX_DEPTH", "UnreadableInput", "file_kind", "open_regular", "parse_json", "read_bytes", "read_json", "read_text"]

# Our documents nest 3 levels (a trace's w rows inside a key); 64 leaves room and stays far below
# Python's recursion limit (1000), which json.loads would otherwise reach on deep input.
MAX_DEPTH = 64

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISLNK, "a symlink"),
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


class UnreadableInput(InvalidValue):
    """A file or variable that cannot be read as what it must be.

    ``source`` names what was read (a path, or ``TF_CONFIG``) and ``problem`` what is wrong; the
    message, one line, is ``"<argument> <source> <problem>, got <value>"`` (the source once when it is the argument).
    """

    def __init__(self, argument: str, value: Any, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(argument, value, problem if source == argument else f"{source} {problem}")


def file_kind(mode: int) -> str:
    """``"a FIFO"``, ``"a directory"``, ...: what a non-regular ``st_mode`` is, for a message.

    >>> file_kind(stat.S_IFIFO), file_kind(stat.S_IFREG)
    ('a FIFO', 'a regular file')
    """
    return next((kind for test, kind in _KINDS if test(mode)), "a regular file" if stat.S_ISREG(mode) else "not a file")


def _refuse(path: Path | str, argument: str, value: Any, problem: str) -> UnreadableInput:
    return UnreadableInput(argument, str(path) if value is None else value, str(path), problem)


@contextlib.contextmanager
def open_regular(path: Path | str, *, argument: str, value: Any = None) -> Iterator[BinaryIO]:
    """``path`` opened for binary reading if it is a regular file (or a symlink to one); never blocks.

    Raises :class:`UnreadableInput` naming ``argument`` (``value``: what the user gave, default
    the path) for a missing file, another type of file, or an error opening it.
    """
    try:
        found = os.stat(path)  # follows a symlink: a link to a regular file is read
    except OSError as error:
        raise _refuse(
            path, argument, value, "does not exist" if error.errno == errno.ENOENT else f"cannot be read ({error.strerror})"
        ) from None
    if not stat.S_ISREG(found.st_mode):
        link = "a symlink to " if os.path.islink(path) else ""
        raise _refuse(path, argument, value, f"is {link}{file_kind(found.st_mode)}, not a regular file")
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as error:  # ENXIO: a socket swapped in after the check
        raise _refuse(path, argument, value, f"cannot be read ({error.strerror})") from None
    opened = os.fstat(descriptor)
    if not stat.S_ISREG(opened.st_mode):  # swapped between the check and the open
        os.close(descriptor)
        raise _refuse(path, argument, value, f"is {file_kind(opened.st_mode)}, not a regular file (it changed while being opened)")
    with os.fdopen(descriptor, "rb") as handle:
        yield handle


def read_bytes(path: Path | str, *, argument: str, value: Any = None, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path`` (:func:`open_regular`), at most ``limit`` of them."""
    with open_regular(path, argument=argument, value=value) as handle:
        try:
            data = handle.read() if limit is None else handle.read(limit + 1)
        except OSError as error:  # EISDIR cannot happen here; EIO, a file removed under NFS, ...
            raise _refuse(path, argument, value, f"cannot be read ({error.strerror})") from None
    if limit is not None and len(data) > limit:
        raise _refuse(path, argument, value, f"is larger than {limit} bytes")
    return data


def read_text(path: Path | str, *, argument: str, value: Any = None, limit: int | None = None) -> str:
    """The UTF-8 text of the regular file ``path``; bytes that are not UTF-8 are refused naming the line."""
    raw = read_bytes(path, argument=argument, value=value, limit=limit)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise _refuse(path, argument, value, f"is not UTF-8 text (line {line}, byte {error.start} is {raw[error.start]:#04x})") from None


def depth(text: str) -> int:
    """How deeply ``text``'s arrays and objects nest, counting brackets outside strings.

    >>> depth('{"a": [[1], "[[["]}'), depth("1")
    (3, 0)
    """
    skeleton = _STRING.sub("", text)
    codes = np.frombuffer(skeleton.encode("utf-32-le"), dtype=np.uint32)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int64) - np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def parse_json(text: str | bytes, *, source: str, argument: str, value: Any = None, max_depth: int = MAX_DEPTH) -> Any:
    """``text`` as JSON, or :class:`UnreadableInput` naming ``source`` and where it is malformed.

    ``source`` is what the text came from (a path, ``TF_CONFIG``), ``value`` what the user gave
    (default: ``source``). Nesting deeper than ``max_depth`` is refused before parsing.
    """
    value = source if value is None else value
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UnreadableInput(argument, value, source, f"is not UTF-8 text (byte {error.start})") from None
    if depth(text) > max_depth:
        raise UnreadableInput(argument, value, source, f"is not valid JSON: nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableInput(
            argument, value, source, f"is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    except (RecursionError, ValueError) as error:  # ValueError: a number past int's digit limit
        raise UnreadableInput(argument, value, source, f"is not valid JSON ({error})") from None


def read_json(path: Path | str, *, argument: str, value: Any = None, limit: int | None = None, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON document in the regular file ``path`` (:func:`read_text`, then :func:`parse_json`)."""
    text = read_text(path, argument=argument, value=value, limit=limit)
    return parse_json(text, source=str(path), argument=argument, value=str(path) if value is None else value, max_depth=max_depth)
