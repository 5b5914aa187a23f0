"""What the per-epoch Python loops (``eager``, ``function``, ``keras``) share: epochs, rows, checkpoints.

A :class:`Recorder` starts from the run's first state: ``w0`` and no rows, or the state a
checkpoint restored (:mod:`decaybench.checkpoint`). :meth:`Recorder.finished` saves the state
after an epoch when a checkpoint is due, so the loops only say what they computed.

>>> from decaybench.config import DecayConfig
>>> record = Recorder(DecayConfig(epochs=5, record_every=3))
>>> [epoch for epoch in epochs(record.config, progress=False) if record.wants(epoch)]
[0, 3, 4]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from decaybench.checkpoint import Checkpoints, State
from decaybench.config import DecayConfig
from decaybench.progress import epoch_bar
from decaybench.trace import Trace

__all__ = ["Recorder", "epochs", "initial_w"]


def initial_w(config: DecayConfig) -> np.ndarray:
    """``size`` copies of ``w0`` rounded to the run's dtype, as ``tf.constant(w0, dtype)`` rounds it."""
    return np.full(config.size, config.w0, dtype=config.dtype)


def epochs(config: DecayConfig, progress: bool | None, description: str = "epochs", start: int = 0) -> Iterator[int]:
    """The epochs ``start`` .. epochs-1, advancing a progress bar (which also raises a pending Ctrl-C)."""
    with epoch_bar(config.epochs, progress, description) as bar:
        bar.update(start)
        for epoch in range(start, config.epochs):
            yield epoch
            bar.update()


class Recorder:
    """The rows of the recorded epochs (``config.recorded()``): w after the update, loss, lr.

    With ``checkpoints`` it starts from :meth:`Checkpoints.start`'s state (:attr:`start` and
    :attr:`w0` say where) and saves the state whenever :meth:`finished` reaches a due epoch.
    """

    def __init__(self, config: DecayConfig, checkpoints: Checkpoints | None = None) -> None:
        self.config = config
        self._checkpoints = checkpoints
        state = checkpoints.start() if checkpoints is not None else State.initial(config)
        self.start, self.w0 = state.epoch, state.w
        self._keep = set(config.recorded().tolist())
        self._w: list[np.ndarray] = list(state.rows_w)
        self._loss: list[np.ndarray] = list(state.rows_loss)
        self._lr: list[float] = [float(lr) for lr in state.rows_lr]

    def wants(self, epoch: int) -> bool:
        """Whether ``epoch`` is a recorded one."""
        return epoch in self._keep

    def add(self, w: np.ndarray, loss: np.ndarray, lr: float) -> None:
        """Keep one recorded epoch's row."""
        self._w.append(w)
        self._loss.append(loss)
        self._lr.append(lr)

    def restart_at(self, epoch: int) -> None:
        """Forget the rows of epoch ``epoch`` and later: the run continues from there."""
        kept = self.config.recorded_before(epoch)
        del self._w[kept:], self._loss[kept:], self._lr[kept:]

    def finished(self, epoch: int, w: Callable[[], np.ndarray]) -> None:
        """Epoch ``epoch`` is done: save the state (``w()`` after it) if a checkpoint is due."""
        if self._checkpoints is not None and self._checkpoints.due(epoch + 1):
            self._checkpoints.save(State(epoch + 1, np.asarray(w()), *self.arrays()))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows so far: w ``(rows, size)``, losses and float64 lrs ``(rows,)``."""
        dtype = np.dtype(self.config.dtype)
        if not self._w:
            return np.empty((0, self.config.size), dtype), np.empty(0, dtype), np.empty(0, np.float64)
        return np.stack(self._w), np.stack(self._loss), np.asarray(self._lr, dtype=np.float64)

    def trace(self, mode: str) -> Trace:
        """The rows as the run's :class:`Trace`."""
        w, loss, lr = self.arrays()
        return Trace(epoch=self.config.recorded(), w=w, loss=loss, lr=lr, config=self.config, mode=mode)
