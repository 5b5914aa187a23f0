"""What a checkpoint holds, and the two places it is kept: TensorFlow's format, or one ``.npz``.

A :class:`State` is a run stopped between epochs: the epochs done (the next epoch to run), ``w``
after them, and the rows recorded so far. Continuing from it runs the same operations on the
same values, so the rest of the trace is the same bits as in a run that never stopped.

* :class:`TensorFlowStore`: ``tf.train.Checkpoint`` with ``tf.train.CheckpointManager``; the
  checkpoint of a state after ``k`` epochs is ``ckpt-k``, and a mode's own trackable objects
  (the Keras optimizer, whose ``iterations`` drive the schedule) are saved beside it.
* :class:`NumpyStore`: ``state.npz``, replaced atomically (mode ``numpy`` needs no TensorFlow).

Both only ever expose a complete checkpoint: TensorFlow names a checkpoint in its ``checkpoint``
file (atomically) after the checkpoint's files are written, and keeps the previous one until
then (``max_to_keep=2``: with 1, it would delete the previous one before the new one is named).

>>> from decaybench.config import DecayConfig
>>> state = State.initial(DecayConfig(epochs=3))
>>> state.epoch, state.w.tolist(), state.rows_w.shape
(0, [5.0], (0, 1))
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from decaybench.config import DecayConfig
from decaybench.files import atomic_writer
from decaybench.test_hooks import checkpoint_pause

__all__ = ["NPZ", "PREFIX", "NumpyStore", "State", "Store", "TensorFlowStore", "latest_epoch"]

NPZ = "state.npz"
PREFIX = "ckpt"
_ARRAYS = ("w", "rows_w", "rows_loss", "rows_lr")


@dataclass(frozen=True, eq=False)
class State:
    """A run after ``epoch`` epochs.

    Attributes:
        epoch: epochs done, the next epoch to run (``0 <= epoch <= config.epochs``).
        w: ``[size]``, w after them (``w0`` when none is done).
        rows_w, rows_loss, rows_lr: the trace's rows of the recorded epochs below ``epoch``.
    """

    epoch: int
    w: np.ndarray
    rows_w: np.ndarray
    rows_loss: np.ndarray
    rows_lr: np.ndarray

    @classmethod
    def initial(cls, config: DecayConfig) -> State:
        """No epoch done: ``w0`` and no rows."""
        dtype = np.dtype(config.dtype)
        w = np.full(config.size, config.w0, dtype=dtype)
        return cls(0, w, np.empty((0, config.size), dtype), np.empty(0, dtype), np.empty(0, np.float64))

    def check(self, config: DecayConfig) -> State:
        """``self`` if it can be a state of ``config``'s run, else ``ValueError`` naming what is wrong."""
        dtype = np.dtype(config.dtype)
        if not 0 <= self.epoch <= config.epochs:
            raise ValueError(f"its epoch {self.epoch} is outside 0..{config.epochs}")
        rows = int(np.count_nonzero(config.recorded() < self.epoch))
        expected = {
            "w": ((config.size,), dtype),
            "rows_w": ((rows, config.size), dtype),
            "rows_loss": ((rows,), dtype),
            "rows_lr": ((rows,), np.dtype(np.float64)),
        }
        for name, (shape, kind) in expected.items():
            array = getattr(self, name)
            if array.shape != shape or array.dtype != kind:
                raise ValueError(f"its {name} is {array.dtype}{list(array.shape)}, expected {kind}{list(shape)} at epoch {self.epoch}")
        return self


class Store:
    """Where a run's states go: :meth:`save` one, :meth:`load` the latest complete one."""

    def save(self, state: State) -> None:
        raise NotImplementedError

    def load(self) -> State | None:
        """The latest complete state, ``None`` when none was saved; ``ValueError`` when it is unreadable."""
        raise NotImplementedError


_BFLOAT16 = np.dtype("bfloat16")


class NumpyStore(Store):
    """``state.npz`` in ``directory``, replaced atomically at each save."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / NPZ

    def save(self, state: State) -> None:
        arrays = {"epoch": np.int64(state.epoch), **{name: getattr(state, name) for name in _ARRAYS}}
        # NumPy's .npy format has no bfloat16 (it reads back as void): such arrays are saved as their bits.
        bits = np.array([name for name, array in arrays.items() if array.dtype == _BFLOAT16])
        arrays = {name: array.view(np.uint16) if name in bits else array for name, array in arrays.items()}
        with atomic_writer(self.path) as handle:
            np.savez(handle, digest=np.frombuffer(_digest(arrays), np.uint8), bfloat16_bits=bits, **arrays)
            checkpoint_pause()

    def load(self) -> State | None:
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in ("epoch", *_ARRAYS)}
                if data["digest"].tobytes() != _digest(arrays):
                    raise ValueError("its SHA-256 does not match its arrays")
                for name in data["bfloat16_bits"].tolist() if "bfloat16_bits" in data else ():
                    arrays[name] = arrays[name].view(_BFLOAT16)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"{NPZ} is unreadable or corrupt ({type(error).__name__}: {error})") from error
        return State(int(arrays["epoch"]), *(arrays[name] for name in _ARRAYS))


def _digest(arrays: Mapping[str, Any]) -> bytes:
    # zipfile checks a member's CRC only when it reads to the end: the digest catches any change.
    digest = hashlib.sha256()
    for name, array in arrays.items():
        value = np.ascontiguousarray(array)
        digest.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.digest()


class TensorFlowStore(Store):
    """``tf.train.Checkpoint`` + ``tf.train.CheckpointManager`` in ``directory``, for a run in ``dtype``.

    ``objects`` are further trackables saved and restored with the state (say ``{"optimizer": sgd}``).
    """

    def __init__(self, directory: Path, dtype: str, objects: Mapping[str, Any] | None = None) -> None:
        import tensorflow as tf

        # Shapeless variables: the rows grow from one checkpoint to the next.
        dtypes = {"w": dtype, "rows_w": dtype, "rows_loss": dtype, "rows_lr": "float64"}
        self._variables = {name: tf.Variable(np.zeros(0, dtypes[name]), shape=tf.TensorShape(None), trainable=False) for name in _ARRAYS}
        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._checkpoint = tf.train.Checkpoint(epoch=self._epoch, **self._variables, **dict(objects or {}))
        self.directory = directory
        self._manager: Any = None

    def _managed(self) -> Any:
        import tensorflow as tf

        if self._manager is None:
            try:
                self._manager = tf.train.CheckpointManager(self._checkpoint, str(self.directory), max_to_keep=2, checkpoint_name=PREFIX)
            except Exception as error:  # a corrupt "checkpoint" file fails to parse here
                raise ValueError(f"its checkpoint file is unreadable or corrupt ({type(error).__name__}: {error})") from error
        return self._manager

    def save(self, state: State) -> None:
        import tensorflow as tf

        self._epoch.assign(state.epoch)
        for name, variable in self._variables.items():
            variable.assign(getattr(state, name))
        try:
            # Write callbacks run after the files are written, before the "checkpoint" file names them.
            options = tf.train.CheckpointOptions(experimental_write_callbacks=[checkpoint_pause])
            self._managed().save(checkpoint_number=state.epoch, options=options)
        except Exception as error:  # tf.errors.OpError: permission denied, no space left, ...
            if isinstance(error, OSError):
                raise
            raise OSError(f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}") from error

    def _check_names(self) -> None:
        # TensorFlow ignores a corrupt "checkpoint" file with a warning (and would start over).
        from google.protobuf import text_format
        from tensorflow.python.training.checkpoint_state_pb2 import CheckpointState

        names = self.directory / "checkpoint"
        if not names.exists():
            return
        try:
            state = text_format.Parse(names.read_text(encoding="utf-8"), CheckpointState())
        except (OSError, UnicodeDecodeError, text_format.ParseError) as error:
            raise ValueError(f"its checkpoint file is unreadable or corrupt ({type(error).__name__}: {error})") from error
        if not state.model_checkpoint_path:
            raise ValueError("its checkpoint file names no checkpoint")

    def load(self) -> State | None:
        self._check_names()
        latest = self._managed().latest_checkpoint
        if latest is None:
            return None
        try:
            status = self._checkpoint.restore(latest)
            status.assert_existing_objects_matched()
            status.expect_partial()  # the manager's save counter is not ours to restore
        except Exception as error:  # truncated or altered files: DataLossError, NotFoundError, ...
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ValueError(f"checkpoint {Path(latest).name} is unreadable or corrupt ({type(error).__name__}: {message})") from error
        return State(int(self._epoch.numpy()), *(self._variables[name].numpy() for name in _ARRAYS))


def latest_epoch(directory: Path) -> int | None:
    """The epoch of the latest complete checkpoint in ``directory``, read without TensorFlow; ``None`` if none.

    TensorFlow's ``checkpoint`` file names it (``ckpt-<epoch>``); a numpy run's ``state.npz`` holds it.
    """
    npz = directory / NPZ
    if npz.exists():
        try:
            with np.load(npz, allow_pickle=False) as data:
                return int(data["epoch"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None
    names = directory / "checkpoint"
    if not names.exists():
        return None
    for line in names.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model_checkpoint_path":
            suffix = value.strip().strip('"').rpartition("-")[2]
            return int(suffix) if suffix.isdigit() else None
    return None
