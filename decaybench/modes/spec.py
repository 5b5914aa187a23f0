"""What one execution mode is: :class:`ModeSpec`, and the names its fields take.

:mod:`decaybench.modes` holds the built-in specs and the registry; this module holds no mode.

>>> ModeSpec("plain", "mypkg.modes:run_plain", "a per-epoch Python loop").contract
'exact'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from decaybench.config import DecayConfig
from decaybench.trace import Trace
from decaybench.validation import DTYPES

__all__ = ["ORDERS", "SEED_ORDER", "Arrays", "Contract", "Counts", "ModeSpec", "Policy", "Store", "UpdateOrder"]

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
            seed's float32 and float64; :data:`decaybench.modes.ALL_DTYPES` adds float16 and bfloat16, which a
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

        >>> from decaybench.modes import BUILTIN
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
