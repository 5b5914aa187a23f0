"""A worker process of ``multiworker`` (or of ``mirrored``'s fallback): ``python -m decaybench.modes._worker``.

Started, fed and stopped by :class:`decaybench.modes.distributed.LocalCluster`; not for direct use.
Role ``multiworker`` reads its place in the cluster from ``TF_CONFIG``; role ``mirrored`` splits
its CPU into logical devices. It speaks :mod:`decaybench.modes.protocol`: jobs as JSON lines on
stdin, ``@stage``, ``@epoch``, ``@done`` and ``@error`` lines on stdout.

A worker never exits on its own after a run: a peer may still be pulling its share of a
collective from it. It waits on stdin, and leaves (``os._exit``, skipping TensorFlow's teardown)
when the supervisor closes stdin. It dies with its supervisor (``PR_SET_PDEATHSIG``).

**Fault injection, for tests only.** ``DECAYBENCH_WORKER_FAULT=<kind>:<worker>:<where>`` makes
worker ``<worker>`` misbehave once, at ``<where>``: ``start`` (before importing TensorFlow),
``join`` (after importing it, before joining the cluster) or ``epoch<N>`` (before the step of
epoch N). ``<kind>`` is ``hang`` (the
Python thread sleeps for ever, TensorFlow's threads stay alive), ``kill`` (SIGKILL to itself),
``exit`` (exit status 3 at once) or ``term`` (SIGTERM to itself, as a scheduler stops a job).
Example: ``DECAYBENCH_WORKER_FAULT=hang:1:epoch3``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from decaybench.modes import protocol
from decaybench.modes.protocol import FAULT_ENV, ROLES, Job

FAULT_KINDS = ("hang", "kill", "exit", "term")
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Fault:
    """A test's request to misbehave: ``kind`` at ``where`` (``start``, ``join`` or ``epoch<N>``) on worker ``worker``."""

    kind: str
    worker: int
    where: str

    @classmethod
    def parse(cls, spec: str) -> Fault | None:
        """``"hang:1:epoch3"`` -> Fault("hang", 1, "epoch3"); empty -> None.

        >>> Fault.parse("kill:0:join")
        Fault(kind='kill', worker=0, where='join')
        """
        if not spec:
            return None
        kind, worker, where = [*spec.split(":"), "", ""][:3]
        place = where in ("start", "join") or (where.startswith("epoch") and where[5:].isdigit())
        if kind not in FAULT_KINDS or not worker.isdigit() or not place:
            raise ValueError(f"{FAULT_ENV} must be <hang|kill|exit|term>:<worker>:<start|join|epochN>, got {spec!r}")
        return cls(kind, int(worker), where)

    def strike(self) -> None:
        """Misbehave now."""
        print(f"decaybench worker: injected fault {self}", file=sys.stderr, flush=True)
        if self.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.kind == "exit":
            os._exit(3)
        if self.kind == "term":  # as a scheduler stops a job; the main thread's handler decides
            os.kill(os.getpid(), signal.SIGTERM)
            return
        while True:
            time.sleep(3600)


class Worker:
    """What one worker process does: report, join, then run jobs until stdin closes."""

    def __init__(self, role: str, index: int, fault: Fault | None) -> None:
        self.role = role
        self.index = index
        self.fault = fault if fault is not None and fault.worker == index else None
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
        import tensorflow as tf

        from decaybench.modes import distributed

        self.report(protocol.STAGE, protocol.IMPORTED)
        self.maybe_fail("join")
        self.report(protocol.STAGE, protocol.JOINING)
        # The parent's pool size: Eigen splits a sum of >= 108,388 float32 across the pool's
        # threads, and the emulation assumes the parent's count.
        tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
        if self.role == protocol.MULTIWORKER:
            return distributed.multiworker_strategy(collective_seconds)
        devices = distributed.mirrored_devices()
        if devices is None:
            raise RuntimeError("could not split the CPU into logical devices in a fresh process")
        return distributed.mirrored_strategy(tuple(devices))

    def run_job(self, strategy: Any, job: Job) -> None:
        """Train one configuration; the chief writes the trace; every worker reports its digest."""
        from decaybench.modes import distributed

        self.job = job.number

        def on_epoch(epoch: int) -> None:
            self.maybe_fail(f"epoch{epoch}")
            self.report(protocol.EPOCH, self.job, epoch)

        checkpoints = None
        if job.checkpoint is not None:
            from decaybench.modes.shared_checkpoints import open_shared

            checkpoints = open_shared(job.checkpoint, job.config, self.role, chief=self.index == 0)
        trace = distributed.train(strategy, job.config, self.role, on_epoch, checkpoints)
        if self.index == 0:
            protocol.save_trace(trace, job.output)
        self.report(protocol.DONE, self.job, trace.digest())


def summary(error: BaseException) -> str:
    r"""The gist of ``error`` on one line: for TensorFlow's errors, the cause without the node's traceback.

    >>> summary(ValueError("Graph execution error:\n\nDetected at node X defined at:\n  File a\n\n  File b\n\nSocket closed\nmore"))
    'Socket closed'
    """
    paragraphs = [part.strip() for part in str(getattr(error, "message", error)).split("\n\n") if part.strip()]
    causes = [part for part in paragraphs if not part.startswith(("Graph execution error", "Detected at node", "File "))] or paragraphs
    return " ".join(causes[0].splitlines()[0].split())[:300] if causes else ""


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
    parser = argparse.ArgumentParser(prog="python -m decaybench.modes._worker", description=__doc__.splitlines()[0])
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
    worker = Worker(arguments.role, arguments.index, Fault.parse(os.environ.get(FAULT_ENV, "")))
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
