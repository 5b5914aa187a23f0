"""The groups, one question each: the list of workloads for ``benchmarks/`` and ``decaybench bench``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from decaybench.bench.subjects import (
    _closed_form,
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
    _sweep,
)
from decaybench.bench.workload import (
    DEVICES,
    GROUPS,
    LONG_EPOCHS,
    SCHEDULE_STEPS,
    SEED,
    STEP_PASSES,
    SWEEP_CONFIGS,
    SWEEP_EPOCHS,
    VECTOR_SIZES,
    Workload,
    _placed,
)
from decaybench.config import DecayConfig
from decaybench.modes import REGISTRY

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
        Workload("seed", mode, "mode", device, _placed(device, _run(SEED, mode)), host_only=mode == "numpy", **shape) for mode in REGISTRY
    ]
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
    rows.append(
        Workload("seed", "optax", "peer", device, lambda: _optax_scan(SEED, device), note="optax.sgd, jax.jit of lax.scan", **shape)
    )
    rows.append(Workload("seed", "python floats", "floor", device, _python_loop, host_only=True, **shape))
    rows.append(Workload("seed", "numpy loop", "floor", device, _numpy_loop, host_only=True, note="float32 scalars", **shape))
    return rows


def _long_group(device: str) -> list[Workload]:
    rows = []
    for epochs in LONG_EPOCHS:
        config = DecayConfig(epochs=epochs)
        shape: dict[str, Any] = {"epochs": epochs, "size": 1, "steps": epochs}
        rows.append(Workload("long", "graph", "mode", device, _placed(device, _run(config, "graph")), slow=epochs >= 100_000, **shape))
        rows.append(Workload("long", "xla", "mode", device, _placed(device, _run(config, "xla")), **shape))
        rows.append(
            Workload("long", "optax", "peer", device, functools.partial(_optax_scan, config, device), note="jax.jit of lax.scan", **shape)
        )
        rows.append(
            Workload(
                "long",
                "numpy closed form",
                "floor",
                device,
                functools.partial(_closed_form, epochs),
                host_only=True,
                note="float64 pow + cumprod",
                **shape,
            )
        )
    return rows


def _vector_group(device: str) -> list[Workload]:
    rows = []
    for size in VECTOR_SIZES:
        shape: dict[str, Any] = {"epochs": 1, "size": size, "steps": size, "bytes_moved": STEP_PASSES * 4 * size}
        rows.append(Workload("vector", "function", "mode", device, _placed(device, _step(size, "function")), note="train_step", **shape))
        rows.append(Workload("vector", "xla", "mode", device, _placed(device, _step(size, "xla")), note="xla_step", **shape))
        rows.append(
            Workload(
                "vector", "copy", "floor", device, _copy_floor(size, device), note="np.copyto" if device == "cpu" else "XLA negate", **shape
            )
        )
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
            warmup=False,
            **shape,
        ),
        Workload("schedule", "graph", "mode", device, _placed(device, _schedule(False)), note="ExponentialDecay in tf.function", **shape),
        Workload("schedule", "xla", "mode", device, _placed(device, _schedule(True)), note="ExponentialDecay, jit_compile", **shape),
        Workload(
            "schedule", "numpy power", "floor", device, _numpy_power, host_only=True, note="np.power: SIMD, not libm", warmup=False, **shape
        ),
    ]


def _compile_group(device: str) -> list[Workload]:
    shape: dict[str, Any] = {"epochs": SEED.epochs, "size": SEED.size, "steps": 1}
    rows = [
        Workload("compile", mode, "mode", device, _placed(device, _fresh(mode)), fresh=True, note="a new tf.function per round", **shape)
        for mode in ("function", "graph", "xla")
    ]
    rows.append(
        Workload(
            "compile",
            "xla, new process",
            "mode",
            device,
            lambda: _first_call_in_new_process("xla", device),
            fresh=True,
            slow=True,
            note="run() in a new interpreter, after import",
            mode="xla",
            **shape,
        )
    )
    return rows


def _sweep_group(device: str) -> list[Workload]:
    shape: dict[str, Any] = {"epochs": SWEEP_EPOCHS, "size": 1, "configs": SWEEP_CONFIGS, "steps": SWEEP_CONFIGS * SWEEP_EPOCHS}
    return [
        Workload(
            "sweep",
            "xla sweep",
            "mode",
            device,
            _placed(device, lambda: _sweep(SWEEP_CONFIGS, SWEEP_EPOCHS)),
            note="run_sweep",
            mode="xla",
            **shape,
        ),
        Workload(
            "sweep",
            "xla runs",
            "baseline",
            device,
            _placed(device, lambda: _separate(SWEEP_CONFIGS, SWEEP_EPOCHS)),
            note="one run() per config",
            mode="xla",
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
    ]


_BUILDERS: dict[str, Callable[[str], list[Workload]]] = {
    "seed": _seed_group,
    "long": _long_group,
    "vector": _vector_group,
    "schedule": _schedule_group,
    "compile": _compile_group,
    "sweep": _sweep_group,
}
