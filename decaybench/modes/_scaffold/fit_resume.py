"""Checkpoints for modes ``fit`` and ``callback``: Keras's own ``BackupAndRestore``, and the rows beside it.

``keras.callbacks.BackupAndRestore`` saves the model's weights, the optimizer (its ``iterations``
drive the schedule of mode ``fit``) and the epoch; at ``fit``'s start it restores them and ``fit``
continues at the next epoch. It saves in ``<checkpoint_dir>/backup`` at the epochs a checkpoint is
due (:meth:`decaybench.checkpoint.Checkpoints.due`), not every epoch.

The rows recorded so far go to decaybench's own checkpoint (:mod:`decaybench.checkpoint`), saved at
the same epochs and *before* Keras's backup: so decaybench's state is never older than Keras's.
If a run dies between the two saves, ``fit`` resumes from Keras's older epoch and the rows from
that epoch on are dropped (:meth:`decaybench.modes._scaffold.recording.Recorder.restart_at`) and recorded
again, the same bits. (Keras 3 writes its backup in place, weights then epoch: it is not atomic,
so a kill during the write can leave weights and epoch that disagree; ``double_checkpoint`` keeps
the previous backup to fall back on when the weights file is unreadable. The fault test covers
the other modes.)
"""

from __future__ import annotations

import contextlib
from typing import Any

import tensorflow as tf

from decaybench.checkpoint import CheckpointOptions
from decaybench.config import DecayConfig
from decaybench.modes._scaffold.recording import Recorder

__all__ = ["resume_callbacks"]


class _Rows(tf.keras.callbacks.Callback):
    """Drops rows past the epoch ``fit`` resumes at, and saves the state when a checkpoint is due."""

    def __init__(self, record: Recorder) -> None:
        super().__init__()
        self.record = record
        self._first = True

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._first:
            self.record.restart_at(epoch)
            self._first = False

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        weight = self.model.trainable_weights[0]
        self.record.finished(epoch, lambda: weight.numpy())


def _backup(directory: str, due: Any) -> Any:
    class DueBackup(tf.keras.callbacks.BackupAndRestore):
        """``BackupAndRestore`` saving at the epochs a checkpoint is due."""

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if due(epoch + 1):
                super().on_epoch_end(epoch, logs)
            else:
                self._current_epoch = epoch + 1

    options: dict[str, Any] = {"delete_checkpoint": False, "double_checkpoint": True}
    with contextlib.suppress(TypeError):
        return DueBackup(directory, **options)
    return DueBackup(directory, delete_checkpoint=False)  # tf_keras: no double_checkpoint


def resume_callbacks(recorder: Any, config: DecayConfig, mode: str, checkpoint: CheckpointOptions) -> list[Any]:
    """The callbacks to pass after ``recorder`` (an ``EpochRecorder``), whose rows they restore and save."""
    checkpoints = checkpoint.open(config, mode)
    recorder.record = Recorder(config, checkpoints)
    return [_Rows(recorder.record), _backup(str(checkpoint.directory / "backup"), checkpoints.due)]
