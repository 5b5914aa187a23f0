"""The registry of execution modes: the one home of what each mode is.

It is the one list that the CLI, ``verify``, the tests and the benchmarks iterate.

Adding a mode is one runner ``run_<name>(config, progress=None) -> Trace`` plus one
:class:`ModeSpec`: an entry of :data:`BUILTIN` here, or, from another distribution, an entry point
in the group ``decaybench.modes`` whose value is the ``ModeSpec`` (``mymode = mypkg.modes:SPEC``).
:data:`REGISTRY` holds both, the declared modes loaded on first use.

>>> tuple(REGISTRY)[:1]
('eager',)
>>> plain = ModeSpec("plain", "mypkg.modes:run_plain", "a per-epoch Python loop")
>>> plain.several_steps, plain.checkpoints, plain.keeps_rows, plain.step_ns, plain.sweep
(None, None, True, None, False)
>>> plain.tensorflow, plain.cluster, plain.loop, plain.policy
(True, False, None, None)
"""

from __future__ import annotations

from collections.abc import Sequence

from decaybench.modes.registry import GROUP, ModeWarning, Registry
from decaybench.modes.spec import ORDERS, SEED_ORDER, Contract, ModeSpec, UpdateOrder
from decaybench.validation import DTYPES

__all__ = [
    "ALL_DTYPES",
    "BUILTIN",
    "GROUP",
    "ORDERS",
    "REGISTRY",
    "SEED_ORDER",
    "VARIANTS",
    "Contract",
    "ModeSpec",
    "ModeWarning",
    "Registry",
    "UpdateOrder",
    "contract_of",
    "modes_for",
    "update_orders",
]


_COMPILED = "decaybench.modes.compiled:tracing_counts"
ALL_DTYPES = DTYPES
"""float32, float64, float16 and bfloat16."""
# The compiled modes' update orders, measured bit for bit (tests/properties/test_half_dtypes.py):
# for size > 1 Grappler's arithmetic optimizer (function, graph) and XLA's algebraic simplifier
# (xla, xla-exact) multiply the two scalars lr and 2 first; graph's size-1 loop, where lr is [1],
# is reassociated to (lr*x)*2 by Grappler alone (disabling "arithmetic_optimization" restores the seed's order).
# XLA leaves bfloat16 alone: its CPU backend computes bfloat16 in float32 with a convert around each
# operation, so the pattern it rewrites in the other dtypes does not appear.
_HOISTED: UpdateOrder = "(lr*2)*x"
_XLA_REORDERS = ("float32", "float64", "float16")

BUILTIN: dict[str, ModeSpec] = {
    spec.name: spec
    for spec in (
        ModeSpec(
            "eager",
            "decaybench.modes.eager:run_eager",
            "the seed's loop: tf.Variable, GradientTape, assign_sub",
            checkpoints="tensorflow",
            dtypes=ALL_DTYPES,
        ),
        ModeSpec(
            "function",
            "decaybench.modes.compiled:run_function",
            "one tf.function per step, lr passed as a tensor",
            checkpoints="tensorflow",
            traces=_COMPILED,
            dtypes=ALL_DTYPES,
            update_order=(SEED_ORDER, _HOISTED),
        ),
        # step_ns: the seed's epoch on one CPU core, 2026 (graph's while loop pays ~60 us per iteration).
        ModeSpec(
            "graph",
            "decaybench.modes.compiled:run_graph",
            "the whole loop in one tf.function (tf.while_loop, TensorArray)",
            checkpoints="tensorflow",
            keeps_rows=False,
            step_ns=(60_000.0, 25.0),
            traces=_COMPILED,
            loop="decaybench.modes.compiled:GRAPH",
            dtypes=ALL_DTYPES,
            update_order=("(lr*x)*2", _HOISTED),
        ),
        ModeSpec(
            "xla",
            "decaybench.modes.compiled:run_xla",
            "the whole loop with jit_compile=True",
            contract="fused-update",
            checkpoints="tensorflow",
            keeps_rows=False,
            step_ns=(80.0, 2.5),
            traces=_COMPILED,
            sweep=True,
            loop="decaybench.modes.compiled:XLA",
            dtypes=ALL_DTYPES,
            update_order=(SEED_ORDER, _HOISTED),
            reorders=_XLA_REORDERS,
        ),
        ModeSpec(
            "xla-exact",
            "decaybench.modes.exact:run_xla_exact",
            "the whole loop with jit_compile=True, products kept rounded",
            checkpoints="tensorflow",
            keeps_rows=False,
            step_ns=(60.0, 8.0),
            traces="decaybench.modes.exact:tracing_count",
            sweep=True,
            loop="decaybench.modes.exact:XLA_EXACT",
            dtypes=ALL_DTYPES,
            update_order=(SEED_ORDER, _HOISTED),
            reorders=_XLA_REORDERS,
        ),
        ModeSpec(
            "keras",
            "decaybench.modes.keras:run_keras",
            "tf.keras SGD with decaybench.ExponentialDecay as its learning rate",
            checkpoints="tensorflow",
            policy="loop",
            dtypes=ALL_DTYPES,
        ),
        ModeSpec(
            "fit",
            "decaybench.modes.fit:run_fit",
            "model.fit with SGD(learning_rate=decaybench.ExponentialDecay)",
            several_steps="steps",
            checkpoints="tensorflow",
            schedule_arrays="update",
            policy="fit",
            dtypes=ALL_DTYPES,
        ),
        ModeSpec(
            "callback",
            "decaybench.modes.fit:run_callback",
            "model.fit, constant-rate SGD set per epoch by LearningRateScheduler",
            several_steps="epochs",
            checkpoints="tensorflow",
            schedule_arrays="update",
            policy="fit",
            dtypes=ALL_DTYPES,
        ),
        ModeSpec(
            "numpy",
            "decaybench.modes.emulation:run_numpy",
            "NumPy emulation rounding every operation as TensorFlow does",
            checkpoints="numpy",
            keeps_rows=False,
            schedule_arrays="epoch",
            tensorflow=False,
            dtypes=ALL_DTYPES,
        ),
        ModeSpec(
            "mirrored",
            "decaybench.modes.distributed.runners:run_mirrored",
            "MirroredStrategy over 2 logical CPUs (or the GPUs), w split across the replicas",
            contract="sharded-sum",
            checkpoints="tensorflow",
            dtypes=ALL_DTYPES,
        ),
        ModeSpec(
            "multiworker",
            "decaybench.modes.distributed.runners:run_multiworker",
            "MultiWorkerMirroredStrategy over 2 local worker processes, ring all-reduce over gRPC",
            contract="sharded-sum",
            checkpoints="tensorflow",
            cluster=True,
            # measured bit for bit in float16; bfloat16 fails in the variable's first broadcast
            dtypes=("float32", "float64", "float16"),
            dtypes_why="TensorFlow's CollectiveBcastSend has no bfloat16 kernel",
        ),
    )
}

REGISTRY = Registry(BUILTIN)

# emulate(config, fused=True) names its traces "numpy-fused": no mode users run, but the
# arithmetic of xla (one rounding per update), so it keeps xla's contract.
VARIANTS: dict[str, Contract] = {"numpy-fused": BUILTIN["xla"].contract}


def contract_of(mode: str) -> Contract | None:
    """The contract of a trace's ``mode``: the registry's, or a variant's; ``None`` for others.

    >>> contract_of("eager"), contract_of("numpy-fused"), contract_of("tf.keras")
    ('exact', 'fused-update', None)
    """
    spec = REGISTRY.get(mode)
    return spec.contract if spec is not None else VARIANTS.get(mode)


def modes_for(dtype: str) -> tuple[str, ...]:
    """The registry's modes that run ``dtype`` (:attr:`ModeSpec.dtypes`), in registry order: what
    ``verify`` and ``plot`` run by default.

    >>> "multiworker" in modes_for("float16"), "multiworker" in modes_for("bfloat16")
    (True, False)
    """
    return tuple(name for name, spec in REGISTRY.items() if dtype in spec.dtypes)


def update_orders(modes: Sequence[str], size: int, dtype: str) -> tuple[UpdateOrder, ...]:
    """The seed's order, then each other order ``modes`` update in for a ``w`` of ``size`` ``dtype``
    values: the emulations ``verify`` holds them to (and the memory check counts).

    >>> update_orders(("eager", "graph", "xla"), 2, "float16")
    ('lr*(x*2)', '(lr*2)*x')
    """
    return tuple(dict.fromkeys((SEED_ORDER, *(REGISTRY[mode].order_at(size, dtype) for mode in modes))))
