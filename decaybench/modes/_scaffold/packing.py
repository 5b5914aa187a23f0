"""Rows packed as one tensor: ``w``, the loss, then the float64 lr's raw bits, for one read-back.

:data:`~.compiled_loop.ROWS` and :mod:`.scheduled` pack with :func:`pack`; :mod:`.unrolled` packs
``w`` and the loss only, its schedule vector being an output already; :func:`~.compiled_loop.unpacked`
takes the columns apart as views.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["pack"]


def pack(w: tf.Tensor, loss: tf.Tensor, lr: tf.Tensor | None = None) -> tf.Tensor:
    """``[..., size + 1 + k]`` from ``w`` ``[..., size]``, ``loss`` ``[...]`` and the float64 ``lr`` ``[...]``:
    the lr's bits as ``k = 8 / itemsize`` words of ``w``'s width (a bitcast: no rounding). Without
    ``lr``, ``[..., size + 1]``: rows whose lrs are an output of their own (:mod:`.unrolled`).

    float16 and bfloat16 are packed as their uint16 bits: XLA computes a 16-bit float's ``concat``
    through float32, which flushed an lr word that reads as a bfloat16 subnormal (measured: the
    seed's lr at epoch 36 came back 0x5A0000 off) and would quiet a signalling NaN.

    >>> pack(tf.constant([[2.6]]), tf.constant([36.0]), tf.constant([0.2], tf.float64)).shape
    TensorShape([1, 4])
    >>> pack(tf.constant([[2.6]]), tf.constant([36.0])).shape
    TensorShape([1, 2])
    """
    if w.dtype.size == 2:
        w, loss = tf.bitcast(w, tf.uint16), tf.bitcast(loss, tf.uint16)
    if lr is None:
        return tf.concat([w, loss[..., tf.newaxis]], axis=-1)
    words = tf.bitcast(lr, w.dtype)  # [..., k], or [...] when k is 1
    if w.dtype.size == 8:
        words = words[..., tf.newaxis]
    return tf.concat([w, loss[..., tf.newaxis], words], axis=-1)
