"""The mixed-precision runs of the peers: the seed with loss scaling and forced non-finite gradients.

Each run trains the seed (``w0 = 5``, ``loss = (w + 1)**2``, the schedule ``0.2 * 0.99**step``)
for ``len(gradients)`` steps, forcing the gradient to ``inf`` or ``nan`` where
:data:`~decaybench.peers.mixed.FORCED` says so, the way each library's users write a mixed step:

==============  =======================================================================================
run             one step
==============  =======================================================================================
Keras 3         ``LossScaleOptimizer(SGD(ExponentialDecay))``: ``scale_loss``, the tape, ``apply``
                (which unscales, checks and skips)
tf_keras        the same with ``get_scaled_loss`` and ``get_unscaled_gradients`` before
                ``apply_gradients``; ``TF_USE_LEGACY_KERAS=1``, so in a process of its own
torch           ``torch.autocast("cpu", dtype)`` forward, ``GradScaler("cpu")``: ``scale(loss).backward()``,
                ``scaler.step``, ``scaler.update``, then ``ExponentialLR.step()`` once per step
optax           ``optax.sgd(exponential_decay)`` on bfloat16 params, alone or inside
                ``optax.apply_if_finite`` (optax's skip, without loss scaling)
==============  =======================================================================================

A run records, before each step, the learning rate the step's update will use (the value the
library's own optimizer reads: the schedule at ``iterations`` or ``count``, or the param group's
``lr``) and, after it, ``w``, the step counter and whether ``w`` stayed put (the step was
skipped). Nothing here is inferred: :mod:`decaybench.peers.mixed` turns the records into rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from decaybench.peers import PeerUnavailable

__all__ = ["SkipRun", "keras_run", "optax_run", "tf_keras_run", "torch_run"]


@dataclass(frozen=True)
class SkipRun:
    """What one run measured, step by step.

    Attributes:
        version: the library and its version.
        compute_dtype: the dtype the forward pass computed the loss in.
        counter: the name of the optimizer's step counter (``iterations``, ``last_epoch``, ``count``).
        lr: the learning rate each step's update uses, read before the step (float64 of it).
        counters: the counter after each step.
        w: ``w`` after each step (float64 of it).
        skipped: whether each step left ``w`` bit for bit unchanged.
        schedule: the library's own schedule at steps ``0 .. len(lr) - 1``, to name the step an lr is of.
        scales: the loss scale each step used (empty without loss scaling).
    """

    version: str
    compute_dtype: str
    counter: str
    lr: tuple[float, ...]
    counters: tuple[int, ...]
    w: tuple[float, ...]
    skipped: tuple[bool, ...]
    schedule: tuple[float, ...]
    scales: tuple[float, ...] = ()


def _forced(gradient: Any, kind: str) -> Any:
    # inf * g and nan * g keep the gradient's dtype and shape: the overflow a too-large loss scale gives.
    return gradient if kind == "finite" else gradient * float(kind)


def keras_run(keras: Any, gradients: tuple[str, ...], version: str) -> SkipRun:
    """Keras 3 (``keras``) or tf_keras (``tf.keras`` under ``TF_USE_LEGACY_KERAS=1``): float32 ``w``, loss scaled."""
    import tensorflow as tf

    schedule = keras.optimizers.schedules.ExponentialDecay(0.2, 1, 0.99)
    optimizer = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(schedule))
    w = tf.Variable(5.0)
    keras3 = hasattr(optimizer, "scale_loss")
    if keras3:
        optimizer.build([w])  # creates its loss scale, read before the first step
    rows = []
    for kind in gradients:
        scale = float((optimizer.dynamic_scale if keras3 else optimizer.loss_scale).numpy())
        lr = float(schedule(optimizer.iterations))  # what SGD applies: the schedule at iterations, before the increment
        with tf.GradientTape() as tape:
            loss = tf.square(w + 1)
            scaled = optimizer.scale_loss(loss) if keras3 else optimizer.get_scaled_loss(loss)
        gradient = _forced(tape.gradient(scaled, w), kind)
        before = w.numpy()
        if keras3:
            optimizer.apply([gradient], [w])  # unscales, checks, skips
        else:
            optimizer.apply_gradients([(optimizer.get_unscaled_gradients([gradient])[0], w)])
        rows.append((lr, int(optimizer.iterations.numpy()), float(w.numpy()), bool(w.numpy() == before), scale))
    values = tuple(float(schedule(tf.constant(step, tf.int64))) for step in range(len(gradients)))
    return _run(version, "float32", "iterations", rows, values)


def _run(version: str, compute: str, counter: str, rows: list[tuple[Any, ...]], schedule: tuple[float, ...]) -> SkipRun:
    """``rows``: ``(lr, counter, w, skipped[, scale])`` of each step."""
    lr, counters, w, skipped, *scales = (tuple(column) for column in zip(*rows, strict=True))
    return SkipRun(version, compute, counter, lr, counters, w, skipped, schedule, scales[0] if scales else ())


_TF_KERAS = "from decaybench.peers.mixed_runs import _tf_keras_main; _tf_keras_main()"
_NOT_TF_KERAS = 3  # the new process's exit status when TF_USE_LEGACY_KERAS=1 does not give tf_keras (TF < 2.16)


def tf_keras_run(gradients: tuple[str, ...]) -> SkipRun:
    """:func:`keras_run` for tf_keras, in a new process with ``TF_USE_LEGACY_KERAS=1``, as its users select it."""
    # This decaybench first on the path, so that the new process runs the same code.
    path = os.pathsep.join([str(Path(__file__).resolve().parents[2]), *filter(None, [os.environ.get("PYTHONPATH")])])
    environ = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-c", _TF_KERAS], input=json.dumps(gradients), env=environ, capture_output=True, text=True, timeout=600
    )
    if done.returncode == _NOT_TF_KERAS:
        raise PeerUnavailable("keras2", done.stderr.strip().splitlines()[-1])
    if done.returncode != 0:
        raise RuntimeError(f"the tf_keras run failed: {done.stderr.strip().splitlines()[-1:]}")
    record: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    fields: dict[str, Any] = {name: tuple(value) if isinstance(value, list) else value for name, value in record.items()}
    return SkipRun(**fields)


def _tf_keras_main() -> None:
    import tensorflow as tf
    import tf_keras

    if not tf.keras.__name__.startswith("tf_keras"):
        print(f"TF_USE_LEGACY_KERAS=1 does not select tf_keras under TensorFlow {tf.__version__}", file=sys.stderr)
        raise SystemExit(_NOT_TF_KERAS)
    run = keras_run(tf.keras, tuple(json.loads(sys.stdin.read())), f"tf_keras {tf_keras.__version__}")
    print(json.dumps(asdict(run)))


def torch_run(gradients: tuple[str, ...], dtype: str) -> SkipRun:
    """torch: float32 ``w``, the forward under ``torch.autocast("cpu", dtype)``, ``GradScaler("cpu")``, ``ExponentialLR``."""
    import torch

    from decaybench.peers.torch import running_product  # torch's own arithmetic, checked against it in the tests

    w, x = torch.full((1, 1), 5.0, requires_grad=True), torch.ones(1, 1)
    optimizer = torch.optim.SGD([w], lr=0.2)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.99)
    scaler = torch.amp.GradScaler("cpu")
    rows, compute = [], ""
    for kind in gradients:
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=getattr(torch, dtype)):
            loss = torch.square(torch.mm(x, w) + 1).sum()  # mm: an op autocast runs in its dtype
        compute = str(loss.dtype).removeprefix("torch.")
        scaler.scale(loss).backward()
        assert w.grad is not None
        w.grad = _forced(w.grad, kind)
        lr, before, scale = float(optimizer.param_groups[0]["lr"]), w.detach().clone(), float(scaler.get_scale())
        with warnings.catch_warnings():  # "lr_scheduler.step() before optimizer.step()": the skip this run shows
            warnings.simplefilter("ignore", UserWarning)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
        rows.append((lr, int(scheduler.last_epoch), float(w.detach()[0, 0]), bool(torch.equal(w.detach(), before)), scale))
    values = tuple(running_product(np.arange(len(gradients)), 0.2, 0.99).tolist())
    return _run(f"torch {torch.__version__}", compute, "last_epoch", rows, values)


def optax_run(gradients: tuple[str, ...], skip: bool) -> SkipRun:
    """optax: bfloat16 ``w``, ``optax.sgd(exponential_decay)``, inside ``apply_if_finite`` when ``skip``."""
    import jax
    import jax.numpy as jnp
    import optax

    schedule = optax.exponential_decay(0.2, 1, 0.99)
    optimizer = optax.sgd(schedule)
    optimizer = optax.apply_if_finite(optimizer, max_consecutive_errors=len(gradients)) if skip else optimizer
    w = jnp.full((1,), 5.0, dtype=jnp.bfloat16)
    state = optimizer.init(w)
    loss = jax.value_and_grad(lambda w: jnp.sum(jnp.square(w + 1)))
    rows, compute = [], ""
    for kind in gradients:
        lr = float(schedule(optax.tree_utils.tree_get(state, "count")))  # what sgd scales the update by
        value, gradient = loss(w)
        compute = str(value.dtype)
        updates, state = optimizer.update(_forced(gradient, kind), state, w)
        before, w = w, optax.apply_updates(w, updates)
        rows.append((lr, int(optax.tree_utils.tree_get(state, "count")), float(w[0]), bool(jnp.array_equal(w, before))))
    values = tuple(float(schedule(step)) for step in range(len(gradients)))
    return _run(f"optax {optax.__version__} (jax {jax.__version__})", compute, "count", rows, values)
