"""The fresh-process checks, ``saved-model`` and ``mixed-precision``, in one child interpreter.

This process trains the model of :mod:`decaybench.audit.training` ``SAVED_STEPS`` steps with
``SGD(schedule)``, saves it as ``.keras`` in a temporary directory, and starts one child,
``python -m decaybench.audit.worker``, with a bounded wait. The child imports the schedule's
module and nothing else of the user's, loads the model (:mod:`decaybench.audit.worker`), and
reports its optimizer's ``iterations`` and its schedule's lr at the next ``SAVED_STEPS`` steps.
Then, under ``mixed_float16`` (a global policy, kept out of this process), it wraps
``SGD(schedule)`` in Keras's ``LossScaleOptimizer`` and applies a finite, a non-finite and a
finite gradient: whether ``iterations``, the step the schedule reads, moves on the skipped step.
Keras 3 holds it; tf_keras counts the skipped step (the mixed-precision issue's finding).

The child writes one JSON line per check on stdout; a child that crashes or outlives the wait
fails the checks it did not report, with its last stderr line, and the other checks go on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from decaybench.audit.compare import first_difference
from decaybench.audit.deadline import CHECK_WAIT, CheckTimeout, deadline
from decaybench.audit.report import Verdict
from decaybench.audit.target import Target
from decaybench.audit.training import build_model, fit
from decaybench.audit.values import evaluate, reason
from decaybench.json_floats import decode_array, encode_array

__all__ = ["SAVED_STEPS", "WAIT", "FreshChecks", "from_wire", "to_wire"]

SAVED_STEPS = 3
WAIT = 180.0  # seconds: two TensorFlow start-ups on a loaded 2-core machine take well under a minute


def to_wire(values: np.ndarray) -> dict[str, Any]:
    """Values as exact JSON: their dtype and each one widened to float64 (:mod:`decaybench.json_floats`).

    >>> from_wire(to_wire(np.float32([0.1, -0.0, np.inf]))).tolist() == np.float32([0.1, -0.0, np.inf]).tolist()
    True
    """
    values = np.asarray(values)
    return {"dtype": str(values.dtype), "values": encode_array(values.astype(np.float64))}


def from_wire(data: dict[str, Any]) -> np.ndarray:
    """The values :func:`to_wire` wrote, bit for bit."""
    return decode_array(data["values"]).astype(data["dtype"])


def _save(target: Target, directory: Path) -> Path:
    import tensorflow as tf

    model = build_model(target.fresh(), loss="mean_squared_error")  # a loss Keras loads by name
    fit(model, SAVED_STEPS, [])
    path = directory / "audit.keras"
    model.save(path)
    tf.keras.backend.clear_session()
    return path


class _Child:
    """The child interpreter, started at once and waited for at the end: its start-up overlaps this process's checks."""

    def __init__(self, job: dict[str, Any]) -> None:
        environ = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))  # the user's modules import as here
        environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        command = [sys.executable, "-m", "decaybench.audit.worker", json.dumps(job)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ, cwd=os.getcwd())

    def answers(self, wait: float) -> tuple[dict[str, dict[str, Any]], str]:
        """The child's JSON lines by check, and what to say for a check it did not report."""
        try:
            stdout, stderr = self.process.communicate(timeout=wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            return {}, f"the fresh interpreter did not finish within {wait:g} s"
        answers = {}
        for line in stdout.splitlines():
            if line.startswith("{"):
                answer = json.loads(line)
                answers[answer["check"]] = answer
        last = (stderr.strip().splitlines() or [""])[-1][:300]
        return answers, f"the fresh interpreter exited with status {self.process.returncode}: {last}"


def _saved_model(target: Target, answer: dict[str, Any] | None, problem: str) -> Verdict:
    if answer is None:
        return Verdict("saved-model", "fail", problem)
    if "error" in answer:
        return Verdict("saved-model", "fail", f"loading in a fresh interpreter (importing {target.module}) raised {answer['error']}")
    if answer["iterations"] != SAVED_STEPS:
        return Verdict("saved-model", "fail", f"iterations is {answer['iterations']} after loading, {SAVED_STEPS} when saved")
    steps = np.arange(SAVED_STEPS, 2 * SAVED_STEPS)
    want = evaluate(target.fresh(), steps)
    loaded = from_wire(answer["lr"])
    difference = first_difference(steps, loaded, want.values, "loaded", "trained") if not want.refused else "refused"
    if difference is not None:
        return Verdict("saved-model", "fail", f"the loaded schedule ({answer['class']}) differs at {difference}")
    return Verdict(
        "saved-model",
        "pass",
        f"loaded with only {target.module} imported: iterations {SAVED_STEPS}, lr bit for bit at steps {steps[0]}..{steps[-1]}",
    )


def _mixed_precision(answer: dict[str, Any] | None, problem: str) -> Verdict:
    if answer is None:
        return Verdict("mixed-precision", "fail", problem)
    if "error" in answer:
        return Verdict("mixed-precision", "fail", f"LossScaleOptimizer(SGD(schedule)) under mixed_float16 raised {answer['error']}")
    finite, skipped, after = answer["iterations"]
    counts = f"iterations {finite} → {skipped} → {after} (finite, non-finite, finite gradient)"
    if skipped == finite and after == finite + 1:
        return Verdict("mixed-precision", "pass", f"the skipped step holds the schedule: {counts}")
    if skipped == finite + 1:
        return Verdict("mixed-precision", "warn", f"the skipped step advances the schedule: {counts}; lr({finite}) is never applied")
    return Verdict("mixed-precision", "fail", f"unexpected steps: {counts}")


class FreshChecks:
    """``saved-model`` and ``mixed-precision``: the constructor saves the model and starts the child; :meth:`verdicts` waits."""

    def __init__(self, target: Target, target_name: str | None) -> None:
        self.target = target
        self._directory = tempfile.TemporaryDirectory(prefix="decaybench-audit-")
        try:
            with deadline(CHECK_WAIT):
                path: Path | None = _save(target, Path(self._directory.name))
            self._saving = ""
        except CheckTimeout as timeout:
            path, self._saving = None, f"training and saving the model {timeout}"
        except Exception as error:  # the user's schedule in a Keras model, or Keras's saver
            path, self._saving = None, f"training and saving the model raised {reason(error)}"
        self._saved = path is not None
        job = {"model": str(path) if path else None, "module": target.module, "target": target_name, "steps": SAVED_STEPS}
        self._child = _Child(job)

    def verdicts(self, wait: float = WAIT) -> tuple[Verdict, Verdict]:
        """Wait at most ``wait`` seconds for the child; its two verdicts. The temporary directory is removed."""
        try:
            answers, problem = self._child.answers(wait)
        finally:
            self._directory.cleanup()
        saved = (
            _saved_model(self.target, answers.get("saved-model"), problem) if self._saved else Verdict("saved-model", "fail", self._saving)
        )
        return saved, _mixed_precision(answers.get("mixed-precision"), problem)
