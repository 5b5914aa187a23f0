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

import importlib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from decaybench.config import DecayConfig
from decaybench.trace import Trace
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

GROUP = "decaybench.modes"

Contract = Literal["exact", "fused-update", "sharded-sum"]
"""What a mode promises against the emulation of record; :data:`decaybench.bounds.BOUNDS` maps each to its bound."""
Counts = Literal["steps", "epochs"]
Store = Literal["tensorflow", "numpy"]
Arrays = Literal["epoch", "update"]
Policy = Literal["fit", "loop"]
UpdateOrder = Literal["lr*(x*2)", "(lr*x)*2", "(lr*2)*x"]
"""How a mode associates the update's product ``lr * (1 * (x * 2))`` (:attr:`ModeSpec.update_order`)."""
ORDERS: tuple[UpdateOrder, ...] = get_args(UpdateOrder)
SEED_ORDER: UpdateOrder = "lr*(x*2)"


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class ModeSpec:
    """One mode: everything the rest of decaybench knows about it.

    The defaults describe a plain per-epoch Python loop, so ``ModeSpec(name, target, summary,
    contract)`` is a whole mode: one update per epoch in TensorFlow, on this machine, no
    checkpoints, each recorded row kept as NumPy objects, nothing compiled to count, no sweep.

    Attributes:
        name: the name users pass as ``mode``.
        target: ``"module:function"`` of the runner ``(config, progress) -> Trace``, imported on
            first use so that a mode's framework (TensorFlow, ...) loads only when that mode runs.
        summary: one line for ``decaybench modes``.
        contract: what it promises against the emulation of record: ``"exact"`` (bit for bit),
            ``"fused-update"`` (within :func:`decaybench.bounds.fused_update_bound`) or
            ``"sharded-sum"`` (w bit for bit; the loss a sum of per-replica sums, within
            :func:`decaybench.bounds.summation_order_bound`).
        several_steps: whether it runs ``steps_per_epoch = S > 1``, and what its schedule then
            counts: ``"steps"`` (update ``j`` of epoch ``e`` applies ``lr(e S + j)``, an optimizer
            schedule) or ``"epochs"`` (every update of epoch ``e`` applies ``lr(e)``, a per-epoch
            callback); ``None``: one update per epoch (:mod:`decaybench.steps`).
        checkpoints: how it saves and resumes (its runner then takes the keyword ``checkpoint``,
            :mod:`decaybench.checkpoint`): ``"tensorflow"`` (``tf.train.Checkpoint``) or
            ``"numpy"`` (``state.npz``, no TensorFlow); ``None``: it does not checkpoint.
        keeps_rows: whether it keeps each recorded row as NumPy objects until the run ends, as a
            Python loop does (:class:`~decaybench.modes._scaffold.recording.Recorder`); a compiled loop
            writes its rows straight into the trace's arrays (:mod:`decaybench.memory`).
        schedule_arrays: whether it evaluates the schedule of every ``"epoch"`` or every
            ``"update"`` as arrays before it runs; ``None``: it does not.
        step_ns: ``(ns per epoch, ns per element of w)`` of its compiled loop, which sizes the
            chunks that loop runs in (:func:`decaybench.modes._scaffold.chunks.chunk_length`); ``None``:
            it does not run in chunks.
        traces: ``"module:function"`` that says how many times its compiled functions have been
            traced in this process (an int, or a mapping from mode to int); ``None``: nothing is
            traced, and ``verify`` shows ``-``.
        sweep: whether :func:`decaybench.sweep.run_sweep` and ``decaybench sweep`` offer it; they
            run a vectorised copy of its :attr:`loop`, so a mode from another distribution cannot.
        tensorflow: whether it runs in TensorFlow: the CLI then loads TensorFlow (start-up logging
            held back) before the run, and the benchmarks place it on each device; ``False``:
            NumPy only, on the host.
        cluster: whether one run may be a host of a real cluster described by ``TF_CONFIG``
            (:mod:`decaybench.modes.distributed.tf_config`); ``False``: it runs on this machine.
        loop: ``"module:attribute"`` of its compiled loop (a
            :class:`~decaybench.modes._scaffold.compiled_loop.CompiledLoop`), whose vectorised
            copy a sweep runs; ``None``: it has none. A ``sweep`` mode needs one.
        policy: how it runs under a Keras mixed-precision policy (``DecayConfig.policy``,
            :mod:`decaybench.modes.mixed_keras`): ``"fit"`` (``model.fit`` computes the loss: Keras 3 in
            float32, tf_keras in the compute dtype) or ``"loop"`` (a custom loop: the loss in the compute
            dtype, scaled and unscaled through the ``LossScaleOptimizer``); ``None``: it has no Keras
            model and refuses a policy.
        dtypes: the dtypes of ``w`` it runs (:data:`decaybench.validation.DTYPES`): by default the
            seed's float32 and float64; :data:`ALL_DTYPES` adds float16 and bfloat16, which a
            mode takes when it is held bit for bit to the emulation in them. ``run`` refuses the others.
        dtypes_why: why it takes no other dtype, for ``run``'s refusal (one clause).
        update_order: how its compiled update associates the product ``lr * (1 * (x * 2))``
            (:data:`ORDERS`), for ``size == 1`` and for ``size > 1``: the seed's ``"lr*(x*2)"``, or a
            compiler's rewrite, ``"(lr*x)*2"`` or ``"(lr*2)*x"``. The orders round alike except where
            ``x * 2`` or ``lr * 2`` overflows or ``lr * x`` is subnormal; the emulation takes the order
            (:func:`decaybench.modes.emulation.emulate`), so the mode is held to it bit for bit there too.
        reorders: the dtypes its compiler rewrites the update in (:attr:`update_order`); in the others
            it keeps the seed's order.
    """

    name: str
    target: str
    summary: str
    contract: Contract = "exact"
    several_steps: Counts | None = None
    checkpoints: Store | None = None
    keeps_rows: bool = True
    schedule_arrays: Arrays | None = None
    step_ns: tuple[float, float] | None = None
    traces: str | None = None
    sweep: bool = False
    tensorflow: bool = True
    cluster: bool = False
    loop: str | None = None
    policy: Policy | None = None
    dtypes: tuple[str, ...] = ("float32", "float64")
    dtypes_why: str = "its ModeSpec.dtypes lists no other"
    update_order: tuple[UpdateOrder, UpdateOrder] = (SEED_ORDER, SEED_ORDER)
    reorders: tuple[str, ...] = DTYPES

    def __post_init__(self) -> None:
        choices: dict[str, tuple[Any, ...]] = {
            "contract": get_args(Contract),
            "several_steps": (None, *get_args(Counts)),
            "checkpoints": (None, *get_args(Store)),
            "schedule_arrays": (None, *get_args(Arrays)),
            "policy": (None, *get_args(Policy)),
        }
        for field, allowed in choices.items():
            if getattr(self, field) not in allowed:
                raise ValueError(f"ModeSpec {self.name!r}: {field} must be one of {allowed}, got {getattr(self, field)!r}")
        if not self.dtypes or not set(self.dtypes) <= set(DTYPES):
            raise ValueError(f"ModeSpec {self.name!r}: dtypes must be some of {DTYPES}, got {self.dtypes!r}")
        if len(self.update_order) != 2 or not set(self.update_order) <= set(ORDERS) or not set(self.reorders) <= set(DTYPES):
            raise ValueError(
                f"ModeSpec {self.name!r}: update_order must be two of {ORDERS} and reorders some of {DTYPES}, "
                f"got {self.update_order!r} and {self.reorders!r}"
            )
        if self.sweep and self.loop is None:
            raise ValueError(f"ModeSpec {self.name!r}: sweep=True needs its compiled loop")
        for field in ("target", "traces", "loop"):
            target = getattr(self, field)
            if target is not None and (not isinstance(target, str) or ":" not in target):
                raise ValueError(f"ModeSpec {self.name!r}: {field} must be 'module:function', got {target!r}")

    def order_at(self, size: int, dtype: str) -> UpdateOrder:
        """Its :attr:`update_order` for a ``w`` of ``size`` elements of ``dtype``.

        >>> graph, xla = BUILTIN["graph"], BUILTIN["xla"]
        >>> graph.order_at(1, "float16"), graph.order_at(2, "float16"), xla.order_at(2, "bfloat16")
        ('(lr*x)*2', '(lr*2)*x', 'lr*(x*2)')
        """
        return self.update_order[0 if size == 1 else 1] if dtype in self.reorders else SEED_ORDER

    def runner(self) -> Callable[[DecayConfig, bool | None], Trace]:
        """The runner ``(config, progress) -> Trace``, imported on demand."""
        runner: Callable[[DecayConfig, bool | None], Trace] = _load(self.target)
        return runner

    def tracing_count(self) -> int | None:
        """How many times its compiled functions have been traced so far; ``None`` when :attr:`traces` is."""
        if self.traces is None:
            return None
        count = _load(self.traces)()
        return int(count if isinstance(count, int) else count[self.name])

    def compiled_loop(self) -> Any:
        """Its :class:`~decaybench.modes._scaffold.compiled_loop.CompiledLoop`, imported on demand (it loads TensorFlow)."""
        if self.loop is None:
            raise ValueError(f"mode {self.name!r} has no compiled loop")
        return _load(self.loop)


class ModeWarning(UserWarning):
    """A mode declared by another distribution that is left out: its name is taken, or it does not load."""


class Registry(Mapping[str, ModeSpec]):
    """Modes by name: the ``builtin`` ones, then those that installed distributions declare in the
    entry-point ``group`` (by distribution, then name), loaded once, on first use (so ``import
    decaybench`` stays cheap).

    A declared mode that does not load a :class:`ModeSpec` of its entry point's name, or whose name
    is taken, is left out; :attr:`problems` says why in one line each, naming the distribution, and
    each is a :class:`ModeWarning` when the registry loads.
    """

    def __init__(self, builtin: Mapping[str, ModeSpec], group: str = GROUP) -> None:
        self.builtin, self.group = builtin, group
        self._loaded: tuple[dict[str, ModeSpec], tuple[str, ...]] | None = None

    def _modes(self) -> dict[str, ModeSpec]:
        if self._loaded is None:
            self._loaded = _with_declared(self.builtin, self.group)
            for problem in self._loaded[1]:
                warnings.warn(problem, ModeWarning, stacklevel=3)
        return self._loaded[0]

    @property
    def problems(self) -> tuple[str, ...]:
        """One line per declared mode left out."""
        self._modes()
        assert self._loaded is not None
        return self._loaded[1]

    def __getitem__(self, name: str) -> ModeSpec:
        return (self._loaded[0] if self._loaded is not None else self._modes())[name]  # run() looks up a few times a call

    def __iter__(self) -> Iterator[str]:
        return iter(self._modes())

    def __len__(self) -> int:
        return len(self._modes())


def _with_declared(builtin: Mapping[str, ModeSpec], group: str) -> tuple[dict[str, ModeSpec], tuple[str, ...]]:
    import importlib.metadata  # here: its import (email, zipfile, ...) is paid only when the modes are listed

    modes, homes, problems = dict(builtin), dict.fromkeys(builtin, "the built-in mode"), []
    # By distribution, then name: the order (and who keeps a name both declare) does not hang on the file system.
    declared = sorted(importlib.metadata.entry_points(group=group), key=lambda entry: (entry.dist.name if entry.dist else "", entry.name))
    for entry in declared:
        dist = f"{entry.dist.name} {entry.dist.version}" if entry.dist is not None else "an unnamed distribution"
        where = f"mode {entry.name!r} of distribution {dist} ({entry.name} = {entry.value})"
        try:
            spec = entry.load()
        except Exception as error:  # whatever its module raises: the other modes keep working
            problems.append(f"{where} does not load: {type(error).__name__}: {' '.join(str(error).split())}; left out")
            continue
        if not isinstance(spec, ModeSpec):
            problems.append(f"{where} does not load: it is a {type(spec).__name__}, not a decaybench.modes.ModeSpec; left out")
        elif spec.name != entry.name:
            problems.append(f"{where} does not load: its ModeSpec is named {spec.name!r}, not {entry.name!r}; left out")
        elif spec.sweep:
            problems.append(f"{where} declares sweep=True: decaybench's sweeps run only its own loops; left out")
        elif spec.name in modes:
            problems.append(f"{where} clashes with {homes[spec.name]} {spec.name!r}; left out")
        else:
            modes[spec.name], homes[spec.name] = spec, f"the mode of distribution {dist}"
    return modes, tuple(problems)


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
