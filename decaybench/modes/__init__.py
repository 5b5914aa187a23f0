"""The registry of execution modes: the one list that the CLI, ``verify``, the tests and the
benchmarks iterate. Adding a mode is one runner ``run_<name>(config, progress=None) -> Trace``
plus one entry.

>>> tuple(REGISTRY)[:1]
('eager',)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from decaybench.config import DecayConfig
    from decaybench.trace import Trace

__all__ = ["REGISTRY", "VARIANTS", "Contract", "ModeSpec", "contract_of"]

Contract = Literal["exact", "fused-update", "sharded-sum"]
"""What a mode promises against the emulation of record; :data:`decaybench.bounds.BOUNDS` maps each to its bound."""


@dataclass(frozen=True)
class ModeSpec:
    """One mode: its name, where its runner lives, and what it promises.

    Attributes:
        name: the name users pass as ``mode``.
        target: ``"module:function"`` of the runner, imported on first use so that a mode's
            framework (TensorFlow, ...) loads only when that mode runs.
        summary: one line for ``decaybench modes``.
        contract: what it promises against the emulation of record: ``"exact"`` (bit for bit),
            ``"fused-update"`` (within :func:`decaybench.bounds.fused_update_bound`) or
            ``"sharded-sum"`` (w bit for bit; the loss a sum of per-replica sums, within
            :func:`decaybench.bounds.summation_order_bound`).
    """

    name: str
    target: str
    summary: str
    contract: Contract = "exact"

    def runner(self) -> Callable[[DecayConfig, bool | None], Trace]:
        """The runner ``(config, progress) -> Trace``, imported on demand."""
        module, _, attribute = self.target.partition(":")
        runner: Callable[[DecayConfig, bool | None], Trace] = getattr(importlib.import_module(module), attribute)
        return runner


REGISTRY: dict[str, ModeSpec] = {
    spec.name: spec
    for spec in (
        ModeSpec("eager", "decaybench.modes.eager:run_eager", "the seed's loop: tf.Variable, GradientTape, assign_sub"),
        ModeSpec("function", "decaybench.modes.compiled:run_function", "one tf.function per step, lr passed as a tensor"),
        ModeSpec("graph", "decaybench.modes.compiled:run_graph", "the whole loop in one tf.function (AutoGraph, TensorArray)"),
        ModeSpec("xla", "decaybench.modes.compiled:run_xla", "the whole loop with jit_compile=True", contract="fused-update"),
        ModeSpec("xla-exact", "decaybench.modes.exact:run_xla_exact", "the whole loop with jit_compile=True, products kept rounded"),
        ModeSpec("keras", "decaybench.modes.keras:run_keras", "tf.keras SGD with decaybench.ExponentialDecay as its learning rate"),
        ModeSpec("fit", "decaybench.modes.fit:run_fit", "model.fit with SGD(learning_rate=decaybench.ExponentialDecay)"),
        ModeSpec("callback", "decaybench.modes.fit:run_callback", "model.fit, constant-rate SGD set per epoch by LearningRateScheduler"),
        ModeSpec("numpy", "decaybench.modes.emulation:run_numpy", "NumPy emulation rounding every operation as TensorFlow does"),
        ModeSpec(
            "mirrored",
            "decaybench.modes.distributed.runners:run_mirrored",
            "MirroredStrategy over 2 logical CPUs (or the GPUs), w split across the replicas",
            contract="sharded-sum",
        ),
        ModeSpec(
            "multiworker",
            "decaybench.modes.distributed.runners:run_multiworker",
            "MultiWorkerMirroredStrategy over 2 local worker processes, ring all-reduce over gRPC",
            contract="sharded-sum",
        ),
    )
}

# emulate(config, fused=True) names its traces "numpy-fused": no mode users run, but the
# arithmetic of xla (one rounding per update), so it keeps xla's contract.
VARIANTS: dict[str, Contract] = {"numpy-fused": REGISTRY["xla"].contract}


def contract_of(mode: str) -> Contract | None:
    """The contract of a trace's ``mode``: the registry's, or a variant's; ``None`` for others.

    >>> contract_of("eager"), contract_of("numpy-fused"), contract_of("tf.keras")
    ('exact', 'fused-update', None)
    """
    spec = REGISTRY.get(mode)
    return spec.contract if spec is not None else VARIANTS.get(mode)
