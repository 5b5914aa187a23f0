"""The runners of modes ``mirrored`` and ``multiworker``: where each run trains, and who supervises it.

* ``mirrored``: ``tf.distribute.MirroredStrategy`` over every visible GPU, else over
  :data:`~decaybench.modes.distributed.training.CPU_REPLICAS` logical CPU devices. Logical devices
  exist only if they were configured before TensorFlow started its runtime
  (:func:`~decaybench.modes.distributed.training.setup_devices`: the CLI and the test session call
  it at start-up, and so does a ``mirrored`` run that comes first); otherwise the run goes to a
  worker process that configures them (a :class:`~decaybench.modes.distributed.local_supervisor.LocalCluster`
  of role ``mirrored``). One strategy per process; the step is traced once per dtype and size.
* ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` over
  :data:`~decaybench.modes.distributed.local_supervisor.WORKERS` local worker processes
  (``python -m decaybench.modes.distributed.local_worker``) on 127.0.0.1, ring all-reduce over
  gRPC, started and supervised by a ``LocalCluster``. The cluster stays up between runs (a worker
  can join only one cluster in its life, and starting one costs seconds of TensorFlow import),
  and stops at exit, after a failure, or on ``LocalCluster.close``. With ``TF_CONFIG`` set, this
  process joins that cluster instead, as every host of a real cluster does
  (:mod:`decaybench.modes.distributed.real_host`).

What a run computes, and why ``w`` is exact: :mod:`decaybench.modes.distributed.training`.
"""

from __future__ import annotations

from decaybench.checkpoint import CheckpointOptions
from decaybench.config import DecayConfig
from decaybench.modes.distributed import tf_config
from decaybench.modes.distributed.local_supervisor import shared_cluster
from decaybench.modes.distributed.protocol import MIRRORED, MULTIWORKER
from decaybench.modes.distributed.real_host import run_host
from decaybench.modes.distributed.recovery import supervised
from decaybench.modes.distributed.timeouts import current
from decaybench.modes.distributed.training import mirrored_devices, mirrored_strategy, train
from decaybench.progress import epoch_bar
from decaybench.trace import Trace
from decaybench.validation import InvalidValue

__all__ = ["run_mirrored", "run_multiworker"]


def run_mirrored(config: DecayConfig, progress: bool | None = None, *, checkpoint: CheckpointOptions | None = None) -> Trace:
    """``MirroredStrategy`` over the GPUs or CPU_REPLICAS logical CPUs, in this process if it has them.

    ``checkpoint`` saves and resumes as in the single-device modes; it needs the run in this process.
    """
    devices = mirrored_devices()
    if devices is None:
        if checkpoint is not None:
            rule = (
                "needs mode mirrored in this process: call decaybench.modes.distributed.training.setup_devices() before any TensorFlow op"
            )
            raise InvalidValue("checkpoint_dir", str(checkpoint.directory), rule)
        return shared_cluster(MIRRORED).run(config, progress)
    strategy = mirrored_strategy(tuple(devices))
    checkpoints = checkpoint.open(config, "mirrored") if checkpoint is not None else None
    with epoch_bar(config.epochs, progress, "mirrored") as bar:
        return train(strategy, config, "mirrored", lambda epoch: bar.update(), checkpoints)


def run_multiworker(config: DecayConfig, progress: bool | None = None, *, checkpoint: CheckpointOptions | None = None) -> Trace:
    """``MultiWorkerMirroredStrategy`` over WORKERS local processes; the chief returns the trace.

    With ``TF_CONFIG`` in the environment this process is instead one host of the cluster it
    describes, as on a real cluster where every host runs the same command (docs/distributed.md).
    Timeouts and restarts: :func:`decaybench.modes.distributed.timeouts.current`.

    ``checkpoint``: the chief saves the run's state
    (:mod:`decaybench.modes.distributed.shared_checkpoints`); the local cluster, when a worker dies
    or hangs, restarts from the latest checkpoint, up to ``max_restarts`` times
    (:mod:`decaybench.modes.distributed.recovery`).
    """
    spec = tf_config.from_environment()
    if spec is not None:
        return run_host(config, progress, current().timeouts, spec, checkpoint)
    if checkpoint is not None:
        return supervised(shared_cluster(MULTIWORKER), config, progress, checkpoint, current().max_restarts)
    return shared_cluster(MULTIWORKER).run(config, progress)
