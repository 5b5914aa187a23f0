"""The Keras modes under a mixed-precision policy, set the way users set it, and read back from Keras's own state.

:func:`global_policy` sets ``keras.mixed_precision.set_global_policy`` (tf_keras's under
``TF_USE_LEGACY_KERAS=1``) for one run and restores the previous policy, so nothing leaks into
later runs. Under it, ``compile`` wraps the optimizer in a ``LossScaleOptimizer`` where Keras does
(``mixed_float16``), and a custom loop (mode ``keras``) wraps it and scales its loss as both Keras
guides write it. :class:`ScaleRecorder` reads, around each step, the optimizer's ``iterations``,
loss scale and counter: a step was skipped when its counter went back to 0 without the scale doubling
(a growth step doubles it; a doubling tf_keras refuses as non-finite, past 2**127, would read as a skip).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from decaybench.config import DecayConfig
from decaybench.keras_schedule import ExponentialDecay
from decaybench.loss_scaling import KerasFlavour, Scaling, scales_loss
from decaybench.modes._scaffold.recording import Recorder, epochs, initial_w
from decaybench.trace import Trace

__all__ = ["ScaleRecorder", "Steps", "global_policy", "mixed_trace", "run_keras_mixed", "running_keras"]


def running_keras() -> KerasFlavour:
    """The Keras ``tf.keras`` resolves to: tf_keras (Keras 2) or Keras 3, with its version."""
    package = tf.keras.optimizers.SGD.__module__.split(".")[0]  # tf_keras, or keras (Keras 3, or TF 2.15's Keras 2)
    version = str(getattr(importlib.import_module(package), "__version__", "?"))
    legacy = package == "tf_keras" or version.startswith("2.")
    return KerasFlavour(f"{package} {version}" if package == "tf_keras" else f"Keras {version}", 2 if legacy else 3)


@contextlib.contextmanager
def global_policy(policy: str | None) -> Iterator[None]:
    """``set_global_policy(policy)`` for the block, then the policy that was set before (``None``: nothing)."""
    if policy is None:
        yield
        return
    mixed = tf.keras.mixed_precision
    saved = mixed.global_policy()
    mixed.set_global_policy(policy)
    try:
        yield
    finally:
        mixed.set_global_policy(saved)


def _counter(optimizer: Any) -> int:
    """The loss scale's counter: steps since it last changed; -1 without a ``LossScaleOptimizer``."""
    if hasattr(optimizer, "dynamic_counter"):  # tf_keras
        return int(optimizer.dynamic_counter.numpy())
    if hasattr(optimizer, "step_counter"):  # Keras 3, built
        return int(optimizer.step_counter.numpy())
    return 0 if hasattr(optimizer, "initial_scale") else -1  # Keras 3 before its first step


def _scale(optimizer: Any) -> float:
    """The loss scale; 1 without a ``LossScaleOptimizer``."""
    if hasattr(optimizer, "dynamic_counter"):  # tf_keras
        return float(optimizer.loss_scale.numpy())
    if hasattr(optimizer, "dynamic_scale"):  # Keras 3, built
        return float(optimizer.dynamic_scale.numpy())
    return float(getattr(optimizer, "initial_scale", 1.0))


def _state(optimizer: Any) -> tuple[int, float, int]:
    """``(iterations, loss scale, counter)``."""
    return int(optimizer.iterations.numpy()), _scale(optimizer), _counter(optimizer)


def _skipped(before: tuple[int, float, int], after: tuple[int, float, int]) -> bool:
    return after[2] == 0 and after[1] != 2 * before[1]


class Steps:
    """Per recorded epoch: a skipped step, the scale and ``iterations`` after it, ``iterations`` before it."""

    def __init__(self, config: DecayConfig) -> None:
        self.config, self._keep = config, set(config.recorded().tolist())
        self.rows: list[tuple[bool, float, int, int]] = []
        self.skipped_steps = 0
        self._epoch, self._skipped, self._start = 0, False, 0

    def begin_epoch(self, epoch: int, state: tuple[int, float, int]) -> None:
        self._epoch, self._skipped, self._start = epoch, False, state[0]

    def step(self, skipped: bool) -> None:
        self._skipped, self.skipped_steps = self._skipped or skipped, self.skipped_steps + skipped

    def end_epoch(self, state: tuple[int, float, int]) -> None:
        if self._epoch in self._keep:
            self.rows.append((self._skipped, state[1], state[0], self._start))


class ScaleRecorder(tf.keras.callbacks.Callback):
    """:class:`Steps` of a ``model.fit`` run, read from its optimizer after each batch.

    A step that leaves the counter above 0 kept the scale, so the scale is read only when the counter is
    0 (a skip, or a growth): one read a step, not six (2,012 steps of fit: 2.8 s of CPU, not 5.2 s).
    """

    def __init__(self, config: DecayConfig) -> None:
        super().__init__()
        self.steps = Steps(config)
        self._scale = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        state = _state(self.model.optimizer)
        self._scale = state[1]
        self.steps.begin_epoch(epoch, state)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        optimizer = self.model.optimizer
        if _counter(optimizer) == 0:
            before, self._scale = self._scale, _scale(optimizer)
            self.steps.step(self._scale != 2 * before)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.steps.end_epoch(_state(self.model.optimizer))


def mixed_trace(config: DecayConfig, mode: str, record: Recorder, steps: Steps, lr_at: Callable[[int, int], int]) -> Trace:
    """The run's trace: its lr the reference at ``lr_at(epoch, iterations before the epoch)``, with
    :class:`~decaybench.loss_scaling.Scaling` when the policy scales the loss."""
    w, loss, _ = record.arrays()
    skipped, scale, iterations, start = (np.array(column) for column in zip(*steps.rows, strict=True))
    lr = config.schedule.lr(np.array([lr_at(int(e), int(s)) for e, s in zip(config.recorded(), start, strict=True)], dtype=np.int64))
    scaling = Scaling(skipped, scale, iterations, running_keras(), steps.skipped_steps) if scales_loss(config.policy) else None
    return Trace(config.recorded(), w, loss, lr, config, mode, scaling)


class _Held(tf.keras.layers.Layer):
    """Holds the float32 ``w`` under the global policy; its output is ``w`` in the compute dtype."""

    def __init__(self, config: DecayConfig) -> None:
        super().__init__()
        constant = tf.keras.initializers.Constant(initial_w(config))
        self.w = self.add_weight(name="w", shape=(config.size,), dtype="float32", initializer=constant)

    def call(self, inputs: Any) -> Any:
        return inputs + self.w  # inputs are zeros: exact


def run_keras_mixed(config: DecayConfig, progress: bool | None = None) -> Trace:
    """Mode ``keras`` under ``config.policy``: a custom loop, its loss in the compute dtype, scaled by hand."""
    record, steps = Recorder(config), Steps(config)
    with global_policy(config.policy):
        layer = _Held(config)
        optimizer = tf.keras.optimizers.SGD(learning_rate=ExponentialDecay(**dataclasses.asdict(config.schedule), dtype="float32"))
        if scales_loss(config.policy):
            optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
        legacy = hasattr(optimizer, "get_scaled_loss")  # tf_keras scales and unscales by hand; Keras 3's apply unscales
        zeros = tf.zeros((config.size,), tf.float32)
        for epoch in epochs(config, progress, "keras"):
            before = _state(optimizer)
            steps.begin_epoch(epoch, before)
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(layer(zeros) + 1))
                scaled = (optimizer.get_scaled_loss(loss) if legacy else optimizer.scale_loss(loss)) if scales_loss(config.policy) else loss
            grads = tape.gradient(scaled, [layer.w])
            grads = optimizer.get_unscaled_gradients(grads) if legacy and scales_loss(config.policy) else grads
            optimizer.apply_gradients(zip(grads, [layer.w], strict=True))
            after = _state(optimizer)
            steps.step(_skipped(before, after))
            if record.wants(epoch):
                record.add(layer.w.numpy(), np.asarray(loss.numpy(), np.float32), 0.0)
            steps.end_epoch(after)
    return mixed_trace(config, "keras", record, steps, lambda epoch, start: start)
