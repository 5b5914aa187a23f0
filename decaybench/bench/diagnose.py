"""The measurements behind the missed targets, taken in the same run as the tables (``docs/benchmarks.md``)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from decaybench.bench.workload import LONG_EPOCHS, SEED, VECTOR_SIZES, Call
from decaybench.config import DecayConfig
from decaybench.tables import format_duration

__all__ = ["diagnose"]


def _best(call: Call, repeats: int = 7) -> float:
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _kernels(hlo: str) -> str:
    entry = hlo[hlo.index("ENTRY") :]
    fusions = [line.split("=")[0].strip().lstrip("%") for line in entry.splitlines() if " fusion(" in line or " copy(" in line]
    return f"{len(fusions)} kernels ({', '.join(fusions)})"


def diagnose() -> str:
    """Markdown: the measurements behind the missed targets, taken now (for ``docs/benchmarks.md``).

    * vector: the kernels XLA compiles one step of 1e7 float32 values into (its optimized HLO),
      and XLA's simplest kernel over the same bytes (``-x``: one read, one write) against the
      copy floor, which bounds what any XLA kernel reaches on this machine;
    * long: the xla loop at 1e6 epochs without the schedule, and float64 against float32 ``pow``
      in XLA per element: what the float64 schedule costs per step.
    """
    import tensorflow as tf

    from decaybench.modes import compiled
    from decaybench.schedule import tf_exponential_decay

    size = VECTOR_SIZES[-1]
    x, lr = tf.fill([size], tf.constant(SEED.w0, tf.float32)), tf.constant(1e-6, tf.float32)
    step_hlo = compiled.xla_step.experimental_get_compiler_ir(x, lr)(stage="optimized_hlo")
    negate = tf.function(lambda v: -v, jit_compile=True, autograph=False)
    source, target = np.full(size, np.float32(SEED.w0)), np.empty(size, np.float32)
    step = _best(lambda: [t.numpy() if t.shape.rank == 0 else t for t in compiled.xla_step(x, lr)])
    kernel = _best(lambda: negate(x))
    copy = _best(lambda: np.copyto(target, source))

    epochs = LONG_EPOCHS[-1]
    count = tf.constant(epochs, tf.int64)

    def no_schedule(w0: Any, lr: Any) -> Any:
        def body(i: Any, w: Any, w_rows: Any, loss_rows: Any) -> Any:
            loss, gradient = compiled.loss_and_gradient(w)
            return i + 1, w - lr * gradient, w_rows.write(i, w), loss_rows.write(i, loss)

        rows = (tf.TensorArray(w0.dtype, size=epochs, element_shape=w0.shape), tf.TensorArray(w0.dtype, size=epochs, element_shape=[]))
        _, _, w_rows, loss_rows = tf.while_loop(lambda i, *_: i < epochs, body, (0, w0, *rows))
        return w_rows.stack(), loss_rows.stack()

    loop = compiled.compiled_call(DecayConfig(epochs=epochs), "xla")
    w0 = tf.constant([SEED.w0], tf.float32)
    bare = tf.function(no_schedule, jit_compile=True, autograph=False)
    pow64 = tf.function(lambda n: tf_exponential_decay(tf.range(n), 0.2, 1, 0.99, False), jit_compile=True, autograph=False)
    pow32 = tf.function(
        lambda n: tf.pow(tf.constant(0.99, tf.float32), tf.cast(tf.range(n), tf.float32)), jit_compile=True, autograph=False
    )
    per_step = {
        "the xla loop (`run` minus Python)": _best(loop, 5),
        "the same loop with a constant lr (no schedule)": _best(lambda: [t.numpy() for t in bare(w0, tf.constant(0.1, tf.float32))], 5),
        "float64 schedule alone, as a vector (XLA: libm `pow` per element)": _best(lambda: pow64(count).numpy(), 5),
        "float32 `pow` alone, as a vector (what optax computes)": _best(lambda: pow32(count).numpy(), 5),
    }
    lines = [
        "### Measured with the tables (`decaybench.bench.diagnose`)",
        "",
        f"- vector, 1e7 float32: the step compiles to {_kernels(step_hlo)}"
        f" (optimized HLO of `xla_step`). One step: {format_duration(step)}; XLA's simplest kernel over the same bytes (`-x`,"
        f" one read and one write): {format_duration(kernel)}; `np.copyto`: {format_duration(copy)}. So one XLA kernel reaches"
        f" {copy / kernel:.0%} of the copy floor, and the step {copy / step:.0%}.",
        f"- long, {epochs:.0e} epochs, ns per step:",
    ]
    lines += [f"  - {name}: {seconds / epochs * 1e9:.1f}" for name, seconds in per_step.items()]
    return "\n".join(lines)
