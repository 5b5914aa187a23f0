"""The ``vector`` group's ``xla-exact`` subject: one step of the ``xla-exact`` loop on a large ``w``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from decaybench.bench.workload import SEED, Call


def exact_step(size: int) -> Callable[[], Call]:
    """A builder of one ``xla_exact_step`` on ``size`` float32 values, carrying ``w`` as the loop does."""

    def build() -> Call:
        import tensorflow as tf

        from decaybench.modes.exact import step_inputs, xla_exact_step  # loads TensorFlow

        one, index = step_inputs(size, "float32")
        # A tiny lr keeps w finite however many rounds run; the work is the same for any lr.
        lr = tf.constant(1e-6, tf.float32)
        state = [tf.fill([size], tf.constant(SEED.w0, tf.float32))]

        def step() -> Any:
            state[0], loss = xla_exact_step(state[0], lr, one, index)
            return loss.numpy()

        return step

    return build
