r"""Training under ``tf.distribute`` (modes ``mirrored`` and ``multiworker``): the seed's loop, ``w`` split across replicas.

Each of the ``R`` replicas owns a contiguous shard ``[b_r, b_{r+1})`` of ``w`` (the bounds of
``np.array_split``, :func:`shard_bounds`) and computes the loss and its gradient on that shard
only; one batched all-reduce sums both, and every replica applies the same update:

.. math::

    \ell_r = \sum_{b_r \le i < b_{r+1}} (w_i + 1)^2, \qquad
    g = \sum_r \nabla \ell_r, \qquad \ell = \sum_r \ell_r, \qquad w \leftarrow w - \mathrm{lr}\, g

In code, per replica and per epoch (``lr`` from the float64 reference, rounded to ``w``'s dtype)::

    loss = tf.reduce_sum(tf.square(w[begin:end] + 1))           # this replica's shard
    grad = tape.gradient(loss, w)                                 # 2 (w + 1) on the shard, 0 elsewhere
    grad, loss = ctx.all_reduce(ReduceOp.SUM, [grad, loss])       # one batched collective
    w.assign_sub(lr * grad)

**w is exact.** Each element of ``g`` is one non-zero term plus exact zeros (the other replicas'
gradients vanish off their shards), so the all-reduce adds nothing inexact, in any order, over
any number of replicas: ``w`` is bit-identical to the single-device modes for every size.

**The loss is the shard sums added.** ``fl(l_0 + l_1)`` with each ``l_r`` summed in Eigen's
order over its shard; :func:`decaybench.modes.emulation.emulate` with ``shards=`` reproduces it
bit for bit. It equals one ``tf.reduce_sum`` over all of ``w`` when the size is 1 (one shard is
empty) and differs elsewhere by the reordering, within the summation-order bound that
``decaybench verify`` checks (contract ``sharded-sum``; see docs/distributed.md).

The runners (:mod:`decaybench.modes.distributed.runners`) train here, in this process, or have a
local worker (:mod:`decaybench.modes.distributed.local_worker`) or a host of a real cluster
(:mod:`decaybench.modes.distributed.real_host`) train here in theirs.

>>> shard_bounds(17, 2)
(0, 9, 17)
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from typing import Any

import tensorflow as tf
from tensorflow.python.eager import context

from decaybench.checkpoint import Checkpoints
from decaybench.config import DecayConfig
from decaybench.modes._scaffold.recording import Recorder
from decaybench.modes.distributed.faults import DistributedError
from decaybench.modes.distributed.timeouts import COLLECTIVE_SECONDS
from decaybench.trace import Trace

__all__ = [
    "CPU_REPLICAS",
    "joined_strategy",
    "mirrored_devices",
    "mirrored_strategy",
    "multiworker_strategy",
    "replicated_step",
    "setup_devices",
    "shard_bounds",
    "train",
]

CPU_REPLICAS = 2
STEP_CACHE = 32  # (dtype, size) variables and traced steps kept per strategy


# ---- devices and shards -----------------------------------------------------------------------


def setup_devices(count: int = CPU_REPLICAS) -> None:
    """Split the CPU into ``count`` logical devices for ``mirrored``, if nothing decided yet.

    Call after ``import tensorflow`` and before any op: TensorFlow fixes its devices when its
    runtime starts (the first op, variable or ``list_logical_devices``). Does nothing when GPUs
    are visible (``mirrored`` uses them), when ``TF_CONFIG`` makes this process a task of a
    multi-worker cluster, when the CPU's logical devices are already configured, or when the
    runtime has started (:func:`~decaybench.modes.distributed.runners.run_mirrored` then runs in a worker process).
    """
    if tf.config.list_physical_devices("GPU") or "TF_CONFIG" in os.environ:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    if tf.config.get_logical_device_configuration(cpu) is not None:
        return
    # The runtime may have started: its devices are fixed, and this raises.
    with contextlib.suppress(RuntimeError):
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def mirrored_devices() -> list[str] | None:
    """The devices ``mirrored`` replicates over: every GPU, else the first CPU_REPLICAS logical CPUs.

    ``None`` when this process has fewer logical CPUs (its runtime started unsplit). Starts
    the runtime, after :func:`setup_devices` had its chance.
    """
    setup_devices()
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return [device.name for device in gpus]
    cpus = tf.config.list_logical_devices("CPU")
    return [device.name for device in cpus[:CPU_REPLICAS]] if len(cpus) >= CPU_REPLICAS else None


def shard_bounds(size: int, replicas: int) -> tuple[int, ...]:
    """Replica ``r`` owns ``w[b[r]:b[r + 1]]``: contiguous shards as ``np.array_split`` makes them.

    The first ``size % replicas`` shards have one element more; with fewer elements than
    replicas the last shards are empty.

    >>> shard_bounds(1, 2), shard_bounds(10, 3)
    ((0, 1, 1), (0, 4, 7, 10))
    """
    if size < 0 or replicas < 1:
        raise ValueError(f"shard_bounds needs size >= 0 and replicas >= 1, got {size} and {replicas}")
    base, extra = divmod(size, replicas)
    bounds = [0]
    for replica in range(replicas):
        bounds.append(bounds[-1] + base + (1 if replica < extra else 0))
    return tuple(bounds)


# ---- training under a strategy ----------------------------------------------------------------


@functools.lru_cache(maxsize=STEP_CACHE)
def replicated_step(strategy: tf.distribute.Strategy, dtype: str, size: int) -> tuple[tf.Variable, Any]:
    """``w`` mirrored on every replica of ``strategy``, and the compiled step ``lr -> loss``.

    Kept per (strategy, dtype, size): a run assigns ``w0`` to ``w`` and reuses the traced step,
    so a process traces once per dtype and size (a new trace per run costs time and memory).
    """
    with strategy.scope():
        # ONLY_FIRST_REPLICA: the all-reduced update is the same on every replica; assign it once.
        w = tf.Variable(tf.zeros([size], dtype), aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    bounds = shard_bounds(size, strategy.num_replicas_in_sync)
    begins, ends = tf.constant(bounds[:-1], tf.int64), tf.constant(bounds[1:], tf.int64)

    def replica_step(lr: tf.Tensor) -> tf.Tensor:
        context = tf.distribute.get_replica_context()
        replica = context.replica_id_in_sync_group
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(w[tf.gather(begins, replica) : tf.gather(ends, replica)] + 1))
        grad = tape.gradient(loss, w)
        # One call for both: two all-reduces issued by replica threads can pair up mismatched.
        grad, loss = context.all_reduce(tf.distribute.ReduceOp.SUM, [grad, loss])
        w.assign_sub(lr * grad)
        return loss

    def step(lr: tf.Tensor) -> tf.Tensor:
        return strategy.experimental_local_results(strategy.run(replica_step, args=(lr,)))[0]

    return w, tf.function(step, autograph=False).get_concrete_function(tf.TensorSpec([], dtype))


def train(
    strategy: tf.distribute.Strategy,
    config: DecayConfig,
    mode: str,
    on_epoch: Callable[[int], None] | None = None,
    checkpoints: Checkpoints | None = None,
) -> Trace:
    """Run ``config`` under ``strategy``; ``on_epoch(e)`` is called before each epoch's step.

    ``checkpoints`` starts from their state and saves it when due (:mod:`decaybench.checkpoint`).
    """
    w, step = replicated_step(strategy, config.dtype, config.size)
    record = Recorder(config, checkpoints)
    w.assign(record.w0)
    for epoch in range(record.start, config.epochs):
        if on_epoch is not None:
            on_epoch(epoch)
        lr = config.schedule.lr(epoch)
        loss = step(tf.constant(lr, config.dtype))
        if record.wants(epoch):
            record.add(w.numpy(), loss.numpy(), lr)
        record.finished(epoch, w.numpy)
    return record.trace(mode)


@functools.cache
def mirrored_strategy(devices: tuple[str, ...]) -> tf.distribute.MirroredStrategy:
    """One ``MirroredStrategy`` per device set and process.

    Every ``MirroredStrategy`` numbers its collectives from the same class-wide base, and the
    process's collective executor remembers each number's shape: a second strategy would reuse
    them ("Shape mismatch in the collective instance"). TensorFlow's own tests move the base
    before each new strategy; so does this.
    """
    tf.distribute.MirroredStrategy._collective_key_base += 100_000
    return tf.distribute.MirroredStrategy(devices=list(devices))


def multiworker_strategy(collective_seconds: float) -> tf.distribute.MultiWorkerMirroredStrategy:
    """The worker's strategy: ring all-reduce over gRPC, collectives aborted after ``collective_seconds``.

    Must be the process's first TensorFlow call that starts the runtime; TF_CONFIG says the cluster.
    """
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING,
        timeout_seconds=collective_seconds or None,
    )
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def bound_join(seconds: float) -> None:
    """Make TensorFlow's join give up after ``seconds`` when a task of ``TF_CONFIG`` never registers.

    ``MultiWorkerMirroredStrategy`` configures the coordination service only if nothing did before;
    this configures it as the strategy would (the leader is the chief, else worker 0; jobs chief
    and worker) plus a registration timeout, and a barrier at registration, so that the leader
    gives up too (without it, a leader whose peer never registers waits with Python's lock held,
    where no Python timeout can fire). Call it before :func:`joined_strategy`.
    """
    cluster = tf.distribute.cluster_resolver.TFConfigClusterResolver().cluster_spec()
    leader = "chief" if "chief" in cluster.jobs else "worker"
    eager = context.context()
    milliseconds = max(1, int(seconds * 1000))
    eager.configure_coordination_service(
        service_type="standalone", service_leader=f"/job:{leader}/replica:0/task:0", cluster_register_timeout_in_ms=milliseconds
    )
    config = eager.coordination_service
    if "cluster_register_with_barrier" in config.DESCRIPTOR.fields_by_name:  # a field of recent TensorFlow versions only
        config.cluster_register_with_barrier = True
    for job in ("chief", "worker"):
        if job in cluster.jobs:
            config.coordinated_job_list.add(name=job, num_tasks=cluster.num_tasks(job))


@functools.cache
def joined_strategy(collective_seconds: float = COLLECTIVE_SECONDS) -> tf.distribute.MultiWorkerMirroredStrategy:
    """This process's place in the cluster ``TF_CONFIG`` describes: one strategy per process."""
    try:
        return multiworker_strategy(collective_seconds)
    except (RuntimeError, ValueError) as error:
        raise DistributedError(
            f"cannot join the cluster of TF_CONFIG: {error}. Run mode multiworker before any other TensorFlow op in the process "
            "(with TF_CONFIG set, one command per host: decaybench run --mode multiworker)",
            None,
            "could not join",
        ) from error
