"""A checkpoint directory's files as decaybench finds them, read without TensorFlow and refused in one line.

A directory may have been edited, damaged or replaced by anyone, so nothing in it is trusted:

* :func:`check_entries`: every entry is a regular file or a directory, and what decaybench or
  TensorFlow reads (``manifest.json``, ``state.npz``, ``checkpoint``, ``ckpt-<k>.*``) is a
  regular file: a FIFO there would block the reader, a directory would raise ``IsADirectoryError``.
* :func:`read_arrays`: ``state.npz`` member by member. Each member's ``.npy`` header is read first
  and must describe a plain numeric array whose bytes the member holds
  (``prod(shape) * itemsize <= member size``: a header cannot make NumPy allocate more than the
  file holds); then the arrays must have the names, dtypes and ranks of a state, the epoch an
  int64 scalar, and their SHA-256 the digest saved with them.
* :func:`index_epoch`: the epoch TensorFlow's ``checkpoint`` index names (``ckpt-<epoch>``).

Each refusal is an :class:`~decaybench.reading.UnreadableInput` naming ``checkpoint_dir``, the file
and what is wrong.

>>> import tempfile
>>> directory = Path(tempfile.mkdtemp())
>>> (directory / "checkpoint").mkdir()
>>> check_entries(directory)
Traceback (most recent call last):
...
decaybench.reading.UnreadableInput: checkpoint_dir .../checkpoint is a directory, not a regular file, got '...'
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from decaybench.reading import UnreadableInput, file_kind, open_regular, read_text

__all__ = ["ARRAYS", "INDEX", "NPZ", "PREFIX", "check_entries", "digest", "index_epoch", "read_arrays"]

NPZ = "state.npz"
PREFIX = "ckpt"
INDEX = "checkpoint"
ARRAYS = ("w", "rows_w", "rows_loss", "rows_lr")
# name: (kinds of dtype, rank) of what NumpyStore.save writes.
_MEMBERS: dict[str, tuple[str, int | None]] = {
    "epoch": ("i", 0),
    "w": ("fu", 1),  # u: bfloat16's bits (decaybench.checkpoint.state)
    "rows_w": ("fu", 2),
    "rows_loss": ("fu", 1),
    "rows_lr": ("f", 1),
    "digest": ("u", 1),
}
# A run's arrays (the default of read_arrays).
_RUN = {name: _MEMBERS[name] for name in ARRAYS}
# What decaybench or TensorFlow opens and reads; TensorFlow's "<prefix>_temp" directories are its own.
_READ = re.compile(rf"(manifest\.json|{NPZ}|{INDEX}|{PREFIX}-[0-9]+\.(index|data-[0-9]+-of-[0-9]+))")
_INDEX_LIMIT = 1 << 20


def _refuse(directory: Path, path: Path | str, problem: str) -> UnreadableInput:
    return UnreadableInput("checkpoint_dir", str(directory), str(path), problem)


def check_entries(directory: Path) -> None:
    """Refuse a special file anywhere in ``directory``, and anything but a regular file where one is read."""
    if not directory.is_dir():
        return
    for entry in sorted(os.scandir(directory), key=lambda entry: entry.name):
        mode = entry.stat(follow_symlinks=True).st_mode if os.path.exists(entry.path) else entry.stat(follow_symlinks=False).st_mode
        expected = _READ.fullmatch(entry.name) is not None
        if not (stat.S_ISREG(mode) or (stat.S_ISDIR(mode) and not expected)):
            raise _refuse(directory, entry.path, f"is {file_kind(mode)}, not a regular file")


def digest(arrays: Mapping[str, Any]) -> bytes:
    """SHA-256 of the arrays' names, dtypes, shapes and bytes, in order."""
    # zipfile checks a member's CRC only when it reads to the end: the digest catches any change.
    hashed = hashlib.sha256()
    for name, array in arrays.items():
        value = np.ascontiguousarray(array)
        hashed.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
        hashed.update(value.tobytes())
    return hashed.digest()


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One ``.npy`` member, its header checked before any array is allocated; ``ValueError`` if bad."""
    with archive.open(info) as handle:
        version = np.lib.format.read_magic(handle)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"npy format {version}")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        if dtype.hasobject or dtype.kind not in "iuf" or fortran:
            raise ValueError(f"dtype {dtype}{' (Fortran order)' if fortran else ''} is not a state's")
        if math.prod(shape) * dtype.itemsize > info.file_size:
            raise ValueError(f"its header declares {list(shape)} {dtype}, more than its {info.file_size} bytes")
    with archive.open(info) as handle:
        return np.lib.format.read_array(handle, allow_pickle=False)


def _arrays(directory: Path, path: Path, members: Mapping[str, tuple[str, int | None]] | None) -> dict[str, np.ndarray]:
    with open_regular(path, argument="checkpoint_dir", value=str(directory)) as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                names = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
                expected = dict(members or {name: ("iuf", None) for name in names if name not in ("epoch", "digest")})
                expected = {"epoch": _MEMBERS["epoch"], **expected, "digest": _MEMBERS["digest"]}
                if sorted(names) != sorted(expected):
                    raise ValueError(f"it holds {sorted(names)}, expected {sorted(expected)}")
                return {name: _member(archive, names[name]) for name in expected}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError) as error:
            raise _refuse(directory, path, f"is unreadable or corrupt ({type(error).__name__}: {error})") from None


def read_arrays(directory: Path, members: Mapping[str, tuple[str, int | None]] | None = _RUN) -> dict[str, np.ndarray] | None:
    """``state.npz``'s arrays (``epoch``, then :data:`ARRAYS`), checked as above; ``None`` when there is none.

    ``members`` names other arrays (a sweep's), each ``(kinds of dtype, rank)``; ``None`` takes
    whatever arrays the file holds (with any rank), beside its ``epoch`` and ``digest``.
    """
    path = directory / NPZ
    if not os.path.lexists(path):
        return None
    arrays = _arrays(directory, path, members)
    checks = {name: ("iuf", None) for name in arrays} | {"epoch": _MEMBERS["epoch"], "digest": _MEMBERS["digest"]} | dict(members or {})
    for name, (kinds, rank) in checks.items():
        array = arrays[name]
        if array.dtype.kind not in kinds or rank not in (None, array.ndim) or (name == "epoch" and array.dtype != np.int64):
            shape = f"{array.dtype}{list(array.shape)}"
            raise _refuse(
                directory, path, f"is unreadable or corrupt (its {name} is {shape}, not a state's {'int64 scalar' if rank == 0 else name})"
            )
    saved = arrays.pop("digest")
    if saved.tobytes() != digest(arrays):
        raise _refuse(directory, path, "is unreadable or corrupt (its SHA-256 does not match its arrays)")
    if arrays["epoch"] < 0:
        raise _refuse(directory, path, f"is unreadable or corrupt (its epoch {int(arrays['epoch'])} is negative)")
    return arrays


def index_epoch(directory: Path) -> int | None:
    """The epoch of the checkpoint TensorFlow's ``checkpoint`` index names; ``None`` without an index.

    TensorFlow writes it as protobuf text, ``model_checkpoint_path: "ckpt-<epoch>"`` first.
    """
    path = directory / INDEX
    if not os.path.lexists(path):
        return None
    text = read_text(path, argument="checkpoint_dir", value=str(directory), limit=_INDEX_LIMIT)
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model_checkpoint_path":
            name = Path(value.strip().strip('"')).name
            prefix, _, suffix = name.rpartition("-")
            if prefix != PREFIX or not suffix.isascii() or not suffix.isdigit() or len(suffix) > 18:
                raise _refuse(directory, path, f"is unreadable or corrupt (it names {name[:80]!r}, not {PREFIX}-<epoch>)")
            return int(suffix)
    raise _refuse(directory, path, "is unreadable or corrupt (it names no checkpoint)")
