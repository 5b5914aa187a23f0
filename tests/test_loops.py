"""run(): the eager seed loop, the registry, and bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from numpy.testing import assert_array_equal

from decaybench.config import DecayConfig
from decaybench.loops import MODES, run
from decaybench.schedule import exponential_decay
from decaybench.validation import InvalidType, InvalidValue


def seed_loop(epochs: int = 40) -> tuple[list[float], list[float]]:
    """The course note's code, verbatim but for collecting instead of printing."""
    w = tf.Variable(tf.constant(5, dtype=tf.float32))
    ws, losses = [], []
    for epoch in range(epochs):
        lr = 0.2 * 0.99 ** (epoch / 1)
        with tf.GradientTape() as tape:
            loss = tf.square(w + 1)
        grads = tape.gradient(loss, w)
        w.assign_sub(lr * grads)
        ws.append(w.numpy())
        losses.append(loss.numpy())
    return ws, losses


def test_eager_is_the_seed_bit_for_bit() -> None:
    trace = run()
    ws, losses = seed_loop()
    assert trace.w.shape == (40, 1) and trace.w.dtype == np.float32
    assert_array_equal(trace.w[:, 0], ws)
    assert_array_equal(trace.loss, losses)
    assert_array_equal(trace.lr, [0.2 * 0.99 ** (e / 1) for e in range(40)])
    assert_array_equal(trace.epoch, np.arange(40))
    assert trace.mode == "eager" and trace.config == DecayConfig() and trace.diverged_at is None


def test_lr_is_the_reference() -> None:
    config = DecayConfig(staircase=True, decay_steps=3, epochs=20, dtype="float64")
    trace = run(config)
    assert_array_equal(trace.lr, exponential_decay(np.arange(20), 0.2, 3, 0.99, staircase=True))
    assert trace.w.dtype == np.float64


def test_modes_registry() -> None:
    assert MODES[0] == "eager" and len(set(MODES)) == len(MODES)


def test_bad_mode_and_config() -> None:
    with pytest.raises(InvalidValue, match="mode must be one of"):
        run(mode="warp")
    with pytest.raises(InvalidType, match="config must be a DecayConfig"):
        run({"epochs": 3})  # type: ignore[arg-type]
