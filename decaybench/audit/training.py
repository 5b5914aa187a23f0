"""The checks that train: ``resume``, ``initial-epoch``, ``logged-vs-applied``, and the model ``saved-model`` saves.

The model has one weight, a kernel ``[w, p]`` fed the input 1 and trained on the loss
``w + p``, so each SGD step subtracts exactly ``lr`` from both (the gradient is 1 and ``lr * 1``
is exact). ``p`` is set back to 0 before every step, so after the step ``-p`` *is* the lr the
step applied, bit for bit in the weight's dtype, whatever the schedule or the Keras; ``w`` keeps
the running sum, the weight a resumed run must reproduce.

* ``resume`` runs ``fit`` eagerly (``run_eagerly=True``): compiled, the schedule's Python body runs
  once, at tracing, and Python-side state would be frozen into the graph where no resume can
  show it; eagerly it runs every step, as in a custom loop. The run is split with
  :func:`decaybench.resume_check.check_resume` (a ``tf.train.Checkpoint`` of model and optimizer,
  restored into fresh ones built from a fresh schedule, as a restarted program builds them).
* ``initial-epoch``: ``fit(initial_epoch=k)`` on a fresh model applies the schedule at the
  optimizer's ``iterations``, 0, not at step ``k * steps_per_epoch`` (tensorflow#49208).
* ``logged-vs-applied``: what ``optimizer.learning_rate`` shows a callback before and after each
  step, against what the step applied. Keras 3 evaluates the schedule at ``iterations`` (after a
  step: the next step's lr); tf_keras returns the lr its last step computed (before a step: the
  previous step's). The steps start (``iterations`` set) just before the first probe step where
  the lr moves: where it does not, an lr one step off equals the right one, and a pass would say
  nothing (Keras's ``CosineDecay`` over 2**25 steps keeps 0.1 in float32 for its first 1,000).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from decaybench.audit.compare import first_difference, identical
from decaybench.audit.probes import boundaries
from decaybench.audit.report import Verdict
from decaybench.audit.target import Target
from decaybench.audit.values import Evaluated, evaluate, reason
from decaybench.resume_check import ResumeMismatch, check_resume

__all__ = ["RESUME_EPOCHS", "RESUME_SPLIT", "build_model", "check_initial_epoch", "check_logged", "check_resume_", "first_move", "fit"]

RESUME_EPOCHS, RESUME_SPLIT = 6, 3
LOGGED_STEPS = 5
INITIAL_EPOCH = 2


def _sum_loss(y_true: Any, y_pred: Any) -> Any:
    import tensorflow as tf

    return tf.reduce_sum(y_pred, axis=-1)


def build_model(schedule: Any, loss: Any = _sum_loss, run_eagerly: bool = False) -> Any:
    """The kernel ``[w, p]`` (zeros) behind ``Dense(2, use_bias=False)``, compiled with ``SGD(schedule)``."""
    import tensorflow as tf  # here: the audit's modules import without TensorFlow

    keras = tf.keras
    inputs = keras.Input(shape=(1,))
    model = keras.Model(inputs, keras.layers.Dense(2, use_bias=False, kernel_initializer="zeros")(inputs))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss=loss, run_eagerly=run_eagerly)
    return model


def _recorder(read_logged: bool, stop_after: int | None = None) -> Any:
    import tensorflow as tf

    class StepRecorder(tf.keras.callbacks.Callback):
        """Per step: the optimizer's step, the lr applied (``-p``), ``w`` after it, and the logged lr before and after."""

        def __init__(self) -> None:
            super().__init__()
            self.rows: dict[str, list[Any]] = {"step": [], "lr": [], "w": [], "before": [], "after": []}

        def _logged(self) -> Any:
            return np.asarray(self.model.optimizer.learning_rate) if read_logged else np.float32(0)

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            kernel = self.model.trainable_weights[0]
            kernel.assign(np.array([[kernel.numpy()[0, 0], 0]], dtype=kernel.numpy().dtype))
            self.rows["before"].append(self._logged())

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            kernel = self.model.trainable_weights[0].numpy()
            self.rows["step"].append(int(self.model.optimizer.iterations.numpy()) - 1)
            self.rows["lr"].append(kernel.dtype.type(0) - kernel[0, 1])  # 0 - p: a zero lr is +0.0, not -0.0
            self.rows["w"].append(kernel[0, 0])
            self.rows["after"].append(self._logged())
            if stop_after is not None and len(self.rows["lr"]) >= stop_after:
                self.model.stop_training = True

        def arrays(self) -> dict[str, np.ndarray]:
            return {name: np.array(values) for name, values in self.rows.items()}

    return StepRecorder()


def fit(model: Any, epochs: int, callbacks: list[Any], initial_epoch: int = 0, steps_per_epoch: int = 1) -> None:
    """``model.fit`` on one sample (input 1) repeated, one step per epoch by default."""
    import tensorflow as tf

    batches = tf.data.Dataset.from_tensors((tf.ones((1, 1)), tf.zeros((1, 2)))).repeat()
    model.fit(
        batches, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch, shuffle=False, verbose=0, callbacks=callbacks
    )


def _train(target: Target, results: list[dict[str, np.ndarray]]) -> Any:
    import tensorflow as tf

    def train(epochs: int, directory: Path, resume: bool) -> dict[str, np.ndarray]:
        model = build_model(target.fresh(), run_eagerly=True)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
        recorder, start = _recorder(read_logged=False), 0
        if resume:
            model.optimizer.build(model.trainable_variables)
            checkpoint.restore(tf.train.latest_checkpoint(str(directory))).assert_existing_objects_matched()
            with np.load(directory / "rows.npz") as saved:
                recorder.rows = {name: list(saved[name]) for name in saved.files}
            start = int(model.optimizer.iterations.numpy())
        fit(model, epochs, [recorder], initial_epoch=start)
        checkpoint.save(str(directory / "ckpt"))
        np.savez(directory / "rows.npz", **recorder.arrays())
        results.append({name: recorder.arrays()[name] for name in ("step", "lr", "w")})
        return results[-1]

    return train


def check_resume_(target: Target) -> Verdict:
    """``resume``: ``fit`` 6 epochs against ``fit`` 3, checkpoint, restore into fresh objects, ``fit`` to 6."""
    results: list[dict[str, np.ndarray]] = []
    with tempfile.TemporaryDirectory(prefix="decaybench-audit-") as directory:
        try:
            check_resume(_train(target, results), RESUME_EPOCHS, RESUME_SPLIT, Path(directory))
        except ResumeMismatch as mismatch:
            whole, resumed = results[0], results[-1]
            common = min(len(whole["step"]), len(resumed["step"]))
            for name in ("step", "lr", "w"):
                difference = first_difference(
                    whole["step"][:common], resumed[name][:common], whole[name][:common], "resumed", "uninterrupted"
                )
                if difference is not None:
                    return Verdict("resume", "fail", f"resumed after {RESUME_SPLIT} epochs: {name} differs at {difference}")
            return Verdict("resume", "fail", f"resumed after {RESUME_SPLIT} epochs: {mismatch}")
        except Exception as error:  # the schedule in a Keras model, a checkpoint of it: anything the user's code raises
            return Verdict("resume", "fail", f"training or restoring raised {reason(error)}")
    return Verdict("resume", "pass", f"lr and w bit for bit over {RESUME_EPOCHS} steps, resumed after {RESUME_SPLIT} (fit run eagerly)")


def check_initial_epoch(target: Target) -> Verdict:
    """``initial-epoch``: the lr ``fit(initial_epoch=k)`` applies first, against the schedule at step ``k * steps_per_epoch``."""
    found = boundaries(target.schedule)
    per_epoch = found[0] if found else 100
    expected_step = INITIAL_EPOCH * per_epoch
    try:
        recorder = _recorder(read_logged=False, stop_after=1)
        fit(build_model(target.fresh()), INITIAL_EPOCH + 1, [recorder], initial_epoch=INITIAL_EPOCH, steps_per_epoch=per_epoch)
        rows = recorder.arrays()
        expected = evaluate(target.fresh(), np.array([0, expected_step]))
    except Exception as error:  # the user's schedule inside fit
        return Verdict("initial-epoch", "fail", f"fit(initial_epoch={INITIAL_EPOCH}) raised {reason(error)}")
    if expected.refused:
        return Verdict("initial-epoch", "skip", f"the schedule refuses step {expected_step}")
    got, want = rows["lr"][0], np.asarray(expected.values[1], dtype=rows["lr"].dtype)
    where = f"fit(initial_epoch={INITIAL_EPOCH}, steps_per_epoch={per_epoch}) applies the schedule at step {int(rows['step'][0])}"
    if identical(got, want):
        return Verdict("initial-epoch", "pass", f"{where}; its lr equals the lr at step {expected_step}")
    difference = first_difference(np.array([expected_step]), np.array([got]), np.array([want]), "applied", "expected")
    return Verdict("initial-epoch", "warn", f"{where}, not {expected_step} (restore the optimizer): {difference}")


def _hook(name: str, logged: np.ndarray, applied: np.ndarray, steps: np.ndarray, shift: int) -> str:
    logged = logged.astype(applied.dtype)
    difference = first_difference(steps, logged, applied, "logged", "applied")
    if difference is None:
        return f"{name}: equal"
    # logged[i] == applied[i + shift] wherever both exist: the next (+1) or the previous (-1) step's lr.
    index = np.arange(max(0, -shift), len(applied) - max(0, shift))
    shifted = index.size > 0 and bool(identical(logged[index], applied[index + shift]).all())
    whose = " (the next step's lr)" if shift > 0 else " (the previous step's lr)"
    return f"{name}: {difference}{whose if shifted else ''}"


def first_move(original: Evaluated) -> int | None:
    """The first probe step ``s`` whose next step ``s + 1`` is probed and has another lr; ``None`` when there is none.

    >>> first_move(Evaluated(np.array([0, 1, 2, 7, 8]), np.float32([1, 1, 1, 1, 0.5])))
    7
    """
    steps, values = original.steps, original.values
    moves = (steps[1:] == steps[:-1] + 1) & ~identical(values[1:], values[:-1])
    return int(steps[np.argmax(moves)]) if moves.any() else None


def check_logged(target: Target, original: Evaluated) -> Verdict:
    """``logged-vs-applied``: ``optimizer.learning_rate`` read in ``on_train_batch_begin`` and ``_end`` against the lr applied.

    The steps run from just before the first step where the lr moves (an lr one step off shows only there).
    """
    moves = first_move(original)
    if moves is None:
        return Verdict("logged-vs-applied", "skip", "the lr moves between no two neighbouring probe steps: an lr one step off cannot show")
    start = max(moves - 1, 0)
    try:
        recorder = _recorder(read_logged=True)
        model = build_model(target.fresh())
        model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(start)
        fit(model, LOGGED_STEPS, [recorder])
    except Exception as error:  # the user's schedule inside fit
        return Verdict("logged-vs-applied", "fail", f"fit raised {reason(error)}")
    rows = recorder.arrays()
    begin = _hook("on_train_batch_begin", rows["before"], rows["lr"], rows["step"], -1)
    end = _hook("on_train_batch_end", rows["after"], rows["lr"], rows["step"], 1)
    verdict = "pass" if begin.endswith("equal") and end.endswith("equal") else "warn"
    where = f"over {LOGGED_STEPS} compiled steps from step {start}"
    return Verdict("logged-vs-applied", verdict, f"optimizer.learning_rate {where}: {begin}; {end}")
