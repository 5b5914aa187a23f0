"""``tf.reduce_sum``'s order written out in XLA ops, so that a compiled loss rounds as Eigen's does.

:mod:`decaybench._reduction` reads Eigen's full reduction as three layers: thread shards, a binary
tree over packet-aligned halves, and leaves of at most ``1024`` packets summed by four packet
accumulators, then the leftover packets, then the leftover scalars, then ``accum + predux(p0)``.
XLA's own ``reduce`` promises no order (it sums in windows of 32), so this module never asks it
to sum: every addition below is one elementwise ``add`` on slices, in Eigen's order.

The leaves differ in length, so :func:`layout` maps ``x`` (with a zero appended at index ``n``)
into one ``[leaves, width]`` matrix: each row holds one leaf as ``R`` rows of ``4P`` values, ``Q``
packets and ``S`` scalars, the shortest leaves padded with zeros: zero rows *before* their rows
(``0 + 0 + ... + b_0 = b_0``, Eigen starts its accumulators at 0), zero packets and scalars
*after* theirs (``a + 0 = a``). Padding is exact because the summands are squares: never ``-0``,
so adding ``+0`` changes no bit (NaN stays NaN). The map is an input of the compiled loop, not a
constant, so XLA neither folds nor embeds it; one ``gather`` per step moves the values.

The tree and the shards combine the leaf values level by level, each level one gather and one
add of ``[..., nodes]`` vectors, in the order of ``_reduction._tree_combine``; Eigen's ``0 +
left`` is dropped, exact for the same reason.

float16 sums with ``LeafSize<half>() = 200`` and ``predux`` in float32, rounded once; bfloat16 is
summed as float32 (its plan is float32's) and rounded once (:mod:`decaybench._reduction`).

>>> plan = layout(100, "float32", threads=1)
>>> plan.index.shape, plan.rows, plan.packets, plan.scalars
((1, 100), 3, 0, 4)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from decaybench._reduction import _HALF_LEAF_SIZE, _packet_size, _tree_leaves, default_num_threads, eigen_num_threads

__all__ = ["Plan", "layout", "ordered_sum"]

_LEAF = 1024  # Eigen's LeafSize<T>(): a leaf holds at most this many packets


@dataclass(frozen=True)
class Plan:
    """How to sum ``n`` values in Eigen's order.

    Attributes:
        index: int32 ``[leaves, width]``: position in ``x`` (``n``: the appended zero) per slot.
        packet: lanes per packet ``P``; ``rows``, ``packets``, ``scalars``: the leaf layout.
        levels: per tree level, the ``(left, right)`` node ids added into the next ids.
        shards: the node ids of the thread shards' results, tail first (Eigen adds them in order).
    """

    index: np.ndarray
    packet: int
    rows: int
    packets: int
    scalars: int
    levels: tuple[tuple[np.ndarray, np.ndarray], ...]
    shards: tuple[int, ...]


def _ranges(n: int, threads: int) -> tuple[list[tuple[int, int]], bool]:
    """Eigen's thread shards ``(first, length)``: the blocks, then the tail if any."""
    if threads == 1:
        return [(0, n)], False
    blocksize = n // threads
    ranges = [(i * blocksize, blocksize) for i in range(n // blocksize)]
    tail = len(ranges) * blocksize < n
    if tail:
        ranges.append((len(ranges) * blocksize, n - len(ranges) * blocksize))
    return ranges, tail


def _tree(
    first: int, m: int, packet: int, leaves: dict[tuple[int, int], int], nodes: list[tuple[int, int, int]], leaf: int = _LEAF
) -> tuple[int, int]:
    """``(node id, height)`` of the subtree over ``[first, first + m)``; internal nodes go to ``nodes``."""
    if m <= packet * leaf:
        return leaves[(first, m)], 0
    split = packet * -(-(first + -(-m // 2)) // packet)
    left, left_height = _tree(first, split - first, packet, leaves, nodes, leaf)
    right, right_height = _tree(split, m - (split - first), packet, leaves, nodes, leaf)
    height = max(left_height, right_height) + 1
    nodes.append((left, right, height))
    return len(leaves) + len(nodes) - 1, height


def layout(n: int, dtype: str, threads: int | None = None) -> Plan:
    """The plan for summing ``n >= 2`` values of ``dtype`` as ``tf.reduce_sum`` does with a pool of
    ``threads`` (default: :func:`decaybench._reduction.default_num_threads`, as the emulation)."""
    kind = np.dtype("float32" if dtype == "bfloat16" else dtype)  # bfloat16 is summed as float32
    packet, leaf_size = _packet_size(kind), _HALF_LEAF_SIZE if kind == np.float16 else _LEAF
    used = eigen_num_threads(n, kind, threads or default_num_threads())
    ranges, tail = _ranges(n, used)
    found: list[tuple[int, int]] = []
    for first, m in ranges:
        _tree_leaves(first, m, packet, found, leaf_size)
    quad = 4 * packet
    rows = max(m // quad for _, m in found)
    packets = max(m % quad // packet for _, m in found)
    scalars = max(m % packet for _, m in found)
    index = np.full((len(found), rows * quad + packets * packet + scalars), n, dtype=np.int32)
    for leaf, (first, m) in enumerate(found):
        body, extra = m // quad * quad, m % quad // packet * packet
        index[leaf, (rows * quad - body) : rows * quad] = np.arange(first, first + body)
        index[leaf, rows * quad : rows * quad + extra] = np.arange(first + body, first + body + extra)
        index[leaf, rows * quad + packets * packet :][: m % packet] = np.arange(first + body + extra, first + m)
    ids = {leaf: i for i, leaf in enumerate(found)}
    nodes: list[tuple[int, int, int]] = []
    roots = [_tree(first, m, packet, ids, nodes, leaf_size)[0] for first, m in ranges]
    levels = []
    for height in range(1, max((h for *_, h in nodes), default=0) + 1):
        at = [(left, right) for left, right, h in nodes if h == height]
        levels.append((np.array([a for a, _ in at]), np.array([b for _, b in at])))
    # Node ids must follow the concatenation order: renumber internal nodes by level.
    order = [i for h in range(1, len(levels) + 1) for i, (*_, hh) in enumerate(nodes) if hh == h]
    renamed = {len(found) + old: len(found) + new for new, old in enumerate(order)}

    def rename(node: int) -> int:
        return renamed.get(int(node), int(node))

    levels = [(np.vectorize(rename)(a).astype(np.int32), np.vectorize(rename)(b).astype(np.int32)) for a, b in levels]
    shards = [rename(root) for root in roots]
    shards = shards[-1:] + shards[:-1] if tail else shards
    return Plan(index, packet, rows, packets, scalars, tuple(levels), tuple(shards))


def _predux(p: Any) -> Any:
    """Eigen's horizontal sum of a packet (last axis): halves lane-wise, then SSE's order; a float16
    packet in float32, rounded once."""
    if p.dtype.name in ("half", "float16"):
        import tensorflow as tf

        return tf.cast(_predux(tf.cast(p, tf.float32)), tf.float16)
    half = p.shape[-1] // 2
    h = p[..., :half] + p[..., half:]
    if half == 4:
        return (h[..., 0] + h[..., 2]) + (h[..., 1] + h[..., 3])
    return h[..., 0] + h[..., 1]


def _leaves(slots: Any, plan: Plan) -> Any:
    """The value of each leaf, ``[..., leaves]``, from its slots ``[..., leaves, width]``."""
    import tensorflow as tf

    packet, quad = plan.packet, 4 * plan.packet
    batch = slots.shape[:-1].as_list()
    p0 = None
    if plan.rows:
        block = tf.reshape(slots[..., : plan.rows * quad], [*batch, plan.rows, 4, packet])
        acc = block[..., 0, :, :]
        for row in range(1, plan.rows):  # each accumulator in sequence, as Eigen's loop
            acc = acc + block[..., row, :, :]
        p0 = ((acc[..., 0, :] + acc[..., 1, :]) + acc[..., 2, :]) + acc[..., 3, :]
    for j in range(plan.packets):
        begin = plan.rows * quad + j * packet
        p0 = slots[..., begin : begin + packet] if p0 is None else p0 + slots[..., begin : begin + packet]
    accum = None
    for j in range(plan.scalars):
        value = slots[..., plan.rows * quad + plan.packets * packet + j]
        accum = value if accum is None else accum + value
    if p0 is None:
        return accum
    return _predux(p0) if accum is None else accum + _predux(p0)


def ordered_sum(squares: Any, plan: Plan, index: Any) -> Any:
    """Sum ``squares`` (``[..., n]``, never ``-0``) over the last axis in Eigen's order.

    ``index`` is ``plan.index`` as a tensor input (see the module doc).
    """
    import tensorflow as tf

    padded = tf.concat([squares, tf.zeros_like(squares[..., :1])], axis=-1)
    values = _leaves(tf.gather(padded, index, axis=-1), plan)
    for left, right in plan.levels:
        values = tf.concat([values, tf.gather(values, left, axis=-1) + tf.gather(values, right, axis=-1)], axis=-1)
    total = values[..., plan.shards[0]]
    for shard in plan.shards[1:]:
        total = total + values[..., shard]
    return total
