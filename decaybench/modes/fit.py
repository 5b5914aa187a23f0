"""Modes ``fit`` and ``callback``: the seed trained the way Keras users train, with ``model.fit``.

Both build the same one-weight model: a layer holding ``w`` (``size`` elements, ``w``'s dtype)
whose output is ``w`` itself, compiled with Keras's default settings and the loss
``sum((y_pred + 1)**2)``, and fit on a dataset that repeats one batch of one all-zero sample,
``steps_per_epoch`` batches per epoch. Keras averages the loss over the batch of one (exact) and SGD applies
``w - lr * g`` with ``g = 2 (w + 1)``: the seed's step.

* ``fit``: ``SGD(learning_rate=decaybench.ExponentialDecay(...))``. The optimizer evaluates the
  schedule at its step counter, so with ``S`` steps per epoch the step ``k`` of the run uses
  ``lr(k)``.
* ``callback``: a constant-rate SGD whose rate ``keras.callbacks.LearningRateScheduler`` sets at
  every epoch to the seed's Python float ``lr(epoch)``, as the course note computes it.

What ``fit`` compiles decides the contract, and neither Keras compiles it with XLA here, so both
modes are ``exact``, bit for bit the emulation of record (measured, ``tests/test_keras_paths.py``):

* tf_keras (Keras 2): ``compile``'s default ``jit_compile=None`` makes the train step a plain
  ``tf.function``: TensorFlow's kernels, two roundings per update.
* Keras 3: ``jit_compile="auto"`` resolves to ``False`` on the TensorFlow backend when there is
  no GPU ("Disable XLA on CPU-only machines", ``Trainer._resolve_auto_jit_compile``). With a
  GPU it resolves to XLA, whose update is fused like mode ``xla``'s, and ``verify`` shows the
  miss of the ``exact`` contract.

A callback records, per epoch, ``w`` after the epoch's last step, the loss ``fit`` reports for
the epoch's first step (the loss before that update), and the lr the optimizer applied at that
step (in ``w``'s dtype, :attr:`EpochRecorder.applied`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from decaybench.checkpoint import CheckpointOptions
from decaybench.config import DecayConfig
from decaybench.keras_schedule import ExponentialDecay
from decaybench.modes._scaffold.fit_resume import resume_callbacks
from decaybench.modes._scaffold.recording import Recorder, initial_w
from decaybench.modes.mixed_keras import ScaleRecorder, global_policy, mixed_trace
from decaybench.trace import Trace

__all__ = ["EpochRecorder", "applied_lr", "fit_model", "run_callback", "run_fit"]


class EpochRecorder(tf.keras.callbacks.Callback):
    """Keeps the recorded epochs' w (after the epoch), loss (before its first step) and applied lr."""

    def __init__(self, config: DecayConfig, applied_lr: Callable[[Any], float]) -> None:
        super().__init__()
        self.record = Recorder(config)
        self.applied: list[float] = []
        self._applied_lr = applied_lr
        self._epoch = 0
        self._lr = 0.0
        self._loss: Any = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if batch == 0 and self.record.wants(self._epoch):
            self._lr = self._applied_lr(self.model.optimizer)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # The epoch's running mean after one step is that step's loss (x / 1 is exact).
        if batch == 0 and self.record.wants(self._epoch):
            self._loss = (logs or {})["loss"]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.record.wants(epoch):
            weight = self.model.trainable_weights[0]
            dtype = self.record.config.dtype
            self.record.add(np.asarray(weight.numpy(), dtype=dtype), np.asarray(self._loss, dtype=dtype), self._lr)
            self.applied.append(self._lr)


class _Weight(tf.keras.layers.Layer):
    """Holds ``w``; its output is ``w`` for every sample (``0 + w`` is exact)."""

    def __init__(self, config: DecayConfig) -> None:
        super().__init__(dtype=None if config.policy else config.dtype)  # None: the global policy
        self.w = self.add_weight(
            name="w", shape=(config.size,), dtype=config.dtype, initializer=tf.keras.initializers.Constant(initial_w(config))
        )

    def call(self, inputs: Any) -> Any:
        return tf.zeros_like(inputs) + self.w


def _seed_loss(y_true: Any, y_pred: Any) -> Any:
    return tf.reduce_sum(tf.square(y_pred + 1), axis=-1)


@contextlib.contextmanager
def _floatx(dtype: str) -> Iterator[None]:
    # Keras keeps the optimizer's rate and the loss in floatx: a float64 run needs floatx float64
    # or its lr and loss would be rounded to float32 first.
    # tf_keras has no bfloat16 floatx: float32 then, which holds a bfloat16 loss exactly, and whose
    # lr is cast to bfloat16 at the update as TensorFlow rounds a float64 (through float32).
    saved = tf.keras.backend.floatx()
    try:
        tf.keras.backend.set_floatx(dtype)
    except ValueError:
        if dtype != "bfloat16":
            raise
        tf.keras.backend.set_floatx("float32")
    try:
        yield
    finally:
        tf.keras.backend.set_floatx(saved)


def fit_model(config: DecayConfig, learning_rate: Any, callbacks: list[Any]) -> Any:
    """Build the one-weight model, compile it with ``SGD(learning_rate)``, fit ``config.epochs``; return the model."""
    size, steps = config.size, config.steps_per_epoch
    with _floatx(config.dtype), global_policy(config.policy):
        inputs = tf.keras.Input(shape=(size,), dtype=config.dtype)
        model = tf.keras.Model(inputs, _Weight(config)(inputs))
        model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=learning_rate), loss=_seed_loss)
        # One batch of one all-zero sample, repeated: with steps_per_epoch, fit keeps one iterator for
        # the whole run (arrays would make a new tf.data iterator every epoch, 90% of a run's time).
        sample = tf.zeros((1, size), config.dtype)
        batches = tf.data.Dataset.from_tensors((sample, sample)).repeat()
        model.fit(batches, epochs=config.epochs, steps_per_epoch=steps, shuffle=False, verbose=0, callbacks=callbacks)
    return model


def applied_lr(optimizer: Any) -> float:
    """The rate ``optimizer``'s next step applies: its schedule at its step counter, or its constant rate.

    Asked of the schedule itself: tf_keras's ``learning_rate`` property returns the rate of the
    *previous* step when the rate is a schedule.
    """
    schedule = getattr(optimizer, "_learning_rate", None)
    if isinstance(schedule, tf.keras.optimizers.schedules.LearningRateSchedule):
        return float(schedule(optimizer.iterations))
    return float(tf.keras.backend.get_value(optimizer.learning_rate))


def _trace(recorder: EpochRecorder, config: DecayConfig, mode: str) -> Trace:
    w, loss, _ = recorder.record.arrays()
    # The trace keeps the float64 reference of the lr the epoch's first step applied: the
    # schedule at step e * S for fit, at epoch e for the callback.
    steps = config.recorded() * (config.steps_per_epoch if mode == "fit" else 1)
    lr = config.schedule.lr(steps)
    return Trace(epoch=config.recorded(), w=w, loss=loss, lr=lr, config=config, mode=mode)


def _resuming(recorder: EpochRecorder, config: DecayConfig, mode: str, checkpoint: CheckpointOptions | None) -> list[Any]:
    # Checkpoints through Keras's own BackupAndRestore (decaybench.modes._scaffold.fit_resume).
    return resume_callbacks(recorder, config, mode, checkpoint) if checkpoint is not None else []


def _scales(config: DecayConfig) -> list[ScaleRecorder]:
    # Under a policy only: reading the optimizer around every batch costs a plain run's speed.
    return [ScaleRecorder(config)] if config.policy is not None else []


def run_fit(config: DecayConfig, progress: bool | None = None, *, checkpoint: CheckpointOptions | None = None) -> Trace:
    """``model.fit`` with ``SGD(learning_rate=decaybench.ExponentialDecay(..., dtype=w's dtype))``."""
    schedule = ExponentialDecay(**dataclasses.asdict(config.schedule), dtype=config.dtype)
    recorder, scales = EpochRecorder(config, applied_lr), _scales(config)
    fit_model(config, schedule, [recorder, *scales, *_resuming(recorder, config, "fit", checkpoint)])
    if scales:  # the schedule at the optimizer's iterations, which skipped steps may hold back
        return mixed_trace(config, "fit", recorder.record, scales[0].steps, lambda epoch, start: start)
    return _trace(recorder, config, "fit")


def run_callback(config: DecayConfig, progress: bool | None = None, *, checkpoint: CheckpointOptions | None = None) -> Trace:
    """``model.fit`` with a constant-rate SGD set per epoch by ``LearningRateScheduler``."""

    def rate(epoch: int, lr: float) -> float:
        return config.schedule.lr(epoch)  # the seed's Python float, per epoch

    scheduler = tf.keras.callbacks.LearningRateScheduler(rate)
    recorder, scales = EpochRecorder(config, applied_lr), _scales(config)
    fit_model(config, config.initial_learning_rate, [scheduler, recorder, *scales, *_resuming(recorder, config, "callback", checkpoint)])
    if scales:
        return mixed_trace(config, "callback", recorder.record, scales[0].steps, lambda epoch, start: epoch)
    return _trace(recorder, config, "callback")
