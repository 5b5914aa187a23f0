"""The child interpreter of :mod:`decaybench.audit.fresh`: ``python -m decaybench.audit.worker JOB``.

``JOB`` is JSON: ``model`` (a ``.keras`` path, or null), ``module`` (the schedule's module),
``target`` (as the user named it, or null for a schedule object: the saved model's is used) and
``steps``. It prints one JSON line per check, each with the check's name and either its findings
or ``error``. It writes no file.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from typing import Any

__all__ = ["main", "mixed_precision", "saved_model"]


def saved_model(job: dict[str, Any]) -> dict[str, Any]:
    """Import the schedule's module, load the model; its ``iterations`` and the lr at the next ``steps`` steps."""
    importlib.import_module(job["module"])
    import numpy as np
    import tensorflow as tf

    from decaybench.audit.fresh import to_wire
    from decaybench.audit.values import evaluate

    model = tf.keras.models.load_model(job["model"])
    iterations = int(model.optimizer.iterations.numpy())
    schedule = model.optimizer._learning_rate
    lrs = evaluate(schedule, np.arange(iterations, iterations + job["steps"]))
    if lrs.refused:
        raise ValueError(f"the loaded schedule refuses step {min(lrs.refused)}: {lrs.refused[min(lrs.refused)]}")
    return {"iterations": iterations, "class": f"{type(schedule).__module__}.{type(schedule).__name__}", "lr": to_wire(lrs.values)}


def mixed_precision(job: dict[str, Any]) -> dict[str, Any]:
    """``LossScaleOptimizer(SGD(schedule))`` under ``mixed_float16``: ``iterations`` after a finite, an inf, a finite gradient."""
    import tensorflow as tf

    from decaybench.audit.target import load_target

    keras = tf.keras
    if job["target"] is not None:
        schedule = load_target(job["target"]).fresh()
    else:  # a schedule object given to the API: the one the saved model holds
        schedule = keras.models.load_model(job["model"]).optimizer._learning_rate
    keras.mixed_precision.set_global_policy("mixed_float16")
    inner = keras.optimizers.SGD(learning_rate=schedule)
    optimizer = keras.mixed_precision.LossScaleOptimizer(inner)
    w = tf.Variable([0.0])
    counts = []
    for gradient in (1.0, math.inf, 1.0):
        optimizer.apply_gradients([(tf.constant([gradient]), w)])
        counts.append(int(inner.iterations.numpy()))
    return {"iterations": counts}


def main(argv: list[str]) -> int:
    """Run each check of the job; one JSON line each, whatever the other did."""
    from decaybench.audit.values import reason

    job = json.loads(argv[0])
    checks = {"saved-model": saved_model, "mixed-precision": mixed_precision}
    for name, check in checks.items():
        if name == "saved-model" and job["model"] is None:
            continue
        try:
            answer = {"check": name, **check(job)}
        except Exception as error:  # the user's schedule and module: any error is the check's finding
            answer = {"check": name, "error": reason(error)}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
