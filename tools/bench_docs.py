"""``docs/benchmarks.md``: every workload timed in one run, the targets, and why the missed ones miss.

``python -m tools.bench_docs --notes docs/benchmarks.notes.md --output docs/benchmarks.md`` (``make bench-docs``)
runs the ``benchmarks/`` suite as ``decaybench bench`` does (:func:`decaybench.bench.run_benchmarks`), then
:func:`diagnose` takes the measurements behind the missed targets, and :func:`markdown` writes the page:
the machine, the targets (the README quotes them, ``make docs``), each group's table, then the notes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from decaybench.bench import BenchmarkError, run_benchmarks
from decaybench.bench.report import EXPLAINED, HEADER, TARGET_HEADER, Report, result_rows, shown_results, target_rows
from decaybench.bench.workload import GROUPS, LONG_EPOCHS, LONG_LR, LONG_RATE, SEED, STEP_PASSES, VECTOR_SIZES, Call, long_config
from decaybench.cli.parsing import Command, Flag, run_parser
from decaybench.files import check_writable, write_atomic
from decaybench.tables import format_duration
from tools.cli import tool_parser
from tools.markdown import format_load, markdown_table

__all__ = ["COMMAND", "diagnose", "main", "markdown"]


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
    # Here, not at the top: they load TensorFlow, which the page's text does not need.
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

    loop = compiled.compiled_call(long_config(epochs), "xla")
    w0 = tf.constant([SEED.w0], tf.float32)
    bare = tf.function(no_schedule, jit_compile=True, autograph=False)
    pow64 = tf.function(lambda n: tf_exponential_decay(tf.range(n), LONG_LR, 1, LONG_RATE, False), jit_compile=True, autograph=False)
    pow32 = tf.function(
        lambda n: tf.pow(tf.constant(LONG_RATE, tf.float32), tf.cast(tf.range(n), tf.float32)), jit_compile=True, autograph=False
    )
    per_step = {
        "the xla loop (`run` minus Python)": _best(loop, 5),
        "the same loop with a constant lr (no schedule)": _best(lambda: [t.numpy() for t in bare(w0, tf.constant(0.1, tf.float32))], 5),
        "float64 schedule alone, as a vector (XLA: libm `pow` per element)": _best(lambda: pow64(count).numpy(), 5),
        "float32 `pow` alone, as a vector (what optax computes)": _best(lambda: pow32(count).numpy(), 5),
    }
    lines = [
        "### Measured with the tables (`tools/bench_docs.py`)",
        "",
        f"- vector, 1e7 float32: the step compiles to {_kernels(step_hlo)}"
        f" (optimized HLO of `xla_step`). One step: {format_duration(step)}; XLA's simplest kernel over the same bytes (`-x`,"
        f" one read and one write): {format_duration(kernel)}; `np.copyto`: {format_duration(copy)}. So one XLA kernel reaches"
        f" {copy / kernel:.0%} of the copy floor, and the step {copy / step:.0%}.",
        f"- long, {epochs:.0e} epochs, ns per step:",
    ]
    lines += [f"  - {name}: {seconds / epochs * 1e9:.1f}" for name, seconds in per_step.items()]
    return "\n".join(lines)


def markdown(report: Report, notes: str = "") -> str:
    """``docs/benchmarks.md``: the machine, the targets and every group's table; ``notes`` appended."""
    m = report.machine
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    shown, gpu = shown_results(report.results)
    parts = [
        "# Benchmarks",
        "",
        "Generated by `make bench-docs` (`python -m tools.bench_docs --notes docs/benchmarks.notes.md --output docs/benchmarks.md`);"
        " edit the notes, not this page. It runs the `benchmarks/` suite through pytest-benchmark, as"
        " `pytest --benchmark-only` and `decaybench bench` do, and reads every number from pytest-benchmark's JSON.",
        "",
        f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['platform']}, Python {m['python']}.  ",
        f"Versions: {versions}.  ",
        f"Load average (1, 5, 15 min) at the start: {format_load(m.get('load_average'), 2)}; "
        f"at the end: {format_load(m.get('load_average_after'), 2)}. The machine is shared: "
        "compare ratios measured in the same run, not absolute times across runs.",
        "",
        *(
            [
                "A `--quick` run: 5 rounds of each workload; outside the seed group, none of a second or more a call.",
                "",
            ]
            if report.quick
            else []
        ),
        "## Targets",
        "",
        "<!-- BEGIN targets -->",
        markdown_table(TARGET_HEADER, target_rows(report.results)),
        "",
        EXPLAINED,
        "<!-- END targets -->",
        "",
        "Ratios are `t(reference) / t(this)`: how many times faster than eager, than the fastest peer, than the fastest "
        "floor, or than the baseline of the same group, device and shape; below 1 is slower. For `vector`, `vs floor` is "
        f"the fraction of the copy floor's bandwidth: a step must read and write `w` ({STEP_PASSES} passes), as many bytes "
        "as the copy moves.",
        "",
        "To compare with a saved run: `decaybench bench --benchmark-save NAME`, later `decaybench bench --benchmark-compare NAME`"
        " (add `--benchmark-compare-fail median:10%` to fail on a regression); or the same flags with `pytest --benchmark-only`.",
        "",
    ]
    if gpu:
        parts += [gpu, ""]
    rows = result_rows(shown)
    for group in GROUPS:
        chosen = [row for row in rows if row[0] == group]
        if chosen:
            parts += [f"## {group}", "", markdown_table(HEADER[1:], [row[1:] for row in chosen]), ""]
    if notes:
        parts += [notes.strip(), ""]
    return "\n".join(parts)


def _bench_docs(args: argparse.Namespace) -> int:
    output = check_writable(args.output)
    notes = Path(args.notes).read_text(encoding="utf-8") if args.notes else ""
    report = run_benchmarks(quick=args.quick)
    write_atomic(output, markdown(report, notes + "\n\n" + diagnose()))
    return 0


COMMAND = Command(
    "bench-docs",
    _bench_docs,
    help="write docs/benchmarks.md",
    description="Time every benchmark workload and write the docs page: the tables, the targets, then the notes.",
    examples=("python -m tools.bench_docs --notes docs/benchmarks.notes.md --output docs/benchmarks.md",),
    flags=(
        Flag("--quick", {"action": "store_true", "help": "fewer rounds and no workload slower than a few seconds"}),
        Flag("--output", {"required": True, "metavar": "FILE", "help": "the page to write (atomically)"}),
        Flag("--notes", {"metavar": "FILE", "help": "Markdown appended after the tables (the analysis of missed targets)"}),
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.bench_docs [--quick] --output docs/benchmarks.md [--notes FILE]``: the docs page."""
    return run_parser(tool_parser("python -m tools.bench_docs", COMMAND), (COMMAND,), argv, errors=(BenchmarkError,))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    raise SystemExit(main())
