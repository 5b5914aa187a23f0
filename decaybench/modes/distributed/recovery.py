"""A supervised multiworker run that survives a lost worker: restart the cluster from the last checkpoint.

TensorFlow's answer for ``MultiWorkerMirroredStrategy`` (Keras ``BackupAndRestore``): when a
worker fails, restart every worker and restore the last checkpoint. :func:`supervised` does that
for the local cluster: with checkpoints, a worker that dies (a signal, a non-zero exit) or hangs
past the collective timeout ends the run as it does without recovery (:class:`DistributedError`, every worker
stopped), and then the cluster starts again on fresh ports and resumes from the chief's latest
checkpoint, at most ``max_restarts`` times. The trace is the uninterrupted run's, bit for bit:
resuming is (see :mod:`decaybench.checkpoint`). stderr names each restart::

    decaybench: multiworker restart 1 of 3: worker 1 was killed by SIGKILL in run 2 after starting epoch 263; resuming from epoch 260

:attr:`Restart.seconds` is the recovery time, from the fault (the faulty worker's last report)
to the restored cluster's first epoch.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from decaybench.checkpoint import MANIFEST, CheckpointOptions, Stopped, latest_epoch
from decaybench.config import DecayConfig
from decaybench.messages import say
from decaybench.modes.distributed.faults import DistributedError
from decaybench.modes.distributed.local_supervisor import LocalCluster
from decaybench.trace import Trace

__all__ = ["Restart", "supervised"]


@dataclass
class Restart:
    """One restart: the worker at fault and what happened, the epoch resumed from, and the recovery time."""

    worker: int | None
    fault: str
    resumed_from: int
    fault_at: float
    seconds: float | None = None  # fault to the first epoch after the restore; None until it comes

    def line(self, number: int, limit: int) -> str:
        who = f"worker {self.worker} {self.fault}" if self.worker is not None else self.fault
        return f"decaybench: multiworker restart {number} of {limit}: {who}; resuming from epoch {self.resumed_from}"


def supervised(
    cluster: LocalCluster, config: DecayConfig, progress: bool | None, checkpoint: CheckpointOptions, max_restarts: int
) -> Trace:
    """``cluster.run`` with checkpoints, restarted from the latest checkpoint after a fault, ``max_restarts`` times at most.

    The restarts are kept in ``cluster.restarts``. Raises the last :class:`DistributedError` once
    the restarts are spent, and :class:`Stopped` when the run was asked to stop (``stop_after``).
    """
    cluster.restarts = []
    options = checkpoint
    while True:
        try:
            trace = cluster.run(config, progress, options)
        except DistributedError as error:
            if options.stop_after is not None and "raised Stopped" in error.fault:
                raise Stopped(options.stop_after) from None  # asked for, not a fault
            if len(cluster.restarts) >= max_restarts:
                raise
            resume = (options.directory / MANIFEST).exists()
            restart = Restart(
                error.worker, error.fault, latest_epoch(options.directory) or 0 if resume else 0, error.seen or time.monotonic()
            )
            cluster.restarts.append(restart)
            say(restart.line(len(cluster.restarts), max_restarts))
            options = dataclasses.replace(options, resume=resume)
            continue
        finally:
            if cluster.restarts and cluster.restarts[-1].seconds is None and cluster.first_epoch_at is not None:
                if cluster.first_epoch_at > cluster.restarts[-1].fault_at:
                    cluster.restarts[-1].seconds = cluster.first_epoch_at - cluster.restarts[-1].fault_at
        return trace
