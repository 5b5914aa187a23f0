"""Collecting, inside one tox env: what its TensorFlow and Keras do, for one column of ``docs/compat.md``.

:func:`collect` is the only part of :mod:`tools.compat` that loads TensorFlow. It times the
first call of mode ``xla`` in fresh interpreters (one per sample: a process pays tracing and
XLA compilation once), checks whether XLA knows the no-FMA flag, and times a long ``xla`` run
with XLA:CPU's default runtime and with the runtime of TF 2.17 and before.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np

from decaybench.tables import cpu, load_average, version

if TYPE_CHECKING:
    from decaybench.verify_policy import PolicyReport
from decaybench.xla_flags import XLA_LEGACY_RUNTIME, XLA_NO_FMA, with_flag

__all__ = ["DISTRIBUTIONS", "LONG_EPOCHS", "MIXED_EPOCHS", "collect", "long_run", "mixed_precision", "runtimes"]

DISTRIBUTIONS = ("tensorflow", "keras", "tf-keras", "numpy", "ml-dtypes")

# A fresh interpreter per sample: the first call pays tracing and XLA compilation once per process.
_FIRST_CALL = """
    import json, time
    started = time.perf_counter()
    import tensorflow as tf
    tf.constant(0.0) + 1.0  # device start-up belongs to the import, not to the first call
    from decaybench.config import DecayConfig
    from decaybench.loops import run
    imported = time.perf_counter()
    run(DecayConfig(), "xla")
    first = time.perf_counter()
    run(DecayConfig(), "xla")
    print(json.dumps({"import_s": imported - started, "first_s": first - imported, "warm_s": time.perf_counter() - first}))
"""

_NO_FMA = """
    import numpy as np
    from decaybench.config import DecayConfig
    from decaybench.loops import run
    from decaybench.modes.emulation import emulate
    xla, emulated = run(DecayConfig(), "xla"), emulate(DecayConfig())
    print("bit-identical" if np.array_equal(xla.w, emulated.w) and np.array_equal(xla.loss, emulated.loss) else "differs")
"""


# The long workload (1e6 epochs) of mode xla: the median of 3 warm calls, and the trace's digest.
LONG_EPOCHS = 1_000_000
_LONG_RUN = f"""
    import json, statistics, time
    from decaybench.config import DecayConfig
    from decaybench.loops import run
    config = DecayConfig(epochs={LONG_EPOCHS})
    digest = run(config, "xla").digest()
    samples = []
    for _ in range(3):
        started = time.perf_counter()
        run(config, "xla")
        samples.append(time.perf_counter() - started)
    print(json.dumps({{"median_s": statistics.median(samples), "digest": digest}}))
"""


def _python(script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=environ, capture_output=True, text=True, timeout=600)


def _first_calls(runs: int) -> dict[str, Any]:
    samples = []
    for _ in range(runs):
        done = _python(_FIRST_CALL)
        if done.returncode != 0:
            return {"error": done.stderr.strip().splitlines()[-1:]}
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if not samples:
        return {}
    median = {key: statistics.median(sample[key] for sample in samples) for key in samples[0]}
    return {**median, "compile_s": statistics.median(s["first_s"] - s["warm_s"] for s in samples), "runs": runs}


def _no_fma_check() -> str:
    done = _python(_NO_FMA, {"XLA_FLAGS": with_flag(os.environ.get("XLA_FLAGS"), XLA_NO_FMA)})
    return done.stdout.strip().splitlines()[-1] if done.returncode == 0 else _failure(done)


def _failure(done: subprocess.CompletedProcess[str]) -> str:
    """Why a fresh interpreter failed: XLA refusing a flag, or its last line on stderr."""
    if "unknown flag" in done.stderr.lower():
        return "unknown flag"
    return "error: " + (done.stderr.strip().splitlines() or ["?"])[-1]


def long_run(flags: str | None) -> dict[str, Any]:
    """Mode xla over :data:`LONG_EPOCHS` epochs in a fresh interpreter under ``XLA_FLAGS=flags``: its median
    and digest, or ``{"error": why}``."""
    done = _python(_LONG_RUN, None if flags is None else {"XLA_FLAGS": flags})
    if done.returncode == 0:
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    return {"error": _failure(done)}


def runtimes() -> dict[str, Any]:
    """Mode xla over :data:`LONG_EPOCHS` epochs: XLA's default runtime, then :data:`XLA_LEGACY_RUNTIME`."""
    default = long_run(os.environ.get("XLA_FLAGS"))
    legacy = long_run(with_flag(os.environ.get("XLA_FLAGS"), XLA_LEGACY_RUNTIME))
    same = "digest" in default and legacy.get("digest") == default["digest"]
    return {"epochs": LONG_EPOCHS, "default_s": default.get("median_s"), "legacy_s": legacy.get("median_s"),
            "legacy": legacy.get("error") or ("bit-identical" if same else "differs")}  # fmt: skip


# mixed_float16 on the seed: 10 epochs hold the 3 skipped steps and the first updates after them.
MIXED_EPOCHS = 10


def mixed_precision(report: PolicyReport | None = None) -> dict[str, Any]:
    """``verify --policy mixed_float16`` on the seed in this env's Keras (or ``report``, its result): whether
    every mode is its emulation, the skipped steps and whether they advanced the schedule, and mode fit's first
    epochs (w, iterations, loss scale) as the issue's table shows them."""
    from decaybench.config import DecayConfig
    from decaybench.verify_policy import epoch_cell, verify_policy

    report = report if report is not None else verify_policy(DecayConfig(epochs=MIXED_EPOCHS, policy="mixed_float16"))
    fit, row = report.traces["fit"], next(row for row in report.rows if row.mode == "fit")
    assert fit.scaling is not None  # mixed_float16 scales the loss
    first = int(np.argmin(fit.scaling.skipped))  # the first epoch that updated w
    return {
        "keras": row.keras,
        "ok": report.ok,
        "skipped_steps": row.skipped_steps,
        "skipped_steps_advance_iterations": row.advances,
        "fit_epochs": [epoch_cell(fit, epoch) for epoch in range(min(5, len(fit)))],
        "first_update": {"epoch": first, "lr": f"{fit.lr[first]:f}"},
    }


def _dtype_name(dtype: Any) -> str:
    # Keras 3 variables give their dtype as a string, TensorFlow as a tf.DType.
    return str(getattr(dtype, "name", dtype))


def _schedule_facts(schedule: Any) -> dict[str, Any]:
    import tensorflow as tf

    config = schedule.get_config()
    serialized = tf.keras.optimizers.schedules.serialize(schedule)
    try:
        restored = tf.keras.optimizers.schedules.deserialize(serialized)
        round_trip = "ok" if restored.get_config() == config else "config changed"
    except Exception as error:  # a fact to report, not a failure of the collection
        round_trip = f"{type(error).__name__}: {error}"
    return {
        "class": f"{type(schedule).__module__}.{type(schedule).__qualname__}",
        # int64, as the optimizer passes its iterations counter.
        "lr_dtype": _dtype_name(schedule(tf.constant(0, tf.int64)).dtype),
        "get_config": list(config),
        "serialized": list(serialized) if isinstance(serialized, dict) else [type(serialized).__name__],
        "class_name": serialized.get("class_name") if isinstance(serialized, dict) else None,
        "registered_name": serialized.get("registered_name") if isinstance(serialized, dict) else None,
        "round_trip": round_trip,
    }


def _keras_version(keras: Any) -> str | None:
    # TF 2.15's tf.keras (keras.api._v2.keras) has no __version__; the package it wraps has.
    version = getattr(keras, "__version__", None)
    if version is None:
        version = getattr(sys.modules.get(keras.__name__.split(".", 1)[0]), "__version__", None)
    return version


def collect(env: str, compile_runs: int = 3) -> dict[str, Any]:
    """What this Python environment's TensorFlow and Keras do, for one column of the page.

    Args:
        env: the column's name (the tox env).
        compile_runs: fresh processes that time the first call of mode ``xla`` on the seed (the
            median is kept); 0 skips the timings, the no-FMA check and :func:`mixed_precision`'s runs.

    Returns:
        A JSON-ready dict: ``env``, ``versions``, ``cpu``, ``tf_keras`` (the module ``tf.keras``
        resolves to, its version, its SGD and the dtype of its step counter), ``schedules``
        (``decaybench`` and ``tf.keras``: lr dtype, ``get_config`` and ``serialize`` names, round
        trip), ``xla`` (``no_fma``, ``first_call``, ``runtimes``) and ``mixed_float16``
        (:func:`mixed_precision`).
    """
    if compile_runs < 0:
        raise ValueError(f"compile_runs must be >= 0, got {compile_runs!r}")
    import tensorflow as tf

    from decaybench.keras_schedule import ExponentialDecay

    keras = tf.keras
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    return {
        "env": env,
        "versions": {"python": platform.python_version(), **{name: version(name) for name in DISTRIBUTIONS}},
        "cpu": cpu(),
        # Timings mean little on a busy machine; the load says how busy it was.
        "load_average": load_average(),
        "tf_keras": {
            "version": _keras_version(keras),
            "module": keras.optimizers.schedules.ExponentialDecay.__module__,
            "sgd": f"{type(optimizer).__module__}.{type(optimizer).__name__}",
            "iterations_dtype": _dtype_name(optimizer.iterations.dtype),
            "TF_USE_LEGACY_KERAS": os.environ.get("TF_USE_LEGACY_KERAS"),
        },
        "schedules": {
            "decaybench": _schedule_facts(ExponentialDecay(0.2, 1, 0.99)),
            "tf.keras": _schedule_facts(keras.optimizers.schedules.ExponentialDecay(0.2, 1, 0.99)),
        },
        "xla": {
            "no_fma": _no_fma_check() if compile_runs else None,
            "first_call": _first_calls(compile_runs),
            "runtimes": runtimes() if compile_runs else {},
        },
        "mixed_float16": mixed_precision() if compile_runs else None,
    }
