"""Mode ``eager``: the course note's loop, line for line.

Each epoch computes ``lr`` as a Python float from the float64 reference, records the loss
under a ``GradientTape``, and applies ``w.assign_sub(lr * grads)``; TensorFlow rounds the
Python float to ``w``'s dtype when it multiplies.
"""

from __future__ import annotations

import tensorflow as tf

from decaybench.config import DecayConfig
from decaybench.modes.recording import Recorder, epochs, initial_w
from decaybench.schedule import exponential_decay
from decaybench.trace import Trace


def run_eager(config: DecayConfig, progress: bool | None = None) -> Trace:
    """Run the seed's eager loop on ``config``; ``progress`` shows a bar (default: on a terminal)."""
    w = tf.Variable(initial_w(config))
    record = Recorder(config)
    for epoch in epochs(config, progress, "eager"):
        lr = exponential_decay(epoch, config.initial_learning_rate, config.decay_steps, config.decay_rate, config.staircase)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(w + 1))
        grads = tape.gradient(loss, w)
        w.assign_sub(lr * grads)
        if record.wants(epoch):
            record.add(w.numpy(), loss.numpy(), lr)
    return record.trace("eager")
