"""What is timed: our modes through the public API, the peers (other libraries) and the floors.

Each builder returns a ``Call``; GPU work is placed with ``tf.device`` and synchronised by a host
read before the clock stops."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

from decaybench.bench.workload import SCHEDULE_STEPS, SEED, Call, Unavailable, _jax_device, _placed
from decaybench.compile_cache import ENVIRONMENT
from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.peers import PEERS, PeerUnavailable
from decaybench.peers.optax import optax_scan, optax_schedule, optax_x64_scan
from decaybench.sweep import run_sweep

# ---- workloads: ours ---------------------------------------------------------------------------


def _run(config: DecayConfig, mode: str) -> Callable[[], Call]:
    def build() -> Call:
        return lambda: run(config, mode)

    return build


def _compiled_call(config: DecayConfig, mode: str) -> Callable[[], Call]:
    """The one compiled call that ``run(config, mode)`` makes, and its read-back, bare
    (:func:`decaybench.modes.compiled.compiled_call`): what ``run`` adds to it is ``run``'s overhead."""

    def build() -> Call:
        from decaybench.modes.compiled import compiled_call  # loads TensorFlow

        return compiled_call(config, mode)

    return build


def _sweep_configs(count: int, epochs: int) -> list[DecayConfig]:
    rng = np.random.default_rng(4)
    return [
        DecayConfig(initial_learning_rate=float(lr), decay_rate=float(rate), w0=float(w0), epochs=epochs)
        for lr, rate, w0 in zip(rng.uniform(0.05, 0.45, count), rng.uniform(0.9, 0.999, count), rng.uniform(-10, 10, count), strict=True)
    ]


def _sweep(count: int, epochs: int) -> Call:
    configs = _sweep_configs(count, epochs)
    return lambda: run_sweep(configs, "xla")


def _separate(count: int, epochs: int) -> Call:
    configs = _sweep_configs(count, epochs)
    return lambda: [run(config, "xla") for config in configs]


def _step(size: int, mode: str) -> Callable[[], Call]:
    def build() -> Call:
        import tensorflow as tf

        from decaybench.modes.compiled import train_step, xla_step  # loads TensorFlow

        # A tiny lr keeps w finite however many rounds run; the work is the same for any lr.
        lr = tf.constant(1e-6, tf.float32)
        if mode == "function":  # the function mode's step, on a tf.Variable
            w = tf.Variable(tf.fill([size], tf.constant(SEED.w0, tf.float32)))
            return lambda: train_step(w, lr).numpy()
        state = [tf.fill([size], tf.constant(SEED.w0, tf.float32))]

        def step() -> Any:  # the xla loop's step, carrying w as its loop does
            state[0], loss = xla_step(state[0], lr)
            return loss.numpy()

        return step

    return build


def _schedule(jit: bool, count: int = SCHEDULE_STEPS) -> Callable[[], Call]:
    def build() -> Call:
        import tensorflow as tf

        from decaybench.keras_schedule import ExponentialDecay  # loads TensorFlow

        schedule = ExponentialDecay(**dataclasses.asdict(SEED.schedule), dtype="float64")
        evaluate = tf.function(lambda steps: schedule(steps), jit_compile=jit, autograph=False)
        steps = tf.range(count, dtype=tf.int64)
        return lambda: evaluate(steps).numpy()

    return build


def _reference_schedule(count: int = SCHEDULE_STEPS) -> Call:
    steps = np.arange(count)
    schedule = SEED.schedule
    return lambda: schedule.lr(steps)


def _fresh(mode: str) -> Callable[[], Call]:
    def build() -> Call:
        from decaybench.modes.compiled import fresh_runner  # loads TensorFlow

        runner = fresh_runner(mode)
        return lambda: runner(SEED)

    return build


# The cache as the CLI's --compile-cache applies it, before TensorFlow starts: TensorFlow reads
# TF_XLA_FLAGS once, at its first op, which the worker's start-up runs (decaybench.compile_cache).
_FIRST_CALL_WORKER = """
import json, sys, time
from decaybench.compile_cache import from_environment
from_environment()
import tensorflow as tf
from decaybench.config import DecayConfig
from decaybench.loops import run
device = sys.argv[1]
tf.constant(0.0) + 1.0  # device start-up belongs to the import, not to the first call
print("ready", flush=True)
mode = sys.stdin.readline().strip()
started = time.perf_counter()
with tf.device(device):
    run(DecayConfig(), mode)
print(json.dumps({"first_s": time.perf_counter() - started}), flush=True)
sys.stdin.readline()  # shutting down waits for the parent, outside its clock
"""


class _NewProcess:
    """An interpreter that has imported TensorFlow (untimed); a call asks it for its first run and
    returns the child's own seconds for it. The clock stops at the answer: shutting the child down
    is :meth:`close`'s, called when the round lets go of it (or by the next round's setup)."""

    def __init__(self, mode: str, device: str, cache: str | None) -> None:
        environ = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        environ.pop(ENVIRONMENT, None)
        if cache is not None:
            environ[ENVIRONMENT] = cache
        self.mode = mode
        self.worker = subprocess.Popen(
            [sys.executable, "-c", _FIRST_CALL_WORKER, "/GPU:0" if device == "gpu" else "/CPU:0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=environ,
        )
        assert self.worker.stdin is not None and self.worker.stdout is not None
        if self.worker.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError("the first-call worker did not start")

    def __call__(self) -> float:
        assert self.worker.stdin is not None and self.worker.stdout is not None
        self.worker.stdin.write(self.mode + "\n")
        self.worker.stdin.flush()
        return float(json.loads(self.worker.stdout.readline())["first_s"])

    def close(self) -> None:
        if self.worker.poll() is None:
            with contextlib.suppress(OSError):
                self.worker.communicate("bye\n", timeout=60)
        if self.worker.poll() is None:
            self.worker.kill()
            self.worker.wait()

    def __del__(self) -> None:
        self.close()


@functools.cache
def _filled_cache(mode: str, device: str) -> str:
    """A compile cache directory for this process's benchmarks, filled by one new process's first run."""
    directory = tempfile.mkdtemp(prefix="decaybench-compile-cache-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    filler = _NewProcess(mode, device, directory)
    filler()
    filler.close()
    return directory


def _first_call_in_new_process(mode: str, device: str, cached: bool = False) -> Call:
    """Start an interpreter that imports TensorFlow (untimed); the target asks it for its first run.
    ``cached``: with XLA's persistent cache (``DECAYBENCH_COMPILE_CACHE``), filled beforehand."""
    return _NewProcess(mode, device, _filled_cache(mode, device) if cached else None)


# ---- workloads: peers and floors -----------------------------------------------------------------


def _peer(name: str, config: DecayConfig) -> Callable[[], Call]:
    def build() -> Call:
        try:
            PEERS[name].version()
        except PeerUnavailable as error:
            raise Unavailable(error.reason) from None
        return lambda: PEERS[name].train(config)

    return build


def _optax_scan(config: DecayConfig, device: str, x64: bool = False) -> Call:
    """decaybench.peers' optax run (optax.sgd + optax.exponential_decay in one jitted lax.scan),
    jitted once here so that the steady state is timed: the peer re-jits on every call.

    ``x64``: the schedule in float64 under jax x64, rounded once to float32
    (:func:`decaybench.peers.optax.optax_x64_scan`); otherwise optax's own float32 schedule.
    """
    jax_device = _jax_device(device)
    import jax
    import jax.numpy as jnp

    scan = optax_x64_scan(config) if x64 else jax.jit(optax_scan(optax_schedule(config.schedule), config.epochs))
    w0 = jax.device_put(jnp.full((config.size,), config.w0, dtype=config.dtype), jax_device)
    return lambda: jax.device_get(scan(w0))


def _optax_vmap(count: int, epochs: int, device: str) -> Call:
    """``jax.vmap`` of the optax scan over (initial lr, decay rate, w0).

    optax.exponential_decay tests ``decay_rate == 0`` in Python, which a vmapped rate cannot
    answer, so the schedule is optax's own formula, ``init * rate ** (count / steps)``, inline.
    """
    jax_device = _jax_device(device)
    import jax
    import jax.numpy as jnp

    def train(initial: Any, rate: Any, w0: Any) -> Any:
        def schedule(count: Any) -> Any:
            return jnp.where(count <= 0, initial, initial * jnp.power(rate, count / 1))

        return optax_scan(schedule, epochs)(jnp.full((1,), w0))

    configs = _sweep_configs(count, epochs)
    columns = [
        jax.device_put(jnp.asarray([getattr(c, name) for c in configs], jnp.float32), jax_device)
        for name in ("initial_learning_rate", "decay_rate", "w0")
    ]
    vmapped = jax.jit(jax.vmap(train))
    return lambda: jax.device_get(vmapped(*columns))


def _python_loop() -> Call:
    """The seed in Python floats: the least a 40-epoch trace can cost in Python."""
    config = SEED

    def loop() -> tuple[list[float], list[float], list[float]]:
        w, ws, losses, lrs = config.w0, [], [], []
        for epoch in range(config.epochs):
            lr = config.initial_learning_rate * config.decay_rate ** (epoch / config.decay_steps)
            losses.append((w + 1.0) ** 2)
            w = w - lr * (2.0 * (w + 1.0))
            ws.append(w)
            lrs.append(lr)
        return ws, losses, lrs

    return loop


def _numpy_loop() -> Call:
    """The seed in NumPy float32 scalars, rows into preallocated arrays."""
    config = SEED
    one, two = np.float32(1), np.float32(2)

    def loop() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ws, losses, lrs = np.empty(config.epochs, np.float32), np.empty(config.epochs, np.float32), np.empty(config.epochs)
        w = np.float32(config.w0)
        for epoch in range(config.epochs):
            lr = config.initial_learning_rate * config.decay_rate ** (epoch / config.decay_steps)
            x = w + one
            losses[epoch] = x * x
            w = w - np.float32(lr) * (x * two)
            ws[epoch], lrs[epoch] = w, lr
        return ws, losses, lrs

    return loop


def _copy_floor(size: int, device: str) -> Callable[[], Call]:
    """A copy of ``size`` float32: on the host ``np.copyto`` into a preallocated array; on a GPU
    an XLA kernel that reads and writes the same bytes."""
    if device == "cpu":

        def host() -> Call:
            source, target = np.full(size, np.float32(SEED.w0)), np.empty(size, np.float32)
            return lambda: np.copyto(target, source)

        return host

    def gpu() -> Call:
        import tensorflow as tf

        copy = tf.function(lambda x: -x, jit_compile=True, autograph=False)
        source = tf.fill([size], tf.constant(SEED.w0, tf.float32))
        return lambda: copy(source)

    return _placed(device, gpu)


def _numpy_power(count: int = SCHEDULE_STEPS) -> Call:
    steps = np.arange(count)
    return lambda: SEED.initial_learning_rate * np.power(SEED.decay_rate, steps / SEED.decay_steps)
