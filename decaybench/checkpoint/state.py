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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from decaybench.checkpoint.files import ARRAYS, INDEX, NPZ, PREFIX, digest, index_epoch, read_arrays
from decaybench.config import DecayConfig
from decaybench.files import atomic_writer
from decaybench.reading import UnreadableInput, read_text
from decaybench.test_hooks import checkpoint_pause

__all__ = ["NPZ", "PREFIX", "NumpyStore", "State", "Store", "TensorFlowStore", "latest_epoch"]

_ARRAYS = ARRAYS


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
        """The latest complete state, ``None`` when none was saved; ``UnreadableInput`` naming the file when unreadable."""
        raise NotImplementedError


# NumPy's .npy format has no bfloat16 (it reads back as void): such arrays are kept as their uint16 bits.
_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)


def _stored(array: np.ndarray) -> np.ndarray:
    return array.view(np.uint16) if array.dtype == _BFLOAT16 else array


def _loaded(array: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    return array.view(_BFLOAT16) if dtype == _BFLOAT16 and array.dtype == np.uint16 else array


class NumpyStore(Store):
    """``state.npz`` in ``directory``, replaced atomically at each save.

    A run's :class:`State`, or any named arrays after ``epoch`` epochs (:meth:`save_arrays`: a
    sweep's, :class:`decaybench.checkpoint.ArrayCheckpoints`), with a SHA-256 of them all.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / NPZ

    def save(self, state: State) -> None:
        self.save_arrays(state.epoch, {name: getattr(state, name) for name in _ARRAYS})

    def save_arrays(self, epoch: int, named: Mapping[str, np.ndarray]) -> None:
        """Save ``named`` arrays after ``epoch`` epochs (complete when this returns)."""
        arrays: dict[str, Any] = {"epoch": np.int64(epoch), **{name: _stored(array) for name, array in named.items()}}
        with atomic_writer(self.path) as handle:
            np.savez(handle, digest=np.frombuffer(digest(arrays), np.uint8), **arrays)
            checkpoint_pause()

    def load(self) -> State | None:
        arrays = read_arrays(self.path.parent)
        if arrays is None:
            return None
        # A run's float arrays stored as uint16 are its bfloat16 bits (State.check then matches the config's dtype).
        return State(int(arrays["epoch"]), *(_loaded(arrays[name], _BFLOAT16) for name in _ARRAYS))

    def load_arrays(self, like: Mapping[str, np.ndarray]) -> tuple[int, dict[str, np.ndarray]] | None:
        """``(epoch, {name: array})`` of the saved state, ``None`` when none.

        The file must hold the arrays named in ``like``, each of its kind of dtype and its rank;
        anything else is an :class:`~decaybench.reading.UnreadableInput` naming the file.
        """
        kinds = {name: (_stored(array).dtype.kind, array.ndim) for name, array in like.items()}
        arrays = read_arrays(self.path.parent, kinds)
        if arrays is None:
            return None
        return int(arrays.pop("epoch")), {name: _loaded(arrays[name], like[name].dtype) for name in like}


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
                problem = f"is unreadable or corrupt ({type(error).__name__}: {error})"
                raise UnreadableInput("checkpoint_dir", str(self.directory), str(self.directory / INDEX), problem) from error
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

        names = self.directory / INDEX
        if index_epoch(self.directory) is None:  # a regular file naming ckpt-<epoch>, or none
            return
        try:
            text_format.Parse(read_text(names, argument="checkpoint_dir", value=str(self.directory)), CheckpointState())
        except text_format.ParseError as error:
            raise UnreadableInput("checkpoint_dir", str(self.directory), str(names), f"is unreadable or corrupt ({error})") from None

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
            problem = f"is unreadable or corrupt ({type(error).__name__}: {message})"
            raise UnreadableInput("checkpoint_dir", str(self.directory), f"checkpoint {latest}", problem) from error
        return State(int(self._epoch.numpy()), *(self._variables[name].numpy() for name in _ARRAYS))


def latest_epoch(directory: Path) -> int | None:
    """The epoch of the latest complete checkpoint in ``directory``, read without TensorFlow; ``None`` if none.

    TensorFlow's ``checkpoint`` file names it (``ckpt-<epoch>``); a numpy run's ``state.npz`` holds it.
    A file that is not what it must be is an :class:`~decaybench.reading.UnreadableInput`.
    """
    arrays = read_arrays(directory, None)  # a run's arrays or a sweep's: only the epoch is read here
    return int(arrays["epoch"]) if arrays is not None else index_epoch(directory)
