"""The groups, one question each: the list of workloads for ``benchmarks/`` and ``decaybench bench``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from decaybench.bench.checkpoint_subjects import checkpoint_group
from decaybench.bench.exact_step import exact_step
from decaybench.bench.grid_subjects import GRID_SHAPES, fresh_sweep, grid_floor, grid_metrics, grid_runs
from decaybench.bench.native import native_floor
from decaybench.bench.subjects import (
    _compiled_call,
    _copy_floor,
    _first_call_in_new_process,
    _fresh,
    _numpy_loop,
    _numpy_power,
    _optax_scan,
    _optax_vmap,
    _peer,
    _python_loop,
    _reference_schedule,
    _run,
    _schedule,
    _separate,
    _step,
    _sweep_configs,
)
from decaybench.bench.workload import (
    DEVICES,
    FLOAT64,
    GROUPS,
    LONG_EPOCHS,
    NATIVE,
    OPTAX_FLOAT32,
    OPTAX_FLOAT64,
    SCHEDULE_STEPS,
    SEED,
    SMALL,
    STEP_PASSES,
    SWEEP_CONFIGS,
    SWEEP_EPOCHS,
    VECTOR_SIZES,
    XLA_CALL,
    Call,
    Workload,
    _placed,
    long_config,
)
from decaybench.config import DecayConfig
from decaybench.modes import REGISTRY
from decaybench.sweep import sweep_modes

# ---- the list -----------------------------------------------------------------------------------


def workloads(group: str, devices: Sequence[str] = DEVICES) -> list[Workload]:
    """Every workload of ``group`` on each of ``devices``, in table order."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}, got {group!r}")
    found: list[Workload] = []
    for device in devices:
        found.extend(_BUILDERS[group](device))
    return found


def _seed_group(device: str) -> list[Workload]:
    shape: dict[str, Any] = {"epochs": SEED.epochs, "size": SEED.size, "steps": SEED.epochs}
    rows = [
        Workload("seed", mode, "mode", device, _placed(device, _run(SEED, mode)), host_only=not REGISTRY[mode].tensorflow, **shape)
        for mode in REGISTRY
    ]
    # run()'s bare compiled call, each round just after a timed run(seed, "xla"): the target "seed run
    # overhead" divides the two. Timed one after the other, a second apart, the pair read 0.65x to 2.05x
    # on this shared machine (a run cannot be faster than its own call); interleaved, 1.2x.
    after_xla = [workload.name for workload in rows].index("xla") + 1
    call = _placed(device, _compiled_call(SEED, "xla"))
    paired = ("xla", _placed(device, _run(SEED, "xla")))
    note = "run()'s compiled call, bare; each round after a run(seed, 'xla')"
    rows.insert(after_xla, Workload("seed", XLA_CALL, "floor", device, call, note=note, interleaved=paired, **shape))
    rows.append(
        Workload(
            "seed",
            "tf.keras",
            "peer",
            device,
            _placed(device, _peer("tf.keras", SEED)),
            note="tf.keras's own ExponentialDecay and SGD",
            **shape,
        )
    )
    rows.append(Workload("seed", "torch", "peer", device, _peer("torch", SEED), host_only=True, note="eager, SGD + ExponentialLR", **shape))
    rows += _optax_rows("seed", SEED, device, shape, paired=OPTAX_FLOAT32)
    rows.append(Workload("seed", "python floats", "floor", device, _python_loop, host_only=True, **shape))
    rows.append(Workload("seed", "numpy loop", "floor", device, _numpy_loop, host_only=True, note="float32 scalars", **shape))
    return rows


def _long_group(device: str) -> list[Workload]:
    rows = []
    for epochs in LONG_EPOCHS:
        config = long_config(epochs)
        shape: dict[str, Any] = {"epochs": epochs, "size": 1, "steps": epochs}
        small = _placed(device, _run(long_config(SMALL), "graph")) if epochs >= 100_000 else None
        run_graph = _placed(device, _run(config, "graph"))
        rows.append(Workload("long", "graph", "mode", device, run_graph, slow=small is not None, small=small, **shape))
        rows += _against_the_floor(config, device, shape, "")
        rows += _optax_rows("long", config, device, shape, paired=OPTAX_FLOAT64)
        if epochs == LONG_EPOCHS[-1]:
            rows += _against_the_floor(long_config(epochs, "float64"), device, shape, FLOAT64)
    return rows


def _against_the_floor(config: DecayConfig, device: str, shape: dict[str, Any], suffix: str) -> list[Workload]:
    """xla and xla-exact on ``config``, each round just after a round of the native floor (the limit), and the floor."""
    floor = native_floor(config)
    note = f"{config.dtype}; each round after one of the {NATIVE}"
    rows = [
        Workload("long", f"{mode}{suffix}", "mode", device, _placed(device, _run(config, mode)), note=note, mode=mode,
                 interleaved=(f"{NATIVE}{suffix}", floor), **shape)
        for mode in ("xla", "xla-exact")
    ]  # fmt: skip
    floor_note = f"{config.dtype}; numba, C's pow per epoch, no FMA: the limit"
    return [*rows, Workload("long", f"{NATIVE}{suffix}", "floor", device, floor, host_only=True, note=floor_note, **shape)]


def _optax_rows(group: str, config: DecayConfig, device: str, shape: dict[str, Any], paired: str) -> list[Workload]:
    """optax's own float32 schedule, and the same float64 schedule as ours (jax x64, rounded once to
    float32). The ``paired`` row's rounds each follow one of ``run(config, "xla")``: its target's other side."""
    xla = ("xla", _placed(device, _run(config, "xla")))
    return [
        Workload(
            group, OPTAX_FLOAT32, "peer", device, functools.partial(_optax_scan, config, device),
            note="optax's float32 schedule; jax.jit of lax.scan", interleaved=xla if paired == OPTAX_FLOAT32 else None, **shape,
        ),
        Workload(
            group, OPTAX_FLOAT64, "peer", device, functools.partial(_optax_scan, config, device, True),
            note="the float64 schedule (jax x64), rounded once to float32", interleaved=xla if paired == OPTAX_FLOAT64 else None,
            **shape,
        ),
    ]  # fmt: skip


def _vector_group(device: str) -> list[Workload]:
    rows = []
    for size in VECTOR_SIZES:
        shape: dict[str, Any] = {"epochs": 1, "size": size, "steps": size, "bytes_moved": STEP_PASSES * 4 * size}
        rows.append(Workload("vector", "function", "mode", device, _placed(device, _step(size, "function")), note="train_step", **shape))
        rows.append(Workload("vector", "xla", "mode", device, _placed(device, _step(size, "xla")), note="xla_step", **shape))
        rows.append(Workload("vector", "xla-exact", "mode", device, _placed(device, exact_step(size)), note="xla_exact_step", **shape))
        # The largest size's copy is the target's other side: each of its rounds follows one xla step.
        paired = ("xla", _placed(device, _step(size, "xla"))) if size == VECTOR_SIZES[-1] else None
        note = "np.copyto" if device == "cpu" else "XLA negate"
        rows.append(Workload("vector", "copy", "floor", device, _copy_floor(size, device), note=note, interleaved=paired, **shape))
    return rows


def _schedule_group(device: str) -> list[Workload]:
    shape: dict[str, Any] = {"steps": SCHEDULE_STEPS, "size": SCHEDULE_STEPS}
    return [
        Workload(
            "schedule",
            "reference",
            "reference",
            device,
            _reference_schedule,
            host_only=True,
            note="exponential_decay: libm pow per element",
            slow=True,
            small=functools.partial(_reference_schedule, SMALL),
            **shape,
        ),
        Workload(
            "schedule",
            "graph",
            "mode",
            device,
            _placed(device, _schedule(False)),
            note="ExponentialDecay in tf.function",
            slow=True,
            small=_placed(device, _schedule(False, SMALL)),
            **shape,
        ),
        Workload("schedule", "xla", "mode", device, _placed(device, _schedule(True)), note="ExponentialDecay, jit_compile", **shape),
        Workload(
            "schedule",
            "numpy power",
            "floor",
            device,
            _numpy_power,
            host_only=True,
            note="np.power: SIMD, not libm",
            slow=True,
            small=functools.partial(_numpy_power, SMALL),
            **shape,
        ),
    ]


def _compile_group(device: str) -> list[Workload]:
    shape: dict[str, Any] = {"epochs": SEED.epochs, "size": SEED.size, "steps": 1}
    rows = [
        Workload("compile", mode, "mode", device, _placed(device, _fresh(mode)), fresh=True, note="a new tf.function per round", **shape)
        for mode in ("function", "graph", "xla")
    ]
    for name, cached, note in (
        ("xla, new process", False, "run() in a new interpreter, after import; up to its result"),
        ("xla, new process, cached", True, "the same with XLA's persistent cache (--compile-cache), filled before"),
    ):
        # The seed is small: the new process is the cost, so the untimed run calls the same builder.
        new_process = functools.partial(_first_call_in_new_process, "xla", device, cached)
        rows.append(
            Workload(
                "compile", name, "mode", device, new_process, fresh=True, slow=True, small=new_process, note=note, mode="xla",
                reports="child_first_call_s", **shape,
            )
        )  # fmt: skip
    return rows


def _sweep_group(device: str) -> list[Workload]:
    shape: dict[str, Any] = {"epochs": SWEEP_EPOCHS, "size": 1, "configs": SWEEP_CONFIGS, "steps": SWEEP_CONFIGS * SWEEP_EPOCHS}

    # New configurations in each call: building their schedules is part of a sweep.
    sweep = _placed(device, functools.partial(fresh_sweep, functools.partial(_sweep_configs, SWEEP_CONFIGS, SWEEP_EPOCHS)))
    # The same configurations one run() each (slow: with its small twin), each round just after a round of
    # the sweep (the "sweep vs runs" target divides the pair).
    runs = _placed(device, lambda: _separate(SWEEP_CONFIGS, SWEEP_EPOCHS))
    small = _placed(device, lambda: _separate(SMALL // 4, SMALL))
    return [
        Workload("sweep", "xla sweep", "mode", device, sweep, note="run_sweep, new configs each call", mode="xla", **shape),
        Workload(
            "sweep",
            "xla runs",
            "baseline",
            device,
            runs,
            note="one run() per config; each round after run_sweep",
            mode="xla",
            slow=True,
            small=small,
            interleaved=("xla sweep", sweep),
            **shape,
        ),
        Workload(
            "sweep",
            "optax vmap",
            "peer",
            device,
            lambda: _optax_vmap(SWEEP_CONFIGS, SWEEP_EPOCHS, device),
            note="jax.jit(jax.vmap(scan))",
            **shape,
        ),
        *_grid_rows(device),
    ]


def _grid_rows(device: str) -> list[Workload]:
    # decaybench sweep's engine on its two shapes, against separate runs, the native floor and optax;
    # the floor and optax each timed in turn with xla-exact's grid (the targets divide the pairs).
    rows = []
    for cells, epochs in GRID_SHAPES:
        # A call of the larger shape, or of a run() per cell, takes a second or more: not in --quick.
        big = cells * epochs > 1_000_000
        shape: dict[str, Any] = {"epochs": epochs, "size": 1, "configs": cells, "steps": cells * epochs, "slow": big}
        # A 2 x 2 grid of SMALL epochs: the untimed run of a slow row, through the same builder.
        small = {"cells": 4, "epochs": SMALL}
        at = {"cells": cells, "epochs": epochs}
        for mode in sweep_modes():
            build, tiny = (functools.partial(grid_metrics, **where, mode=mode) for where in (at, small))
            rows.append(_grid_row(f"{mode} grid", "mode", device, build, tiny, note="run_grid", mode=mode, **shape))
        exact = ("xla-exact grid", _placed(device, functools.partial(grid_metrics, **at, mode="xla-exact")))
        floor, tiny = (functools.partial(grid_floor, **where) for where in (at, small))
        note = "numba: one pow per group and epoch, cells inner; each round after run_grid xla-exact"
        rows.append(
            Workload("sweep", "native floor", "floor", device, floor, note=note, host_only=True, interleaved=exact, small=tiny, **shape)
        )
        sweep, tiny = (functools.partial(fresh_sweep, functools.partial(_sweep_configs, w["cells"], w["epochs"])) for w in (at, small))
        rows.append(_grid_row("xla sweep", "mode", device, sweep, tiny, note="run_sweep, new configs each call", mode="xla", **shape))
        runs, tiny = (functools.partial(grid_runs, **where) for where in (at, small))
        rows.append(_grid_row("xla runs", "baseline", device, runs, tiny, note="one run() per cell", **{**shape, "slow": True}))
        vmap = functools.partial(_optax_vmap, cells, epochs, device)
        tiny_vmap = functools.partial(_optax_vmap, small["cells"], small["epochs"], device)
        note = "jax.jit(jax.vmap(scan)); each round after run_grid xla-exact"
        rows.append(Workload("sweep", "optax vmap", "peer", device, vmap, note=note, small=tiny_vmap, interleaved=exact, **shape))
    return rows


def _grid_row(name: str, kind: str, device: str, build: Callable[[], Call], tiny: Callable[[], Call], **shape: Any) -> Workload:
    """A placed row of the grid rows, with its small twin when it is slow."""
    small = _placed(device, tiny) if shape.get("slow") else None
    return Workload("sweep", name, kind, device, _placed(device, build), small=small, **shape)


_BUILDERS: dict[str, Callable[[str], list[Workload]]] = {
    "seed": _seed_group,
    "long": _long_group,
    "vector": _vector_group,
    "schedule": _schedule_group,
    "compile": _compile_group,
    "sweep": _sweep_group,
    "checkpoint": checkpoint_group,
}
