"""What the per-epoch Python loops (``eager``, ``function``, ``keras``) share: epochs and rows.

>>> from decaybench.config import DecayConfig
>>> record = Recorder(DecayConfig(epochs=5, record_every=3))
>>> [epoch for epoch in epochs(record.config, progress=False) if record.wants(epoch)]
[0, 3, 4]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from decaybench.config import DecayConfig
from decaybench.progress import epoch_bar
from decaybench.trace import Trace

__all__ = ["Recorder", "epochs", "initial_w"]


def initial_w(config: DecayConfig) -> np.ndarray:
    """``size`` copies of ``w0`` rounded to the run's dtype, as ``tf.constant(w0, dtype)`` rounds it."""
    return np.full(config.size, config.w0, dtype=config.dtype)


def epochs(config: DecayConfig, progress: bool | None, description: str = "epochs") -> Iterator[int]:
    """The epochs 0 .. epochs-1, advancing a progress bar (which also raises a pending Ctrl-C)."""
    with epoch_bar(config.epochs, progress, description) as bar:
        for epoch in range(config.epochs):
            yield epoch
            bar.update()


class Recorder:
    """The rows of the recorded epochs (``config.recorded()``): w after the update, loss, lr."""

    def __init__(self, config: DecayConfig) -> None:
        self.config = config
        self._keep = set(config.recorded().tolist())
        self._w: list[np.ndarray] = []
        self._loss: list[np.ndarray] = []
        self._lr: list[float] = []

    def wants(self, epoch: int) -> bool:
        """Whether ``epoch`` is a recorded one."""
        return epoch in self._keep

    def add(self, w: np.ndarray, loss: np.ndarray, lr: float) -> None:
        """Keep one recorded epoch's row."""
        self._w.append(w)
        self._loss.append(loss)
        self._lr.append(lr)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows so far: w ``(rows, size)``, losses and float64 lrs ``(rows,)``."""
        return np.stack(self._w), np.stack(self._loss), np.asarray(self._lr, dtype=np.float64)

    def trace(self, mode: str) -> Trace:
        """The rows as the run's :class:`Trace`."""
        w, loss, lr = self.arrays()
        return Trace(epoch=self.config.recorded(), w=w, loss=loss, lr=lr, config=self.config, mode=mode)
