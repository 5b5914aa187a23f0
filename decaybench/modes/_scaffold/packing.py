"""Rows packed as one tensor: ``w``, the loss, then the float64 lr's raw bits, for one read-back.

:data:`~.compiled_loop.ROWS` and :mod:`.scheduled` pack with :func:`pack`; :mod:`.unrolled` packs
``w`` and the loss only, its schedule vector being an output already; :func:`~.compiled_loop.unpacked`
takes the columns apart as views.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["layout", "pack", "unpack_w"]


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


def layout(w0: tf.Tensor, lr: bool = True) -> tuple[tf.DType, int]:
    """The dtype and last dimension of :func:`pack`'s rows for ``w`` shaped as ``w0``, with or without ``lr``.

    >>> layout(tf.zeros([3], tf.bfloat16)), layout(tf.zeros([3]), lr=False)
    ((tf.uint16, 8), (tf.float32, 4))
    """
    itemsize = w0.dtype.size
    return tf.uint16 if itemsize == 2 else w0.dtype, w0.shape[-1] + 1 + (8 // itemsize if lr else 0)


def unpack_w(packed_w: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """``w`` in ``dtype`` from the columns :func:`pack` wrote (16-bit floats come as uint16 words).

    >>> w = unpack_w(pack(tf.constant([[2.5]], tf.bfloat16), tf.constant([1.0], tf.bfloat16))[..., :1], tf.bfloat16)
    >>> w.dtype.name, float(w[0, 0])
    ('bfloat16', 2.5)
    """
    return tf.bitcast(packed_w, dtype) if dtype.size == 2 else packed_w
