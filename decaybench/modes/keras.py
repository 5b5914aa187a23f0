"""Mode ``keras``: what a user writes, a tf.keras SGD whose learning rate is our schedule.

The optimizer evaluates ``decaybench.ExponentialDecay(..., dtype=w.dtype)`` at its
``iterations`` counter (0, 1, 2, ...) and applies ``w - lr * g`` itself. Since our schedule is
the float64 reference rounded once to ``w``'s dtype, this mode is bit-identical to ``eager``.

:func:`keras_loop` takes any schedule, so the cross-library checks run tf.keras's *own*
``ExponentialDecay`` through the very same loop (see :mod:`decaybench.peers`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from decaybench.config import DecayConfig
from decaybench.modes.recording import Recorder, epochs, initial_w
from decaybench.schedule import ExponentialDecay, exponential_decay
from decaybench.trace import Trace

__all__ = ["keras_loop", "run_keras"]


def keras_loop(
    config: DecayConfig, learning_rate: Any, optimizer_class: Any = None, progress: bool | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train the seed problem with ``optimizer_class(learning_rate=learning_rate)`` (tf.keras SGD).

    Returns the recorded ``w`` rows, losses, and the learning rate the optimizer applied at
    each recorded epoch (as float64).
    """
    optimizer_class = optimizer_class or tf.keras.optimizers.SGD
    optimizer = optimizer_class(learning_rate=learning_rate)
    w = tf.Variable(initial_w(config))
    record = Recorder(config)
    for epoch in epochs(config, progress, "keras"):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(w + 1))
        grads = tape.gradient(loss, w)
        wanted = record.wants(epoch)
        # The lr this step applies: the schedule at the optimizer's counter, before it advances.
        applied = float(learning_rate(optimizer.iterations) if callable(learning_rate) else learning_rate) if wanted else 0.0
        optimizer.apply_gradients([(grads, w)])
        if wanted:
            record.add(w.numpy(), loss.numpy(), applied)
    return record.arrays()


def run_keras(config: DecayConfig, progress: bool | None = None) -> Trace:
    """tf.keras SGD with ``decaybench.ExponentialDecay`` in ``w``'s dtype."""
    schedule = ExponentialDecay(config.initial_learning_rate, config.decay_steps, config.decay_rate, config.staircase, dtype=config.dtype)
    w, loss, _ = keras_loop(config, schedule, progress=progress)
    # The optimizer applied the schedule rounded to w's dtype; the trace keeps the float64 value.
    lr = exponential_decay(config.recorded(), config.initial_learning_rate, config.decay_steps, config.decay_rate, config.staircase)
    return Trace(epoch=config.recorded(), w=w, loss=loss, lr=lr, config=config, mode="keras")
