"""Bit-exact NumPy emulation of TensorFlow's CPU ``tf.reduce_sum`` (full reduction).

TensorFlow's ``Sum`` kernel (``tensorflow/core/kernels/reduction_ops_common.h``)
first simplifies the shape: a 1-element input is *copied* (no arithmetic at
all), any other input is viewed as 1-D and evaluated by Eigen as
``out.device(ThreadPoolDevice) = in.reduce(axes, internal::SumReducer<T>())``,
i.e. by ``internal::FullReducer<Self, Op, ThreadPoolDevice>::run`` in
``unsupported/Eigen/CXX11/src/Tensor/TensorReduction.h``.  The stock x86-64
pip wheel is built for AVX (no AVX-512), so the packet (SIMD) width ``P`` is
8 lanes for float32 (``Packet8f``) and 4 lanes for float64 (``Packet4d``).
Every ``+`` below is one IEEE add rounded to the input dtype; the order is:

1. Thread sharding (``FullReducer<..., ThreadPoolDevice>::run``).
   ``num_threads = TensorCostModel<ThreadPoolDevice>::numThreads(n, cost,
   device.numThreads())`` (``TensorCostModel.h``).  The per-coefficient cost
   is ``sizeof(T) * 11/64`` (``TensorOpCost`` of the ``TensorMap`` load,
   ``kLoadCycles = 11/64`` per byte) plus ``functor_traits<SumReducer<T>>::Cost
   / P`` where that ``Cost`` is the *unspecialised default 10* (Eigen only
   specialises ``reducer_traits`` for ``SumReducer``), i.e. 1.9375 cycles
   (float32) and 3.875 cycles (float64).  Then ``threads = int((n*cost -
   kStartupCycles) / kPerThreadCycles + 0.9)`` with ``kStartupCycles =
   kPerThreadCycles = 100000``, clamped to ``[1, device.numThreads()]``:
   2 threads from n = 108388 (float32) / 54194 (float64), k threads from
   ``n*cost >= 100000*k + 10000``.  With one thread the result is
   ``InnerMostDimReducer::reduce(0, n)``.  Otherwise ``blocksize = n //
   num_threads`` (integer division), ``numblocks = n // blocksize`` shards
   ``[i*blocksize, (i+1)*blocksize)`` and a tail shard ``[numblocks*blocksize,
   n)`` (0 if empty), combined as ``((tail + shard_0) + shard_1) + ...``.

2. Tree (``InnerMostDimReducer<Self, Op, true, true>``).  A range of
   ``m > P * kLeafSize`` (``kLeafSize = LeafSize<T>() = 1024``) values starting
   at ``first`` is split at the packet-aligned absolute index
   ``split = P * divup(first + divup(m, 2), P)``;
   ``result = (0 + reduce(left)) + reduce(right)``.

3. Leaf (``InnerMostDimReducer<Self, Op, true, false>``).  If ``m >= 4P``,
   four packet accumulators ``p0..p3`` (initialised to 0) take packets
   ``4k, 4k+1, 4k+2, 4k+3`` in sequence over the first
   ``VectorizedSize4 = (m // 4P) * 4P`` values, then
   ``p0 = ((p0 + p1) + p2) + p3``; the remaining whole packets are added
   into ``p0``; the remaining ``m % P`` scalars are added one by one into
   ``accum = 0``.  The leaf value is ``finalizeBoth(accum, p0) = accum +
   predux(p0)``.

4. ``predux`` (``arch/AVX`` + ``arch/SSE`` ``predux``): the two 128-bit halves
   are added lane-wise, ``h[i] = p[i] + p[i + P/2]``, then the SSE horizontal
   sum gives ``(h0 + h2) + (h1 + h3)`` for float32 and ``h0 + h1`` for
   float64.

**float16 and bfloat16** (measured against TF 2.21's ``tf.reduce_sum``, 6 random vectors for each
of 27 sizes from 3 to 8193, and 2 to 5 for each of 32 sizes up to 300,000: every one bit for bit).
float16 runs the same algorithm on Eigen's ``half``: ``P = 8`` (``Packet8h``), ``LeafSize<half>() =
200``, the cost model with ``sizeof(half) = 2`` (2 threads from n = 69,020), every ``+`` rounded to
float16 (computed in float32 and rounded once, which is the correctly rounded float16 sum), except
``predux``, which converts the packet to float32, sums it in the float32 order above and rounds
once. bfloat16 is summed as float32 (``x.astype(float32)``, this algorithm in float32) and the
result rounded once to bfloat16. A model that adds in float16 throughout (``predux`` included)
matched 86 of 162 float16 vectors; float32 accumulation rounded once, 120 of 162.

``device.numThreads()`` is the size of TensorFlow's intra-op thread pool:
``tf.config.threading.get_intra_op_parallelism_threads()`` if set (non-zero),
else the ``TF_NUM_INTRAOP_THREADS`` environment variable, else the number of
CPUs the process may run on (``sched_getaffinity``).  This module cannot see
a value set through ``tf.config``; pass it as ``num_threads`` in that case.

XLA (``tf.function(jit_compile=True)``) does *not* use this kernel, and
:func:`xla_sum_of_squares` writes out its order instead (read from the optimized
HLO of ``reduce_sum(square(w + 1))``, then checked bit for bit against mode
``xla`` by ``tests/properties/test_xla_model.py``). For ``n <= 32`` XLA keeps one
fused loop, ``acc = 0; acc += x_i * x_i`` in index order, whose multiply-add LLVM
contracts into one FMA where the CPU has it. Beyond, XLA's tree-reduction rewrite
pads ``x * x`` with zeros to a multiple of 32, ``pad // 2`` before and the rest
after (``reduce-window(size=32 stride=32 pad=lo_hi)``), sums each window in order
from 0, and repeats on the window sums until at most 32 are left, which it sums
in order. Padding is exact: squares are never ``-0``, so ``+0`` changes no bit.
"""

from __future__ import annotations

import os

import numpy as np

from decaybench.rounding import flush_subnormals as ftz
from decaybench.rounding import fused_multiply_subtract

__all__ = ["default_num_threads", "eigen_num_threads", "eigen_sum", "xla_sum_of_squares"]

_LEAF_SIZE = 1024  # Eigen LeafSize<float/double>()
_HALF_LEAF_SIZE = 200  # Eigen LeafSize<half>()
_STARTUP_CYCLES = 100000.0  # TensorCostModel::kStartupCycles
_PER_THREAD_CYCLES = 100000.0  # TensorCostModel::kPerThreadCycles
_LOAD_CYCLES = 1.0 / 64 * 11  # TensorCostModel::totalCost kLoadCycles
_INT_MAX = 2147483647.0
_FUNCTOR_COST = 10.0  # default internal::functor_traits<T>::Cost
_XLA_WINDOW = 32  # XLA:CPU TreeReductionRewriter's reduce_window_size


def _packet_size(dtype: np.dtype) -> int:
    """Return the AVX packet width (lanes) for ``dtype``."""
    if dtype in (np.float32, np.float16):  # float16: Packet8h, eight halves in 128 bits
        return 8
    if dtype == np.float64:
        return 4
    raise TypeError(f"eigen_sum supports float32/float64/float16/bfloat16, got {dtype}")


def default_num_threads() -> int:
    """Size of TensorFlow's default intra-op thread pool on this machine.

    ``TF_NUM_INTRAOP_THREADS`` if set to a positive integer, else the number
    of CPUs this process is allowed to run on.

    >>> default_num_threads() >= 1
    True
    """
    env = os.environ.get("TF_NUM_INTRAOP_THREADS", "")
    try:
        value = int(env)
    except ValueError:
        value = 0
    if value > 0:
        return value
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def eigen_num_threads(n: int, dtype: np.dtype | type, max_threads: int) -> int:
    """Threads Eigen's ``TensorCostModel<ThreadPoolDevice>::numThreads`` picks.

    ``n`` is the number of summed values, ``max_threads`` the pool size
    (``device.numThreads()``).

    >>> eigen_num_threads(108387, np.float32, 2), eigen_num_threads(108388, np.float32, 2)
    (1, 2)
    >>> eigen_num_threads(54193, np.float64, 2), eigen_num_threads(54194, np.float64, 2)
    (1, 2)
    """
    dtype = np.dtype(dtype)
    packet = _packet_size(dtype)
    # TensorOpCost(sizeof(T), 0, 0) of the TensorMap load plus
    # TensorOpCost(0, 0, functor_traits<SumReducer<T>>::Cost, true, P).  Eigen
    # only specialises reducer_traits (AddCost = 1) for SumReducer, so
    # functor_traits falls back to its default Cost = 10; vectorised compute
    # cycles are divided by the packet size.
    bytes_loaded = float(dtype.itemsize)
    compute_cycles = _FUNCTOR_COST / packet
    # TensorOpCost::total_cost(load, store, compute) with 0 bytes stored and
    # kDeviceCyclesPerComputeCycle = 1, evaluated in the same order as in C++.
    per_coeff = _LOAD_CYCLES * bytes_loaded + _LOAD_CYCLES * 0.0 + 1.0 * compute_cycles
    cost = float(n) * per_coeff
    threads = (cost - _STARTUP_CYCLES) / _PER_THREAD_CYCLES + 0.9
    threads = min(threads, _INT_MAX)
    return int(min(max_threads, max(1, int(threads))))


def _divup(a: int, b: int) -> int:
    return -(-a // b)


def _tree_leaves(first: int, m: int, packet: int, out: list[tuple[int, int]], leaf: int = _LEAF_SIZE) -> None:
    """Append, in order, the ``(first, length)`` leaves of Eigen's reduction tree (``leaf``: ``LeafSize<T>()``)."""
    if m > packet * leaf:
        split = packet * _divup(first + _divup(m, 2), packet)
        num_left = min(split - first, m)
        _tree_leaves(first, num_left, packet, out, leaf)
        if num_left < m:
            _tree_leaves(split, m - num_left, packet, out, leaf)
    else:
        out.append((first, m))


def _tree_combine(
    first: int, m: int, packet: int, leaf: dict[tuple[int, int], np.floating], zero: np.floating, size: int = _LEAF_SIZE
) -> np.floating:
    """Combine leaf values exactly as ``InnerMostDimReducer<..., true, true>`` (``size``: ``LeafSize<T>()``)."""
    if m > packet * size:
        split = packet * _divup(first + _divup(m, 2), packet)
        num_left = min(split - first, m)
        accum = zero + _tree_combine(first, num_left, packet, leaf, zero, size)
        if num_left < m:
            accum = accum + _tree_combine(split, m - num_left, packet, leaf, zero, size)
        return accum
    return leaf[(first, m)]


def _predux(p: np.ndarray) -> np.ndarray:
    """Horizontal packet sum (last axis) in Eigen's AVX/SSE lane order; a float16 packet is summed
    in float32 and rounded once (``predux<Packet8h>``: ``half(predux(half2float(p)))``)."""
    if p.dtype == np.float16:
        return _predux(p.astype(np.float32)).astype(np.float16)
    half = p.shape[-1] // 2
    h = p[..., :half] + p[..., half:]  # _mm_add_ps(lo128, hi128)
    if half == 4:  # float32: movehl then movehdup/shuffle
        return (h[..., 0] + h[..., 2]) + (h[..., 1] + h[..., 3])
    return h[..., 0] + h[..., 1]  # float64: unpackhi


def _leaf_group(x: np.ndarray, starts: np.ndarray, m: int, packet: int) -> np.ndarray:
    """Values of all leaves of length ``m`` starting at ``starts`` (vectorised)."""
    dtype = x.dtype
    k = starts.size
    p0 = np.zeros((k, packet), dtype=dtype)
    start = 0
    if m >= 4 * packet:
        v4 = (m // (4 * packet)) * (4 * packet)
        rows = v4 // (4 * packet)
        windows = np.lib.stride_tricks.sliding_window_view(x, v4)
        block = windows[starts].reshape(k, rows, 4, packet)
        acc = np.zeros((k, 4, packet), dtype=dtype)
        for r in range(rows):  # sequential per accumulator, as in the C++ loop
            acc += block[:, r]
        p0 = ((acc[:, 0] + acc[:, 1]) + acc[:, 2]) + acc[:, 3]
        start = v4
    vectorized = (m // packet) * packet
    for j in range(start, vectorized, packet):
        idx = starts[:, None] + (j + np.arange(packet))
        p0 = p0 + x[idx]
    accum = np.zeros(k, dtype=dtype)
    for j in range(vectorized, m):
        accum = accum + x[starts + j]
    return accum + _predux(p0)


def _reduce_ranges(x: np.ndarray, ranges: list[tuple[int, int]], packet: int) -> list[np.floating]:
    """``InnerMostDimReducer::reduce`` for each ``(first, length)`` range."""
    size = _HALF_LEAF_SIZE if x.dtype == np.float16 else _LEAF_SIZE
    leaves: list[tuple[int, int]] = []
    for first, m in ranges:
        _tree_leaves(first, m, packet, leaves, size)
    by_len: dict[int, list[int]] = {}
    for first, m in leaves:
        by_len.setdefault(m, []).append(first)
    values: dict[tuple[int, int], np.floating] = {}
    for m, firsts in by_len.items():
        starts = np.asarray(firsts, dtype=np.intp)
        vals = _leaf_group(x, starts, m, packet)
        for f, v in zip(firsts, vals, strict=True):
            values[(f, m)] = v
    zero = x.dtype.type(0)
    return [_tree_combine(first, m, packet, values, zero, size) for first, m in ranges]


def eigen_sum(x: np.ndarray, num_threads: int | None = None) -> np.floating:
    """Sum ``x`` bit-for-bit like TensorFlow's CPU ``tf.reduce_sum(x)``.

    Parameters
    ----------
    x:
        float32 or float64 array (flattened; a full reduction is computed).
    num_threads:
        Size of TensorFlow's intra-op thread pool (``device.numThreads()``).
        ``None`` (or 0) uses :func:`default_num_threads`.  Only matters for
        ``n >= 108388`` (float32) / ``n >= 54194`` (float64).

    Returns
    -------
    A NumPy scalar of the same dtype as ``x``.

    >>> import numpy as np
    >>> x = np.full(1000, 0.1, dtype=np.float32)
    >>> bool(eigen_sum(x) == np.float32(99.99998))  # np.sum(x) gives 100.000015
    True
    >>> float(eigen_sum(np.arange(5, dtype=np.float64)))
    10.0
    """
    x = np.ascontiguousarray(x).reshape(-1)
    if x.dtype == np.dtype("bfloat16"):  # summed in float32 and rounded once (module doc)
        return x.dtype.type(eigen_sum(x.astype(np.float32), num_threads))  # float32 -> bfloat16: round to nearest even
    packet = _packet_size(x.dtype)  # raises TypeError for other dtypes
    n = x.size
    zero = x.dtype.type(0)
    if n == 0:
        return zero
    if n == 1:  # ReductionOp copies a single-element input unchanged
        return x[0]
    if num_threads is None or num_threads == 0:  # 0 means "default", as in TF
        num_threads = default_num_threads()
    if num_threads < 0:
        raise ValueError(f"num_threads must be >= 0 or None, got {num_threads}")
    threads = eigen_num_threads(n, x.dtype, int(num_threads))
    if threads == 1:
        return _reduce_ranges(x, [(0, n)], packet)[0]
    blocksize = n // threads
    numblocks = n // blocksize if blocksize > 0 else 0
    ranges = [(i * blocksize, blocksize) for i in range(numblocks)]
    tail = numblocks * blocksize < n
    if tail:
        ranges.append((numblocks * blocksize, n - numblocks * blocksize))
    values = _reduce_ranges(x, ranges, packet)
    final = values[-1] if tail else zero
    for v in values[:numblocks]:
        final = final + v
    return final


def xla_sum_of_squares(x: np.ndarray, fused: bool) -> np.floating:
    """``sum(x * x)`` in the order XLA:CPU compiles ``reduce_sum(square(x))`` (module doc).

    ``fused``: the ``n <= 32`` loop's multiply-add rounds once (``fma(x_i, x_i, acc)``), as
    LLVM contracts it on a CPU with FMA; otherwise each square and each add rounds. Every
    result is flushed to zero when subnormal (FTZ), as the emulation does.

    ``9 + (1 + 2**-22)**2 = 10 + 2**-21 + 2**-44``: rounding the square first drops ``2**-44``
    and leaves a tie at half an ulp of 10 (``2**-20``), which goes to even, 10; one rounding
    goes up, to ``10 + 2**-20``:

    >>> x = np.array([3.0, 1 + 2**-22], dtype=np.float32)
    >>> float(xla_sum_of_squares(x, fused=False)), float(xla_sum_of_squares(x, fused=True)) == 10 + 2**-20
    (10.0, True)
    """
    x = np.ascontiguousarray(x).reshape(-1)
    total = x.dtype.type(0)
    if x.size <= _XLA_WINDOW:
        for value in x:
            total = ftz(fused_multiply_subtract(total, -value, value) if fused else total + ftz(value * value))
        return x.dtype.type(total)
    parts = ftz(x * x)
    while parts.size > _XLA_WINDOW:
        pad = -parts.size % _XLA_WINDOW
        windows = np.concatenate([np.zeros(pad // 2, x.dtype), parts, np.zeros(pad - pad // 2, x.dtype)])
        windows = windows.reshape(-1, _XLA_WINDOW)
        parts = np.zeros(len(windows), x.dtype)
        for column in windows.T:
            parts = ftz(parts + column)
    for value in parts:
        total = ftz(total + value)
    return x.dtype.type(total)
