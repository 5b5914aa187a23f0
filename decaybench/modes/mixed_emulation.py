"""The emulation of record under a Keras mixed-precision policy: every cast, rounding and loss-scale decision.

Per step, with ``C`` the policy's compute dtype (float16 or bfloat16), ``L`` the loss dtype (float32
under Keras 3's ``model.fit``, whose loss casts ``y_pred`` to float32; ``C`` under tf_keras's, and
in a custom loop) and ``s`` the loss scale (1 when the policy does not scale the loss)::

    c = C(w)                      # the autocast read of the float32 variable
    x = L(c) + 1                  # in L: the loss's own cast, then tf.add
    loss = sum_L(x * x)           # tf.square, tf.reduce_sum (the batch mean of one sample is exact)
    g_x = L(s) * (x * 2)          # the gradient of loss * s through tf.square
    g = float32(C(g_x))           # back through the casts to C and to the float32 variable
    finite: w = w - lr * (g / s)  # Keras 3 divides, tf_keras multiplies by 1 / s: both exact, s = 2**k
    not finite: skipped           # Keras 3: iterations stays; tf_keras: iterations + 1

``lr`` is the float64 reference rounded once to float32, at the optimizer's ``iterations``
(``fit``, ``keras``) or at the epoch (``callback``). Why each line rounds as TensorFlow's CPU kernels:

============================  ===================================================================
operation                     why NumPy's result is the kernel's, bit for bit
============================  ===================================================================
``C(w)``, ``C(g_x)``          Cast rounds to nearest even, past C's largest value to inf; NumPy's
                              ``astype`` (float16) and ml_dtypes' (bfloat16) do the same.
``+``, ``*`` in ``C``         Eigen computes a half or bfloat16 op in float32 and rounds once to C;
                              NumPy and ml_dtypes do the same; float32 has ``24 >= 2 p + 2`` bits
                              for both (p = 11, 8), so the double rounding is innocuous.
``L(s)``, ``x * 2``, ``/ s``  exact: a power of two times a value, while no result overflows
                              (``g_x`` then is inf in both) or is subnormal in float32 (flushed).
``+``, ``*``, ``-`` float32   one rounding each, FTZ/DAZ, as :mod:`decaybench.modes.emulation`.
``sum_L``                     float32: Eigen's order (:func:`decaybench._reduction.eigen_sum`);
                              bfloat16: the same in float32, rounded once (measured); float16:
                              one element only (TensorFlow adds float16 packets in half precision).
============================  ===================================================================

The loss-scale state follows :class:`decaybench.loss_scaling.LossScale`. The seed under
``mixed_float16`` skips three steps in both Keras, whose ``iterations`` then differ (the issue's table):

>>> from decaybench.loss_scaling import KerasFlavour
>>> for keras in (KerasFlavour("Keras 3", 3), KerasFlavour("tf_keras 2", 2)):
...     trace = emulate_mixed(DecayConfig(epochs=5, policy="mixed_float16"), "fit", keras)
...     print(trace.scaling.skipped.tolist(), trace.scaling.iterations.tolist(), [f"{w:f}" for w in trace.w[3:, 0]])
[True, True, True, False, False] [0, 0, 0, 1, 2] ['2.600000', '1.174555']
[True, True, True, False, False] [1, 2, 3, 4, 5] ['2.671282', '1.260407']
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np

from decaybench._reduction import eigen_sum
from decaybench.config import DecayConfig
from decaybench.loss_scaling import COMPUTE_DTYPES, KerasFlavour, LossScale, Scaling, scales_loss
from decaybench.modes import REGISTRY
from decaybench.rounding import flush_subnormals as ftz
from decaybench.trace import Trace
from decaybench.validation import InvalidValue

__all__ = ["MixedStep", "emulate_mixed"]

_F32 = np.dtype(np.float32)


def _dtype(name: str) -> np.dtype[np.generic]:
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


@dataclass(frozen=True)
class MixedStep:
    """One step's arithmetic: ``compute`` (C) and ``loss`` (L) dtypes, whether the loss is scaled, and Keras."""

    compute: np.dtype[np.generic]
    loss: np.dtype[np.generic]
    scaled: bool
    keras: KerasFlavour

    @classmethod
    def of(cls, config: DecayConfig, mode: str, keras: KerasFlavour) -> MixedStep:
        """The step of ``mode`` (by :attr:`~decaybench.modes.ModeSpec.policy`) under ``config.policy`` in ``keras``."""
        if config.policy is None or REGISTRY[mode].policy is None:
            raise ValueError(f"mode {mode!r} with policy {config.policy!r} has no mixed step")
        compute = _dtype(COMPUTE_DTYPES[config.policy])
        float32_loss = REGISTRY[mode].policy == "fit" and keras.major == 3
        return cls(compute, _F32 if float32_loss else compute, scales_loss(config.policy), keras)

    def gradient(self, w: np.ndarray, scale: np.float32) -> tuple[np.ndarray, np.float32]:
        """``(g, loss)``: the float32 gradient of ``loss * scale``, still scaled, and the float32 loss."""
        loss_type = self.loss.type
        with np.errstate(over="ignore", invalid="ignore"):
            c = w.astype(self.compute)
            x = ftz(c.astype(_F32) + np.float32(1)) if self.loss == _F32 else (c + loss_type(1)).astype(self.loss)
            squares = ftz(x * x) if self.loss == _F32 else (x * x).astype(self.loss)
            loss = ftz(eigen_sum(squares)) if self.loss == _F32 else _half_sum(squares)
            s = np.asarray(scale if self.scaled else 1, dtype=_F32).astype(self.loss)
            g_x = ftz(s * ftz(x * loss_type(2))) if self.loss == _F32 else (s * (x * loss_type(2))).astype(self.loss)
            return g_x.astype(self.compute).astype(_F32), np.float32(loss)

    def unscale(self, g: np.ndarray, scale: np.float32) -> np.ndarray:
        """Keras 3: ``g / s``; tf_keras: ``g * (1 / s)`` (float32, flushed)."""
        if not self.scaled:
            return g
        return ftz(g / scale) if self.keras.major == 3 else ftz(g * ftz(np.float32(1) / scale))


def _half_sum(squares: np.ndarray) -> np.generic:
    """TensorFlow's CPU ``reduce_sum`` in bfloat16 sums in float32 (Eigen's order) and rounds once (measured);
    in float16 it adds in half precision in an order emulated here for one element only."""
    if squares.dtype == np.dtype(ml_dtypes.bfloat16):
        return np.float32(np.asarray(eigen_sum(squares.astype(_F32))).astype(squares.dtype))
    if squares.size != 1:
        rule = "must be 1 to emulate a float16 loss (mixed_float16 under tf_keras, or in mode keras): its sum order is not emulated"
        raise InvalidValue("size", squares.size, rule)
    return squares.astype(_F32)[0]


def emulate_mixed(config: DecayConfig, mode: str, keras: KerasFlavour) -> Trace:
    """``mode`` under ``config.policy`` as ``keras`` runs it; the trace has :class:`~decaybench.loss_scaling.Scaling`
    when the policy scales the loss, and its lr is the reference at the step the schedule was evaluated at."""
    step = MixedStep.of(config, mode, keras)
    per_epoch = REGISTRY[mode].several_steps == "epochs"  # the callback's lr(epoch); the others lr(iterations)
    state, iterations, skipped_steps, w = LossScale(), 0, 0, np.full(config.size, np.float32(config.w0))
    rows: list[tuple[np.ndarray, np.float32, float, bool, np.float32, int]] = []
    keep = set(config.recorded().tolist())
    for epoch in range(config.epochs):
        first_loss: np.float32 | None = None
        lr_step, skipped = epoch if per_epoch else iterations, False
        for _ in range(config.steps_per_epoch):
            lr64 = config.schedule.lr(epoch if per_epoch else iterations)
            g, loss = step.gradient(w, state.scale)
            first_loss = loss if first_loss is None else first_loss
            finite = bool(np.all(np.isfinite(g)))
            if finite or not step.scaled:
                with np.errstate(over="ignore", invalid="ignore"):
                    w = ftz(w - ftz(ftz(np.float32(lr64)) * step.unscale(g, state.scale)))
            if step.scaled:
                state.update(finite, keras)
            skipped, skipped_steps = skipped or (step.scaled and not finite), skipped_steps + (step.scaled and not finite)
            iterations += 1 if finite or not step.scaled or keras.advances_on_skip else 0
        if epoch in keep and first_loss is not None:
            rows.append((w, first_loss, float(config.schedule.lr(lr_step)), skipped, state.scale, iterations))
    ws, losses, lrs, skips, scales, counts = zip(*rows, strict=True)
    scaling = Scaling(np.array(skips), np.array(scales), np.array(counts), keras, skipped_steps) if step.scaled else None
    return Trace(config.recorded(), np.stack(ws), np.array(losses), np.array(lrs), config, f"numpy-{mode}-{config.policy}", scaling)
