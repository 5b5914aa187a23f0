"""Mode ``keras``: what a user writes, a tf.keras SGD whose learning rate is our schedule.

The optimizer evaluates ``decaybench.ExponentialDecay(..., dtype=w.dtype)`` at its
``iterations`` counter (0, 1, 2, ...) and applies ``w - lr * g`` itself. Since our schedule is
the float64 reference rounded once to ``w``'s dtype, this mode is bit-identical to ``eager``.

:func:`keras_loop` takes any schedule, so the cross-library checks run tf.keras's *own*
``ExponentialDecay`` through the very same loop (see :mod:`decaybench.peers`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from decaybench.checkpoint import CheckpointOptions
from decaybench.config import DecayConfig
from decaybench.keras_schedule import ExponentialDecay
from decaybench.modes._scaffold.recording import Recorder, epochs
from decaybench.trace import Trace

__all__ = ["keras_loop", "run_keras"]


def keras_loop(
    config: DecayConfig,
    learning_rate: Any,
    optimizer_class: Any = None,
    progress: bool | None = None,
    checkpoint: CheckpointOptions | None = None,
    mode: str = "keras",
    restore_optimizer: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train the seed problem with ``optimizer_class(learning_rate=learning_rate)`` (tf.keras SGD).

    Returns the recorded ``w`` rows, losses, and the learning rate the optimizer applied at
    each recorded epoch (as float64). ``checkpoint`` saves the optimizer with the state, so a
    resumed run continues the schedule at the restored ``optimizer.iterations``
    (``restore_optimizer=False`` leaves it out: the classic mistake, :mod:`decaybench.peers.resume`).
    """
    optimizer_class = optimizer_class or tf.keras.optimizers.SGD
    optimizer = optimizer_class(learning_rate=learning_rate)
    objects = {"optimizer": optimizer} if restore_optimizer else {}
    checkpoints = checkpoint.open(config, mode, objects=objects) if checkpoint is not None else None
    record = Recorder(config, checkpoints)
    w = tf.Variable(record.w0)
    for epoch in epochs(config, progress, mode, record.start):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(w + 1))
        grads = tape.gradient(loss, w)
        wanted = record.wants(epoch)
        # The lr this step applies: the schedule at the optimizer's counter, before it advances.
        applied = float(learning_rate(optimizer.iterations) if callable(learning_rate) else learning_rate) if wanted else 0.0
        optimizer.apply_gradients([(grads, w)])
        if wanted:
            record.add(w.numpy(), loss.numpy(), applied)
        record.finished(epoch, w.numpy)
    return record.arrays()


def run_keras(config: DecayConfig, progress: bool | None = None, *, checkpoint: CheckpointOptions | None = None) -> Trace:
    """tf.keras SGD with ``decaybench.ExponentialDecay`` in ``w``'s dtype; ``checkpoint`` as :func:`keras_loop`'s.
    Under ``config.policy``: :func:`decaybench.modes.mixed_keras.run_keras_mixed`."""
    if config.policy is not None:
        from decaybench.modes.mixed_keras import run_keras_mixed

        return run_keras_mixed(config, progress)
    schedule = ExponentialDecay(**dataclasses.asdict(config.schedule), dtype=config.dtype)
    w, loss, _ = keras_loop(config, schedule, progress=progress, checkpoint=checkpoint)
    # The optimizer applied the schedule rounded to w's dtype; the trace keeps the float64 value.
    lr = config.schedule.lr(config.recorded())
    return Trace(epoch=config.recorded(), w=w, loss=loss, lr=lr, config=config, mode="keras")
