"""A local worker process of ``multiworker`` (or of ``mirrored``'s fallback), run as ``python -m`` this module.

Started, fed and stopped by :class:`decaybench.modes.distributed.local_supervisor.LocalCluster`;
not for direct use. Role ``multiworker`` reads its place in the cluster from ``TF_CONFIG``; role
``mirrored`` splits its CPU into logical devices. It speaks :mod:`decaybench.modes.distributed.protocol`:
jobs as JSON lines on stdin, ``@stage``, ``@epoch``, ``@done`` and ``@error`` lines on stdout.

A worker never exits on its own after a run: a peer may still be pulling its share of a
collective from it. It waits on stdin, and leaves (``os._exit``, skipping TensorFlow's teardown)
when the supervisor closes stdin. It dies with its supervisor (``PR_SET_PDEATHSIG``).

A test may ask a worker to misbehave once (:data:`decaybench.test_hooks.WORKER_FAULT`; carried out
by :class:`decaybench.modes.distributed.faults.Fault`).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from decaybench.modes.distributed import protocol
from decaybench.modes.distributed.faults import Fault, summary
from decaybench.modes.distributed.protocol import ROLES, Job
from decaybench.modes.distributed.shared_checkpoints import open_shared

PR_SET_PDEATHSIG = 1


class Worker:
    """What one worker process does: report, join, then run jobs until stdin closes."""

    def __init__(self, role: str, index: int) -> None:
        self.role = role
        self.index = index
        self.fault = Fault.from_environment(index)
        self.job = 0

    def report(self, kind: str, *fields: object) -> None:
        print(protocol.message(kind, *fields), flush=True)

    def maybe_fail(self, where: str) -> None:
        fault = self.fault
        if fault is not None and fault.where == where:
            self.fault = None
            fault.strike()

    def join(self, intra_op_threads: int, collective_seconds: float) -> Any:
        """Import TensorFlow, pin its thread pool, and make the strategy: the first op of the process."""
        # Imported here, not at module level: the worker reports "started" (and may strike at
        # "start") before TensorFlow loads.
        import tensorflow as tf

        from decaybench.modes.distributed import training  # loads TensorFlow

        self.report(protocol.STAGE, protocol.IMPORTED)
        self.maybe_fail("join")
        self.report(protocol.STAGE, protocol.JOINING)
        # The parent's pool size: Eigen splits a sum of >= 108,388 float32 across the pool's
        # threads, and the emulation assumes the parent's count.
        tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
        if self.role == protocol.MULTIWORKER:
            return training.multiworker_strategy(collective_seconds)
        devices = training.mirrored_devices()
        if devices is None:
            raise RuntimeError("could not split the CPU into logical devices in a fresh process")
        return training.mirrored_strategy(tuple(devices))

    def run_job(self, strategy: Any, job: Job) -> None:
        """Train one configuration; the chief writes the trace; every worker reports its digest."""
        from decaybench.modes.distributed import training  # imports TensorFlow: kept out of the module level, as in join()

        self.job = job.number

        def on_epoch(epoch: int) -> None:
            self.maybe_fail(f"epoch{epoch}")
            self.report(protocol.EPOCH, self.job, epoch)

        checkpoints = None
        if job.checkpoint is not None:
            checkpoints = open_shared(job.checkpoint, job.config, self.role, chief=self.index == 0)
        trace = training.train(strategy, job.config, self.role, on_epoch, checkpoints)
        if self.index == 0:
            protocol.save_trace(trace, job.output)
        self.report(protocol.DONE, self.job, trace.digest())


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent's thread that forked it ends (Linux), even by SIGKILL."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the supervisor's own clean-up must do
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(70)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m decaybench.modes.distributed.local_worker", description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=ROLES, required=True)
    parser.add_argument("--index", type=int, required=True, help="this worker's task index (0: the chief)")
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--intra-op-threads", type=int, required=True)
    parser.add_argument("--collective-seconds", type=float, required=True, help="0: no collective timeout")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Start, join, serve jobs from stdin; exit 0 at end of file, 1 after reporting an error."""
    arguments = _arguments(argv)
    die_with_parent(arguments.parent_pid)
    worker = Worker(arguments.role, arguments.index)
    worker.report(protocol.STAGE, protocol.STARTED)
    try:
        worker.maybe_fail("start")
        strategy = worker.join(arguments.intra_op_threads, arguments.collective_seconds)
        worker.report(protocol.STAGE, protocol.READY)
        for line in sys.stdin:
            worker.run_job(strategy, Job.from_line(line))
    except BaseException as error:  # report any failure, then leave at once
        traceback.print_exc()
        worker.report(protocol.ERROR, worker.job, type(error).__name__, summary(error))
        sys.stderr.flush()
        # No interpreter teardown: after a failed collective, TensorFlow's shutdown can block for seconds.
        os._exit(1)
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
