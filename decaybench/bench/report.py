"""Running every workload, and reporting: the CLI's table, ``docs/benchmarks.md`` and its diagnosis."""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from decaybench.bench.compare import ratios, targets
from decaybench.bench.groups import workloads
from decaybench.bench.timing import Result, measure
from decaybench.bench.workload import GROUPS, LONG_EPOCHS, SEED, STEP_PASSES, VECTOR_SIZES, Call, _version
from decaybench.config import DecayConfig
from decaybench.modes import REGISTRY

# ---- running and reporting ----------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """What :func:`run_benchmarks` measured, where and when."""

    results: tuple[Result, ...]
    machine: dict[str, Any]
    quick: bool

    @property
    def modes(self) -> list[str]:
        """Every mode timed (not skipped), in registry order."""
        timed = {r.workload.info()["mode"] for r in self.results if r.median is not None}
        return [mode for mode in REGISTRY if mode in timed]

    def to_dict(self) -> dict[str, Any]:
        table = ratios(self.results)
        rows = []
        for result in self.results:
            row = result.to_dict()
            row.update(table.get(result.workload.id, {}))
            rows.append(row)
        return {
            "machine": self.machine,
            "quick": self.quick,
            "modes": self.modes,
            "implementations": sorted({r.workload.name for r in self.results if r.median is not None}),
            "results": rows,
            "targets": [{**dataclasses.asdict(t), "met": t.met} for t in targets(self.results)],
        }


def machine() -> dict[str, Any]:
    """The machine and the versions: what a benchmark number means nothing without."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name) for name in ("tensorflow", "keras", "numpy", "jax", "jaxlib", "optax", "torch", "pytest-benchmark")
        },
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def run_benchmarks(
    groups: Sequence[str] = GROUPS, devices: Sequence[str] | None = None, quick: bool = False, progress: bool = False
) -> Report:
    """Time every workload of ``groups`` (``quick``: fewer rounds, no slow workloads)."""
    if devices is None:
        import tensorflow as tf

        devices = ("cpu", "gpu") if tf.config.list_physical_devices("GPU") else ("cpu",)
    chosen = [w for group in groups for w in workloads(group, devices) if not (quick and w.slow)]
    before = machine()
    from tqdm import tqdm

    results = []
    with tqdm(chosen, desc="bench", unit="workload", file=sys.stderr, disable=not progress, leave=False) as bar:
        for workload in bar:
            bar.set_postfix_str(f"{workload.group}: {workload.name} {workload.device}")
            results.append(measure(workload, quick))
    after = os.getloadavg() if hasattr(os, "getloadavg") else None
    return Report(tuple(results), {**before, "load_average_after": list(after) if after else None}, quick)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value * 1e9:.3g} ns"


def _times(value: float | None) -> str:
    return "-" if value is None else (f"{value:.3g}x")


def _rows(report: Report) -> list[list[str]]:
    table = ratios(report.results)
    rows = []
    for result in report.results:
        w = result.workload
        shape = " ".join(f"{k}={v:g}" for k, v in (("epochs", w.epochs), ("size", w.size), ("configs", w.configs)) if v)
        if result.median is None:
            rows.append([w.group, w.device, shape, w.name, w.kind, f"skipped: {result.skipped}", "", "", "", "", ""])
            continue
        r = table[w.id]
        per = f"{result.per_step_ns:.3g} ns" if w.steps > 1 else "-"
        rows.append(
            [
                w.group,
                w.device,
                shape,
                w.name,
                w.kind,
                _seconds(result.median),
                per,
                _times(r["vs_eager"]),
                _times(r["vs_peer"]),
                _times(r["vs_floor"]),
                _times(r["vs_baseline"]),
            ]
        )
    return rows


HEADER = ["group", "device", "shape", "implementation", "kind", "median", "per step", "vs eager", "vs peer", "vs floor", "vs baseline"]


def _target_rows(report: Report) -> list[list[str]]:
    rows = []
    for t in targets(report.results):
        measured = "-" if t.measured is None else (f"{t.measured:.3g}x" if t.higher_is_better else _seconds(t.measured))
        verdict = {True: "met", False: "MISSED", None: "not run"}[t.met]
        rows.append([t.name, t.claim, measured, verdict, t.detail])
    return rows


def table(report: Report) -> str:
    """The results as a terminal table: medians, then ratios (``Nx``: N times faster than that)."""
    from decaybench.report import table as columns

    return (
        columns(HEADER, _rows(report))
        + "\n\nratios: t(eager, fastest peer, fastest floor or baseline) / t(this); below 1 is slower\n\n"
        + columns(["target", "claim", "measured", "verdict", "detail"], _target_rows(report))
    )


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(report: Report, notes: str = "") -> str:
    """``docs/benchmarks.md``: the machine, the targets and every group's table; ``notes`` appended."""
    m = report.machine
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    load = m.get("load_average")
    parts = [
        "# Benchmarks",
        "",
        "Generated by `make bench-docs` (`python -m decaybench.bench --notes docs/benchmarks.notes.md --output docs/benchmarks.md`);"
        " edit the notes, not this page. The same workloads run under `pytest --benchmark-only` (`benchmarks/`) and"
        " `decaybench bench`.",
        "",
        f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['platform']}, Python {m['python']}.  ",
        f"Versions: {versions}.  ",
        f"Load average (1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in load) if load else '-'}; "
        f"at the end: {', '.join(f'{x:.2f}' for x in m.get('load_average_after') or []) or '-'}. The machine is shared: "
        "compare ratios measured in the same run, not absolute times across runs.",
        "",
        "## Targets",
        "",
        "<!-- BEGIN targets -->",
        _markdown_table(["target", "claim", "measured", "verdict", "detail"], _target_rows(report)),
        "<!-- END targets -->",
        "",
        "Ratios are `t(reference) / t(this)`: how many times faster than eager, than the fastest peer, than the fastest "
        "floor, or than the baseline of the same group, device and shape; below 1 is slower. For `vector`, `vs floor` is "
        f"the fraction of the copy floor's bandwidth: a step must read and write `w` ({STEP_PASSES} passes), as many bytes "
        "as the copy moves.",
        "",
    ]
    rows = _rows(report)
    for group in GROUPS:
        chosen = [row for row in rows if row[0] == group]
        if chosen:
            parts += [f"## {group}", "", _markdown_table(HEADER[1:], [row[1:] for row in chosen]), ""]
    if notes:
        parts += [notes.strip(), ""]
    return "\n".join(parts)


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
    lengths, integers, floats = (compiled._loop_inputs(DecayConfig(epochs=epochs))[i] for i in (1, 2, 3))

    def no_schedule(w0: Any, lr: Any) -> Any:
        def body(i: Any, w: Any, w_rows: Any, loss_rows: Any) -> Any:
            loss, gradient = compiled.loss_and_gradient(w)
            return i + 1, w - lr * gradient, w_rows.write(i, w), loss_rows.write(i, loss)

        rows = (tf.TensorArray(w0.dtype, size=epochs, element_shape=w0.shape), tf.TensorArray(w0.dtype, size=epochs, element_shape=[]))
        _, _, w_rows, loss_rows = tf.while_loop(lambda i, *_: i < epochs, body, (0, w0, *rows))
        return w_rows.stack(), loss_rows.stack()

    loop = compiled._reused("xla", "float32", 1, True)
    w0 = tf.constant([SEED.w0], tf.float32)
    bare = tf.function(no_schedule, jit_compile=True, autograph=False)
    pow64 = tf.function(lambda n: tf_exponential_decay(tf.range(n), 0.2, 1, 0.99, False), jit_compile=True, autograph=False)
    pow32 = tf.function(
        lambda n: tf.pow(tf.constant(0.99, tf.float32), tf.cast(tf.range(n), tf.float32)), jit_compile=True, autograph=False
    )
    per_step = {
        "the xla loop (`run` minus Python)": _best(lambda: [t.numpy() for t in loop(w0, lengths, integers, floats)], 5),
        "the same loop with a constant lr (no schedule)": _best(lambda: [t.numpy() for t in bare(w0, tf.constant(0.1, tf.float32))], 5),
        "float64 schedule alone, as a vector (XLA: libm `pow` per element)": _best(lambda: pow64(count).numpy(), 5),
        "float32 `pow` alone, as a vector (what optax computes)": _best(lambda: pow32(count).numpy(), 5),
    }
    lines = [
        "### Measured with the tables (`decaybench.bench.diagnose`)",
        "",
        f"- vector, 1e7 float32: the step compiles to {_kernels(step_hlo)}"
        f" (optimized HLO of `xla_step`). One step: {_seconds(step)}; XLA's simplest kernel over the same bytes (`-x`,"
        f" one read and one write): {_seconds(kernel)}; `np.copyto`: {_seconds(copy)}. So one XLA kernel reaches"
        f" {copy / kernel:.0%} of the copy floor, and the step {copy / step:.0%}.",
        f"- long, {epochs:.0e} epochs, ns per step:",
    ]
    lines += [f"  - {name}: {seconds / epochs * 1e9:.1f}" for name, seconds in per_step.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m decaybench.bench [--quick] --output docs/benchmarks.md [--notes FILE]``: the docs page."""
    import argparse

    from decaybench.files import check_writable, write_atomic

    parser = argparse.ArgumentParser(prog="python -m decaybench.bench", description=main.__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", required=True)
    parser.add_argument("--notes", help="Markdown appended after the tables (the analysis of missed targets)")
    args = parser.parse_args(argv)
    output = check_writable(args.output)
    notes = open(args.notes, encoding="utf-8").read() if args.notes else ""
    report = run_benchmarks(quick=args.quick, progress=True)
    write_atomic(output, markdown(report, notes + "\n\n" + diagnose()))
    return 0
