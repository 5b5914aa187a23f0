"""Mode ``eager``: the course note's loop, line for line.

Each epoch computes ``lr`` as a Python float from the float64 reference, records the loss
under a ``GradientTape``, and applies ``w.assign_sub(lr * grads)``; TensorFlow rounds the
Python float to ``w``'s dtype when it multiplies.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from decaybench.config import DecayConfig
from decaybench.progress import epoch_bar
from decaybench.schedule import exponential_decay
from decaybench.trace import Trace


def run_eager(config: DecayConfig, progress: bool | None = None) -> Trace:
    """Run the seed's eager loop on ``config``; ``progress`` shows a bar (default: on a terminal)."""
    w = tf.Variable(tf.fill([config.size], tf.constant(config.w0, config.dtype)))
    recorded = config.recorded()
    keep = set(recorded.tolist())
    ws, losses, lrs = [], [], []
    with epoch_bar(config.epochs, progress, "eager") as bar:
        for epoch in range(config.epochs):
            lr = exponential_decay(epoch, config.initial_learning_rate, config.decay_steps, config.decay_rate, config.staircase)
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(w + 1))
            grads = tape.gradient(loss, w)
            w.assign_sub(lr * grads)
            if epoch in keep:
                ws.append(w.numpy())
                losses.append(loss.numpy())
                lrs.append(lr)
            bar.update()
    return Trace(epoch=recorded, w=np.stack(ws), loss=np.stack(losses), lr=np.asarray(lrs), config=config, mode="eager")
