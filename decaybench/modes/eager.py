"""Mode ``eager``: the course note's loop, line for line.

Each epoch computes ``lr`` as a Python float from the float64 reference, records the loss
under a ``GradientTape``, and applies ``w.assign_sub(lr * grads)``; TensorFlow rounds the
Python float to ``w``'s dtype when it multiplies.
"""

from __future__ import annotations

import tensorflow as tf

from decaybench.checkpoint import CheckpointOptions
from decaybench.config import DecayConfig
from decaybench.modes._scaffold.recording import Recorder, epochs
from decaybench.trace import Trace


def run_eager(config: DecayConfig, progress: bool | None = None, *, checkpoint: CheckpointOptions | None = None) -> Trace:
    """Run the seed's eager loop on ``config``; ``progress`` shows a bar (default: on a terminal).

    ``checkpoint`` saves the state every ``checkpoint.every`` epochs, or resumes it (:mod:`decaybench.checkpoint`).
    """
    record = Recorder(config, checkpoint.open(config, "eager") if checkpoint is not None else None)
    w = tf.Variable(record.w0)
    for epoch in epochs(config, progress, "eager", record.start):
        lr = config.schedule.lr(epoch)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(w + 1))
        grads = tape.gradient(loss, w)
        w.assign_sub(lr * grads)
        if record.wants(epoch):
            record.add(w.numpy(), loss.numpy(), lr)
        record.finished(epoch, w.numpy)
    return record.trace("eager")
