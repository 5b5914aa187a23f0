r"""Mode ``xla-exact``: the whole loop under ``jit_compile=True``, bit for bit the ``eager`` loop.

Plain XLA differs from the seed in two places (README, "What differs, and why"): LLVM contracts a
multiply that feeds an add into one fused multiply-add (``fma``), which skips the product's
rounding, and XLA's ``reduce`` sums in its own order. Both are undone in the graph, without flags.

**The opaque one.** The loop takes ``one``, a tensor equal to 1.0, as an *input*: XLA cannot fold
it (it is a parameter of the computation, not a constant), so every product meant to be rounded
is multiplied by it before it meets an add. Contraction only rewrites ``a * b ± c`` where the
``a * b`` feeds the add directly; it then computes ``a * b ± c`` exactly and rounds once. With
``b = one`` that is ``round(a ± c)``, the unfused add, because ``a * 1 = a`` exactly. The
product ``a`` itself feeds only the multiply by ``one``, never an add, so nothing can contract
it: it is rounded, as TensorFlow's kernel rounds it. Per step, in ``w``'s dtype:

==========================  =================================================================
``x = w + 1``               an add of a loop input and a constant: no product to contract.
``s = (x * x) * one``       the square, rounded; it feeds the loss's adds only through ``* one``.
``loss = eigen_sum(s)``     Eigen's order in elementwise adds (:mod:`._exact_sum`); each add
                            that takes an ``s`` contracts, if at all, to ``fma(x*x, 1, acc)``.
``g = x * 2``               exact (a power of two), as TF's ``Square`` gradient ``1 * (x * 2)``.
``p = (lr * g) * one``      ``lr * g`` rounded; ``lr`` is the float64 schedule cast once.
``w = w - p``               contracts, if at all, to ``fma(-(lr*g), 1, w) = round(w - p)``.
==========================  =================================================================

The gradient is written out rather than taken by ``GradientTape``: ``d/dw sum((w+1)^2)`` is
``1 * (2 (w + 1))`` in TF's graph, and ``1 * y = y`` exactly. XLA's HLO passes do not
reassociate floating-point multiplies or adds (no fast-math: ``xla_cpu_enable_fast_math`` is off
by default on every TF we test), so the graph's roundings are the emulation's roundings.

Assumed: round-to-nearest-even (IEEE default; nothing in TF changes it) and FTZ/DAZ as in TF's
kernels (XLA's code runs on TF's threads, with their MXCSR). The schedule is
:func:`decaybench.schedule.tf_exponential_decay`, whose ``pow`` is the C library's, as the
reference's: ``lr`` is bit for bit the reference's float64 value, rounded once to ``w``'s dtype
exactly as eager's ``lr * grads`` rounds the Python float. (A float64 lr below 2**-1022 is
flushed to zero in the recorded lr, as by every compiled mode's schedule; eager's multiply flushes
it too, so w and the loss do not change.)

**float16 and bfloat16.** XLA:CPU rounds each 16-bit operation to the dtype, as TensorFlow's
kernels do (:mod:`decaybench.rounding`): measured, ``xla-exact`` is the emulation bit for bit
(``tests/properties/test_half_dtypes.py``), and so is plain ``xla``'s w (``tests/test_dtypes.py``). The loss follows TF's sum:
float16 in half packets whose ``predux`` is float32, rounded once; bfloat16 cast to float32, summed
in float32's order and rounded once (:mod:`._exact_sum`).

:func:`exact_update` is the same update for users' own compiled loops.
"""

from __future__ import annotations

import functools
from typing import Any

import tensorflow as tf

from decaybench.checkpoint import CheckpointOptions
from decaybench.config import DecayConfig
from decaybench.modes._exact_sum import Plan, layout, ordered_sum
from decaybench.modes._scaffold.compiled_loop import CompiledLoop
from decaybench.trace import Trace
from decaybench.validation import InvalidType

__all__ = [
    "XLA_EXACT",
    "exact_step",
    "exact_update",
    "loop_step",
    "run_xla_exact",
    "step_inputs",
    "tracing_count",
    "xla_exact_step",
]

_ONES: dict[str, tf.Variable] = {}


def _opaque_one(dtype: tf.DType) -> tf.Variable:
    """A variable holding 1.0: a compiled function reads it as an input, so XLA cannot fold it."""
    if dtype.name not in _ONES:
        with tf.init_scope():  # created eagerly even when first asked for while tracing
            _ONES[dtype.name] = tf.Variable(tf.ones([], dtype), trainable=False, name=f"opaque_one_{dtype.name}")
    return _ONES[dtype.name]


def exact_update(w: Any, lr: Any, g: Any, one: Any = None) -> tf.Tensor:
    r"""``w - lr * g`` with ``lr * g`` rounded, as eager TensorFlow computes it, even under XLA.

    .. math:: w' = \mathrm{round}(w - \mathrm{round}(\mathrm{lr} \cdot g))

    In code: ``w - (lr * g) * one`` with ``one == 1.0`` unknown to the compiler, so that a fused
    multiply-add can only form ``fma(-(lr * g), one, w)``, which is exactly the unfused
    ``w - lr * g`` (the module doc has the proof). Call it inside your own
    ``tf.function(jit_compile=True)``; outside XLA it is the plain update.

    Args:
        w: the parameter, a floating tensor (or variable, or a Python float).
        lr: the learning rate: a tensor of ``w``'s dtype, or a Python or NumPy number (converted to it).
        g: the gradient, ``w``'s dtype and shape (a tensor of ``w``'s dtype, or a number or array).
        one: a tensor equal to 1.0 that the compiler cannot see (an input of your function);
            default: a variable of decaybench's holding 1.0, which XLA reads as an input.

    Returns:
        The updated value, a tensor of ``w``'s dtype.

    Raises:
        InvalidType: as eager ``w - lr * g`` would refuse them, naming the argument: a ``w`` that
            is not floating, a tensor of another dtype than ``w``'s (no silent cast: an integer
            ``w`` would round ``lr`` to 0), or a value that does not convert to it.

    Example (the difference shows on CPUs with FMA, where plain XLA gives ``-0.00048834...``):
        >>> a = 1 + 2**-12
        >>> step = tf.function(lambda w, lr, g: exact_update(w, lr, g), jit_compile=True)
        >>> float(step(tf.constant(1.0), tf.constant(a), tf.constant(a)))
        -0.00048828125
    """
    w = _operand("w", w, None)
    lr, g = _operand("lr", lr, w.dtype), _operand("g", g, w.dtype)
    one = _opaque_one(w.dtype) if one is None else _operand("one", one, w.dtype)
    return w - (lr * g) * one


def _operand(name: str, value: Any, dtype: tf.DType | None) -> Any:
    """``value`` as a floating tensor of ``dtype`` (``None``: its own): tensors keep theirs, numbers convert."""
    if isinstance(getattr(value, "dtype", None), tf.DType):  # a tensor or variable: as eager, no cast
        if dtype is not None and value.dtype != dtype:
            raise InvalidType(name, value.dtype.name, f"must be a tensor of w's dtype {dtype.name} (as eager TensorFlow's w - lr * g)")
    else:
        try:
            value = tf.convert_to_tensor(value, dtype)
        except (TypeError, ValueError) as error:
            raise InvalidType(
                name,
                type(value).__name__,
                f"does not convert to {dtype.name if dtype else 'a tensor'}: {str(error).strip().splitlines()[0]}",
            ) from None
    if not value.dtype.is_floating:
        raise InvalidType(name, value.dtype.name, "must be floating (float16, bfloat16, float32 or float64), as eager TensorFlow's update")
    return value


def exact_step(w: tf.Tensor, lr: tf.Tensor, one: tf.Tensor, plan: Plan | None, index: Any) -> tuple[tf.Tensor, tf.Tensor]:
    """One epoch on ``w`` (``[..., size]``) with ``lr`` (``[...]``, ``w``'s dtype): ``(new w, loss)``.

    ``plan`` and ``index`` order the loss's sum (:mod:`._exact_sum`); ``None`` for ``size == 1``,
    whose sum TensorFlow copies.
    """
    x = w + 1
    squares = (x * x) * one
    if plan is not None and w.dtype == tf.bfloat16:  # TF sums bfloat16 in float32, rounded once
        loss = tf.cast(ordered_sum(tf.cast(squares, tf.float32), plan, index), tf.bfloat16)
    else:
        loss = squares[..., 0] if plan is None else ordered_sum(squares, plan, index)
    return w - (lr[..., tf.newaxis] * (x * 2)) * one, loss


@functools.cache
def _plan(size: int, dtype: str) -> Plan:
    return layout(size, dtype)


@functools.cache
def step_inputs(size: int, dtype: str) -> tuple[tf.Tensor, tf.Tensor]:
    """``one`` and the sum's index map as tensors, made once per dtype and size."""
    index = _plan(size, dtype).index if size > 1 else [[0]]
    return tf.ones([], dtype), tf.constant(index, tf.int32)


def loop_step(w: tf.Tensor, lr: tf.Tensor, one: tf.Tensor, index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """:func:`exact_step` as the compiled loop's step: ``lr`` float64, the sum's plan from ``w``'s size."""
    size = w.shape[-1]
    return exact_step(w, tf.cast(lr, w.dtype), one, None if size == 1 else _plan(size, w.dtype.name), index)


XLA_EXACT = CompiledLoop(loop_step, step_inputs, jit_compile=True)
"""The ``xla-exact`` loop, one function per way of recording (as ``xla``'s)."""


def run_xla_exact(config: DecayConfig, progress: bool | None = None, *, checkpoint: CheckpointOptions | None = None) -> Trace:
    """The whole loop compiled by XLA, bit for bit ``run(config, "eager")``; called once per chunk."""
    return XLA_EXACT.run(config, "xla-exact", progress, checkpoint)


@tf.function(jit_compile=True, autograph=False)
def xla_exact_step(w: tf.Tensor, lr: tf.Tensor, one: tf.Tensor, index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """One epoch of the ``xla-exact`` loop on its own (``decaybench.bench``): ``(new w, loss)``."""
    return loop_step(w, lr, one, index)


def tracing_count() -> int:
    """How many times the ``xla-exact`` loop has been traced in this process."""
    return XLA_EXACT.tracing_count()
