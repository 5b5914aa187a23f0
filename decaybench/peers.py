r"""Cross-library conformance: our schedule against Keras 2, Keras 3, optax and PyTorch.

Each peer evaluates *its own* library's exponential decay and trains the seed with *its own*
optimizer; :func:`conformance` compares the runs with the golden trace and says, from
measurements, why they differ. What each library computes, read from its source (``f32`` is a
rounding to float32, ``s`` the step, ``d`` decay_steps, ``r`` decay_rate):

**Keras 2 and 3** (``tf_keras/src/optimizers/schedules/learning_rate_schedule.py``,
``keras/src/optimizers/schedules/learning_rate_schedule.py``; the same code in both)::

    dtype = convert_to_tensor(initial_learning_rate).dtype     # float32 for a Python float
    p = cast(step, dtype) / cast(decay_steps, dtype)          # the step in float32
    p = floor(p) if staircase else p
    lr = initial_learning_rate * pow(cast(decay_rate, dtype), p)

.. math:: \mathrm{lr}(s) = f_{32}\bigl(f_{32}(\mathrm{lr}_0)\cdot f_{32}(r)^{\,f_{32}(f_{32}(s)/d)}\bigr)

so the rate is rounded to float32 before it is raised to ``p`` (for the seed, ``f32(0.99)`` is
``0.99 + 9.5e-9``, a relative error that ``p`` multiplies: 4 ULP at epoch 39, 462 at step 4999),
``f32(s)`` is off by one or more steps past ``2**24`` (staircase, ``d = 3``: 33_333_334 decays at
step 99_999_999), and TensorFlow flushes a subnormal float32 result to zero. SGD then applies
``w - lr * g`` with two roundings, as the seed does.

**optax** (``optax/schedules/_schedule.py``, ``exponential_decay``)::

    p = count / transition_steps                 # int32 count; XLA divides as count * f32(1/d)
    p = floor(p) if staircase else p
    lr = where(count <= 0, init_value, init_value * decay_rate ** p)      # float32

The multiplication by ``f32(1/d)`` rounds twice, so a staircase takes one decay too many even
below ``2**24`` (``d = 3``: from step 12_582_914 = 3 * 2**22 + 2). ``optax.sgd`` scales the
gradient by ``-lr`` and ``apply_updates`` adds it, which XLA fuses into one FMA (measured). The
count is int32 even with jax x64 enabled, so the schedule stays float32 for float64 parameters.

**PyTorch** (``torch/optim/lr_scheduler.py``): ``ExponentialLR.get_lr`` returns
``group["lr"] * gamma`` and ``StepLR`` does so when ``k % step_size == 0``: a float64 *running
product* :math:`\mathrm{lr}_k = \mathrm{lr}_{k-1}\gamma`, not the closed form
``base_lr * gamma ** k`` (used only when ``step(epoch)`` is given an epoch). Continuous decay with
``d > 1`` uses ``gamma = r ** (1 / d)``. ``SGD`` calls ``param.add_(grad, alpha=-lr)``, which
rounds ``lr`` to the parameter's dtype and, as measured, fuses ``w + alpha * g`` into one FMA.
The product drifts from ``initial * gamma ** k`` (hundreds of float64 ULP by a million steps,
never enough to change a float32 lr there) and never underflows to 0 (see :func:`running_product`).

On the seed (measured, pinned in ``tests/test_peers.py``): every peer prints the 15 documented
lines. Keras (2 and 3) prints 38 of the 40 golden lines: its float32 lr moves ``w`` by 1 ULP at
epochs 4-9, visible at epochs 7 and 8. optax and torch print all 40, though their FMA moves ``w``
by 1 ULP at epochs 3-5.

Nothing here imports an optional library at module import; a missing one is a
:class:`PeerUnavailable` naming the reason.

>>> sorted(PEERS)
['keras2', 'keras3', 'optax', 'tf.keras', 'torch']
>>> running_product(np.array([0, 1, 2, 3]), 0.2, 0.99).tolist() == [0.2, 0.2 * 0.99, 0.2 * 0.99 * 0.99, 0.2 * 0.99 * 0.99 * 0.99]
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from decaybench.config import DecayConfig
from decaybench.trace import Trace
from decaybench.validation import (
    InvalidType,
    InvalidValue,
    check_choice,
    check_decay_rate,
    check_decay_steps,
    check_initial_learning_rate,
    check_staircase,
    check_step,
)

__all__ = ["PEERS", "ConformanceRow", "Peer", "PeerUnavailable", "compare", "conformance", "explain", "reference_trace", "running_product"]

# optax counts steps in int32 (optax.numerics.safe_increment saturates there).
_INT32_MAX = 2**31 - 1
# np.multiply.accumulate folds left to right, one rounding per step; chunks bound the memory.
_CHUNK = 1 << 20


class PeerUnavailable(RuntimeError):
    """A peer's library is missing, too old, or the same as another peer's; ``reason`` says which."""

    def __init__(self, peer: str, reason: str) -> None:
        self.peer = peer
        self.reason = reason
        super().__init__(f"peer {peer!r} is unavailable: {reason}")


Schedule = Callable[[np.ndarray, float, int, float, bool], np.ndarray]


@dataclass(frozen=True)
class Peer:
    """One library's own schedule and optimizer.

    Attributes:
        name: the registry key, and the ``mode`` of the traces it produces.
        requires: the library (and version) it needs.
        summary: one line: which schedule and optimizer.
        lr_dtype: the dtype the library computes the learning rate in.
        lr_arithmetic: how it computes it, the name a difference in ``lr`` is reported under.
        load: imports the library and returns its version; raises :class:`PeerUnavailable`.
        evaluate: ``(steps, initial, decay_steps, rate, staircase) -> float64 array``.
        run: ``(config) -> Trace``.
    """

    name: str
    requires: str
    summary: str
    lr_dtype: str
    lr_arithmetic: str
    load: Callable[[], str]
    evaluate: Schedule
    run: Callable[[DecayConfig], Trace]

    def version(self) -> str:
        """The library's version; :class:`PeerUnavailable` when it cannot be used."""
        return self.load()

    def schedule(
        self, steps: Any, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False
    ) -> np.ndarray:
        """The library's own schedule at integer ``steps`` (1-D), as float64 of the values it computes.

        Keras and optax compute float32 numbers; torch's lr is a Python float.
        """
        initial_learning_rate = check_initial_learning_rate(initial_learning_rate)
        decay_steps = check_decay_steps(decay_steps)
        decay_rate = check_decay_rate(decay_rate)
        staircase = check_staircase(staircase)
        steps = np.atleast_1d(check_step(np.asarray(steps)))
        if steps.dtype.kind != "i" or steps.ndim != 1:
            raise InvalidType("steps", steps, "must be a 1-D array of integers")
        self.load()
        return np.asarray(self.evaluate(steps, initial_learning_rate, decay_steps, decay_rate, staircase), dtype=np.float64)

    def train(self, config: DecayConfig | None = None) -> Trace:
        """Train the seed problem of ``config`` (default: the seed) with the library's optimizer.

        The trace's ``lr`` is the learning rate the library applied, as float64.
        """
        config = config if config is not None else DecayConfig()
        self.load()
        return self.run(config)


def _import(peer: str, module: str, install: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise PeerUnavailable(peer, f"cannot import {module} ({error}); install {install}") from None


def _major(version: str) -> int:
    return int(version.split(".", 1)[0])


# ---- Keras: tf.keras, tf_keras (Keras 2), keras (Keras 3) -----------------------------------


def _tf_keras_version(tf: Any) -> str:
    # TF 2.15's tf.keras (module keras.api._v2.keras) has no __version__; the keras package it wraps has.
    version = getattr(tf.keras, "__version__", None)
    return version if version is not None else importlib.import_module(tf.keras.__name__.split(".", 1)[0]).__version__


def _load_tf_keras() -> str:
    tf = _import("tf.keras", "tensorflow", "tensorflow")
    return f"Keras {_tf_keras_version(tf)} (TF {tf.__version__})"


def _load_keras2() -> str:
    tf = _import("keras2", "tensorflow", "tensorflow")
    version = _tf_keras_version(tf)
    if _major(version) < 3:
        raise PeerUnavailable("keras2", f"tf.keras is already Keras {version}: the tf.keras peer is the same library")
    tf_keras = _import("keras2", "tf_keras", "tf-keras")
    return f"tf_keras {tf_keras.__version__}"


def _load_keras3() -> str:
    keras = _import("keras3", "keras", "keras>=3")
    if _major(keras.__version__) < 3:
        raise PeerUnavailable("keras3", f"keras {keras.__version__} is Keras 2; this peer needs keras >= 3")
    if keras.backend.backend() != "tensorflow":
        raise PeerUnavailable("keras3", f"KERAS_BACKEND is {keras.backend.backend()!r}; this peer runs the TensorFlow backend")
    return f"keras {keras.__version__}"


def _keras_namespace(peer: str) -> Any:
    # The module whose optimizers.schedules.ExponentialDecay and optimizers.SGD the peer uses.
    if peer == "tf.keras":
        return importlib.import_module("tensorflow").keras
    return importlib.import_module("tf_keras" if peer == "keras2" else "keras")


def _keras_evaluate(peer: str) -> Schedule:
    def evaluate(steps: np.ndarray, initial: float, decay_steps: int, rate: float, staircase: bool) -> np.ndarray:
        import tensorflow as tf

        schedule = _keras_namespace(peer).optimizers.schedules.ExponentialDecay(initial, decay_steps, rate, staircase=staircase)
        # One int64 scalar at a time, as the optimizer calls it with its iterations counter: a
        # vector step would go through TF's vector pow kernel, which rounds differently.
        return np.array([float(schedule(tf.constant(step, tf.int64))) for step in steps.tolist()])

    return evaluate


def _keras_run(peer: str) -> Callable[[DecayConfig], Trace]:
    def run(config: DecayConfig) -> Trace:
        from decaybench.modes.keras import keras_loop

        keras = _keras_namespace(peer)
        schedule = keras.optimizers.schedules.ExponentialDecay(
            config.initial_learning_rate, config.decay_steps, config.decay_rate, staircase=config.staircase
        )
        w, loss, lr = keras_loop(config, schedule, keras.optimizers.SGD)
        return Trace(epoch=config.recorded(), w=w, loss=loss, lr=lr, config=config, mode=peer)

    return run


# ---- optax ------------------------------------------------------------------------------------


def _load_optax() -> str:
    jax = _import("optax", "jax", "jax")
    optax = _import("optax", "optax", "optax")
    return f"optax {optax.__version__} (jax {jax.__version__})"


def _optax_evaluate(steps: np.ndarray, initial: float, decay_steps: int, rate: float, staircase: bool) -> np.ndarray:
    import jax
    import jax.numpy as jnp
    import optax

    if steps.size and int(steps.max()) > _INT32_MAX:
        raise InvalidValue("steps", int(steps.max()), f"must be <= {_INT32_MAX}: optax counts steps in int32")
    # Jitted and scalar, as inside the jitted optax.sgd update of a training step.
    schedule = jax.jit(optax.exponential_decay(initial, decay_steps, rate, staircase=staircase))
    return np.array([float(schedule(jnp.int32(step))) for step in steps.tolist()])


def _optax_run(config: DecayConfig) -> Trace:
    import jax

    if config.dtype == "float64":
        # A thread-local context: x64 is back to its previous value on exit, nothing leaks.
        with jax.enable_x64(True):
            return _optax_scan(config)
    return _optax_scan(config)


def _optax_scan(config: DecayConfig) -> Trace:
    import jax
    import jax.numpy as jnp
    import optax

    schedule = optax.exponential_decay(config.initial_learning_rate, config.decay_steps, config.decay_rate, staircase=config.staircase)
    optimizer = optax.sgd(schedule)

    def loss_fn(w: Any) -> Any:
        return jnp.sum(jnp.square(w + 1))

    def epoch(carry: Any, _: Any) -> Any:
        w, state = carry
        lr = schedule(optax.tree_utils.tree_get(state, "count"))  # the value sgd applies below
        loss, grads = jax.value_and_grad(loss_fn)(w)
        updates, state = optimizer.update(grads, state, w)
        w = optax.apply_updates(w, updates)
        return (w, state), (w, loss, lr)

    w0 = jnp.full((config.size,), config.w0, dtype=config.dtype)
    _, (ws, losses, lrs) = jax.jit(lambda w: jax.lax.scan(epoch, (w, optimizer.init(w)), length=config.epochs))(w0)
    keep = config.recorded()
    return Trace(
        epoch=keep, w=np.asarray(ws)[keep], loss=np.asarray(losses)[keep], lr=np.asarray(lrs, np.float64)[keep], config=config, mode="optax"
    )


# ---- PyTorch ----------------------------------------------------------------------------------


def _load_torch() -> str:
    torch = _import("torch", "torch", "torch")
    return f"torch {torch.__version__}"


def running_product(steps: np.ndarray, initial: float, gamma: float, every: int = 1) -> np.ndarray:
    """What torch's chainable schedulers hold at ``steps``: ``lr_k = lr_{k-1} * gamma`` in float64.

    ``every`` is StepLR's ``step_size``: ``lr_k`` is ``initial`` times ``k // every`` factors
    ``gamma``, multiplied one at a time from the left. This is the float64 arithmetic of torch's
    ``group["lr"] * gamma`` (the tests check it against the real schedulers), done in NumPy
    chunks so that a step of 1e8 takes a fraction of a second and little memory. For ``gamma``
    in (0.5, 1) the product never reaches 0, where ``pow`` goes: it sticks in the subnormals at
    the first ``x`` with ``x * gamma`` rounding back to ``x`` (``49 * 2**-1074`` for 0.99).

    >>> running_product(np.array([0, 2, 3, 5]), 1.0, 0.5, every=2).tolist()
    [1.0, 0.5, 0.5, 0.25]
    """
    factors = np.asarray(steps, dtype=np.int64) // every
    wanted, where = np.unique(factors, return_inverse=True)
    values = np.empty(wanted.size, dtype=np.float64)
    carry, done, found = float(initial), 0, 0  # carry = initial * gamma**done, as a fold
    while found < wanted.size:
        count = min(_CHUNK, int(wanted[-1]) - done)
        chunk = np.full(count + 1, gamma)
        chunk[0] = carry
        with np.errstate(over="ignore"):  # overflow is inf, as in torch
            folded = np.multiply.accumulate(chunk)  # a sequential left fold: one rounding per factor
        inside = wanted[found:][wanted[found:] <= done + count]
        values[found : found + inside.size] = folded[inside - done]
        found += inside.size
        carry, done = float(folded[-1]), done + count
        if carry * gamma == carry:  # a fixed point (0, inf, or stuck in the subnormals): it stays
            values[found:] = carry
            break
    return values[where].reshape(np.shape(steps))


def _torch_gamma(decay_steps: int, rate: float, staircase: bool) -> tuple[float, int]:
    # StepLR(step_size=d, gamma=r) for staircase; ExponentialLR(gamma=r ** (1 / d)) otherwise.
    return (rate, decay_steps) if staircase or decay_steps == 1 else (rate ** (1.0 / decay_steps), 1)


def _torch_evaluate(steps: np.ndarray, initial: float, decay_steps: int, rate: float, staircase: bool) -> np.ndarray:
    gamma, every = _torch_gamma(decay_steps, rate, staircase)
    return running_product(steps, initial, gamma, every)


def _torch_run(config: DecayConfig) -> Trace:
    import torch

    gamma, every = _torch_gamma(config.decay_steps, config.decay_rate, config.staircase)
    w = torch.full((config.size,), config.w0, dtype=getattr(torch, config.dtype), requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=config.initial_learning_rate)
    schedulers = torch.optim.lr_scheduler
    scheduler = schedulers.ExponentialLR(optimizer, gamma) if every == 1 else schedulers.StepLR(optimizer, every, gamma)
    keep = set(config.recorded().tolist())
    ws, losses, lrs = [], [], []
    for epoch in range(config.epochs):
        optimizer.zero_grad()
        loss = torch.square(w + 1).sum()
        loss.backward()
        if epoch in keep:
            lrs.append(float(optimizer.param_groups[0]["lr"]))
        optimizer.step()
        scheduler.step()
        if epoch in keep:
            ws.append(w.detach().numpy().copy())
            losses.append(loss.detach().numpy().copy())
    return Trace(epoch=config.recorded(), w=np.stack(ws), loss=np.stack(losses), lr=np.asarray(lrs), config=config, mode="torch")


PEERS: dict[str, Peer] = {
    peer.name: peer
    for peer in (
        Peer(
            "tf.keras",
            "tensorflow (tf.keras: Keras 3 from TF 2.16, Keras 2 before)",
            "tf.keras.optimizers.schedules.ExponentialDecay with tf.keras SGD",
            "float32",
            "float32 schedule arithmetic",
            _load_tf_keras,
            _keras_evaluate("tf.keras"),
            _keras_run("tf.keras"),
        ),
        Peer(
            "keras2",
            "tf_keras (Keras 2 for TF >= 2.16)",
            "tf_keras.optimizers.schedules.ExponentialDecay with tf_keras SGD",
            "float32",
            "float32 schedule arithmetic",
            _load_keras2,
            _keras_evaluate("keras2"),
            _keras_run("keras2"),
        ),
        Peer(
            "keras3",
            "keras >= 3, TensorFlow backend",
            "keras.optimizers.schedules.ExponentialDecay with keras SGD",
            "float32",
            "float32 schedule arithmetic",
            _load_keras3,
            _keras_evaluate("keras3"),
            _keras_run("keras3"),
        ),
        Peer(
            "optax",
            "jax, optax",
            "optax.exponential_decay with optax.sgd, one jitted lax.scan over the epochs",
            "float32",
            "float32 schedule arithmetic",
            _load_optax,
            _optax_evaluate,
            _optax_run,
        ),
        Peer(
            "torch",
            "torch",
            "torch.optim.SGD with ExponentialLR (StepLR(step_size=decay_steps) for staircase)",
            "float64",
            "float64 running product",
            _load_torch,
            _torch_evaluate,
            _torch_run,
        ),
    )
}


# ---- conformance: every peer against the golden trace --------------------------------------


@dataclass(frozen=True)
class ConformanceRow:
    """One peer's run against the reference trace (the golden trace for the seed config).

    Attributes:
        peer, version, lr_dtype: which library, which version, what dtype its lr is computed in.
        documented: documented seed lines printed identically (of 15); ``None`` off the seed.
        lines: printed lines identical to the reference's, of ``total``.
        differing_lines: the epochs whose printed line differs.
        max_ulp: the largest ULP distance of ``w`` from the reference.
        first_difference: the first epoch whose ``w`` or loss differs in any bit, or ``None``.
        cause: why, from the measurements of :func:`explain`.
        skipped: the reason the peer did not run (then the other results are empty).
    """

    peer: str
    version: str | None
    lr_dtype: str
    documented: int | None
    lines: int
    total: int
    differing_lines: tuple[int, ...]
    max_ulp: int | None
    first_difference: int | None
    cause: str
    skipped: str | None = None


def conformance(config: DecayConfig | None = None, peers: Iterable[str] | None = None) -> list[ConformanceRow]:
    """Train every peer (or those named in ``peers``) on ``config`` and compare with the reference.

    The reference is the golden trace when ``config`` is the seed, else the ``eager`` mode's run.
    A peer whose library is missing gives a row with ``skipped`` set.
    """
    names = list(PEERS) if peers is None else [check_choice("peers", name, tuple(PEERS)) for name in peers]
    config = config if config is not None else DecayConfig()
    reference = reference_trace(config)
    rows = []
    for name in names:
        peer = PEERS[name]
        try:
            version = peer.version()
        except PeerUnavailable as error:
            rows.append(
                ConformanceRow(name, None, peer.lr_dtype, None, 0, len(reference), (), None, None, f"skipped: {error.reason}", error.reason)
            )
            continue
        rows.append(compare(peer, peer.train(config), reference, version))
    return rows


def compare(peer: Peer, trace: Trace, reference: Trace, version: str | None = None) -> ConformanceRow:
    """One row of :func:`conformance`: ``trace`` (a run of ``peer``) against ``reference``."""
    from decaybench.golden import check_documented
    from decaybench.oracle import max_ulp

    differing = tuple(int(e) for e, a, b in zip(reference.epoch, trace.lines(), reference.lines(), strict=True) if a != b)
    return ConformanceRow(
        peer=peer.name,
        version=version if version is not None else peer.version(),
        lr_dtype=peer.lr_dtype,
        documented=sum(check.ok for check in check_documented(trace)) if trace.config.is_seed else None,
        lines=len(reference) - len(differing),
        total=len(reference),
        differing_lines=differing,
        max_ulp=max_ulp(trace.w, reference.w),
        first_difference=_first_difference(trace, reference),
        cause=explain(trace, reference, peer),
    )


def reference_trace(config: DecayConfig) -> Trace:
    """The golden trace at ``config``'s recorded epochs for the seed; the ``eager`` run otherwise."""
    if not config.is_seed:
        from decaybench.loops import run

        return run(config, "eager")
    from decaybench.golden import read_golden_trace

    golden = read_golden_trace()
    keep = np.searchsorted(golden.epoch, config.recorded())
    return Trace(epoch=golden.epoch[keep], w=golden.w[keep], loss=golden.loss[keep], lr=golden.lr[keep], config=config, mode=golden.mode)


def _first_difference(trace: Trace, reference: Trace) -> int | None:
    same = _bits_equal(trace.w, reference.w).all(axis=1) & _bits_equal(trace.loss, reference.loss)
    return None if same.all() else int(trace.epoch[np.argmin(same)])


def _bits_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def explain(trace: Trace, reference: Trace, peer: Peer | None = None) -> str:
    """Why ``trace`` differs from ``reference`` (same config), established by replaying it.

    Two measurements, never a guess:

    * the learning rates: the epochs where ``trace.lr`` and ``reference.lr``, each rounded to
      ``w``'s dtype (what the update multiplies by), differ, and for a float32 schedule those
      whose step is not exact in float32 (past ``2**24``);
    * the update: the run is replayed in NumPy from ``w0`` with its own learning rates, once as
      the seed rounds (``lr * g``, then the subtraction) and once fused (one rounding, an FMA).
      The replay that reproduces every ``w`` bit for bit names the update; replaying it with the
      reference's learning rates tells whether the lr differences change ``w`` at all.

    Needs ``record_every=1`` (every epoch's lr) to replay; otherwise only the lr is reported.
    """
    from decaybench.oracle import max_ulp

    config = trace.config
    dtype = np.dtype(config.dtype)
    arithmetic = peer.lr_arithmetic if peer is not None else "the schedule"
    applied, wanted = trace.lr.astype(dtype), reference.lr.astype(dtype)
    lr_epochs = trace.epoch[applied != wanted]
    first = _first_difference(trace, reference)
    facts = []
    if lr_epochs.size:
        facts.append(
            f"lr != {dtype}(reference) at {lr_epochs.size} of {len(trace)} epochs from epoch {lr_epochs[0]} "
            f"(max {max_ulp(applied, wanted)} ULP)" + (_step_cast(lr_epochs) if peer is not None and peer.lr_dtype == "float32" else "")
        )
    elif not np.array_equal(trace.lr, reference.lr):
        moved = trace.epoch[trace.lr != reference.lr]
        facts.append(f"{arithmetic} moves the float64 lr from epoch {moved[0]} but never its {dtype} rounding")
    if config.record_every != 1:
        return "; ".join([*facts, "no replay (record_every > 1)"]) if first is not None or facts else "none: bit-identical"
    update = next((fused for fused in (False, True) if _bits_equal(_replay(config, trace.lr, fused), trace.w).all()), None)
    if update is None:
        return "; ".join([*facts, "unexplained: neither a two-rounding nor a fused replay reproduces w"])
    if first is None:
        return "none: bit-identical" + (f" ({'; '.join(facts)})" if facts else "")
    causes = []
    lr_matters = lr_epochs.size and not _bits_equal(_replay(config, reference.lr, update), trace.w).all()
    if lr_matters:
        causes.append(f"{arithmetic}: {facts[0]}")
    if update:
        causes.append("fused multiply-add update (w - lr*g rounded once; a fused replay reproduces every epoch)")
    if lr_epochs.size and not lr_matters:
        causes.append(f"{arithmetic} does not change w ({facts[0]})")
    if not causes:
        causes.append("unexplained: a two-rounding replay reproduces w with the reference's lr, but not the reference")
    return "; ".join(causes)


def _step_cast(epochs: np.ndarray) -> str:
    # A float32 schedule casts the step first: past 2**24 it is not the step any more.
    off = epochs[epochs.astype(np.float32).astype(np.int64) != epochs]
    return f", at {off.size} of them a float32 step != the step, from epoch {off[0]}" if off.size else ""


def _replay(config: DecayConfig, lr: np.ndarray, fused: bool) -> np.ndarray:
    """The seed's trajectory from ``w0`` with the given per-epoch ``lr``, in NumPy."""
    from decaybench.rounding import fused_multiply_subtract

    kind = np.dtype(config.dtype).type
    w = np.full(config.size, config.w0, dtype=kind)
    rows = []
    with np.errstate(all="ignore"):
        for rate in lr:
            grad = kind(2) * (w + kind(1))  # d/dw (w + 1)**2; the doubling is exact
            step = kind(rate)
            w = fused_multiply_subtract(w, np.full_like(w, step), grad) if fused else w - step * grad
            rows.append(w)
    return np.stack(rows)
