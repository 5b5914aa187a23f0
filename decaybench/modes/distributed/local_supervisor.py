"""The local supervisor of distributed runs: worker processes on this machine, their faults, their traces.

A :class:`LocalCluster` starts ``python -m decaybench.modes.distributed.local_worker`` processes
on 127.0.0.1 (free ports, a ``TF_CONFIG`` each, ``PR_SET_PDEATHSIG`` so that none outlives this
process), feeds them configurations, reads their progress lines, and turns any fault (a worker
dying, hanging, or failing to join) into a :class:`~decaybench.modes.distributed.faults.DistributedError`
naming the worker, within its :class:`~decaybench.modes.distributed.timeouts.Timeouts`, after
killing every worker's process group. It imports no TensorFlow: the workers do.

What the supervisor and a worker say to each other is :mod:`decaybench.modes.distributed.protocol`;
how it tells which worker is at fault is :mod:`decaybench.modes.distributed.faults`.

>>> len(set(free_ports(3)))
3
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from decaybench._reduction import default_num_threads
from decaybench.checkpoint import CheckpointOptions
from decaybench.config import DecayConfig
from decaybench.modes.distributed import protocol
from decaybench.modes.distributed.faults import DistributedError, WorkerState, diagnose
from decaybench.modes.distributed.protocol import MULTIWORKER, ROLES, STAGES, Job
from decaybench.modes.distributed.timeouts import GRACE_SECONDS, POLL_SECONDS, TIMEOUTS, Timeouts, current
from decaybench.progress import epoch_bar
from decaybench.trace import Trace

__all__ = ["HOST", "WORKERS", "LocalCluster", "free_ports", "shared_cluster"]

WORKERS = 2
HOST = "127.0.0.1"
EXIT_SECONDS = 5.0  # for a worker to exit once its stdin closes, before it is killed
PORT_RETRIES = 2  # fresh ports when a worker could not bind its port


def free_ports(count: int) -> list[int]:
    """Ports the kernel has just handed out, distinct; a worker may still lose one to a race (retried)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def _read_lines(stream: IO[str], index: int, events: queue.Queue[tuple[int, float, str | None]]) -> None:
    for line in stream:
        events.put((index, time.monotonic(), line.rstrip("\n")))
    events.put((index, time.monotonic(), None))


class LocalCluster:
    """Worker processes started, supervised and stopped by this process; each :meth:`run` is one job.

    Role ``multiworker``: WORKERS processes on 127.0.0.1, free ports chosen when they start, one
    ``TF_CONFIG`` each, forming one ``MultiWorkerMirroredStrategy``. Role ``mirrored``: one process
    whose CPU is split into CPU_REPLICAS logical devices (the fallback of
    :func:`~decaybench.modes.distributed.runners.run_mirrored`).

    A job goes to every worker's stdin as a JSON line; workers report progress on stdout, the
    chief writes the trace as .npz (a temporary file, then ``os.replace``), and every worker sends
    the digest of its trace, which must agree. Between jobs the workers wait on stdin, so none exits
    while a peer may still pull data from it; closing stdin lets them go. Any fault, Ctrl-C
    included, kills every worker's process group before the error propagates; a worker dies with
    this process too (``PR_SET_PDEATHSIG``). A cluster can run again after :meth:`close`.

    Example:
        >>> with LocalCluster("multiworker") as cluster:  # doctest: +SKIP
        ...     trace = cluster.run(DecayConfig())
    """

    def __init__(self, role: str = MULTIWORKER, timeouts: Timeouts = TIMEOUTS) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        self.role = role
        self.timeouts = timeouts
        self.size = WORKERS if role == MULTIWORKER else 1
        self._workers: list[WorkerState] = []
        self._events: queue.Queue[tuple[int, float, str | None]] = queue.Queue()
        self._directory: Path | None = None
        self._released = threading.Event()
        self._lock = threading.RLock()
        self._jobs = 0
        self._started = 0.0
        self._limit = 0.0
        self.first_epoch_at: float | None = None  # time.monotonic() of the chief's first epoch in the latest run
        self.restarts: list[Any] = []  # decaybench.modes.distributed.recovery.Restart, one per restart of a supervised run

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pids(self) -> tuple[int, ...]:
        """The process ids of the current workers (empty when none runs)."""
        return tuple(worker.process.pid for worker in self._workers)

    def run(self, config: DecayConfig, progress: bool | None = None, checkpoint: CheckpointOptions | None = None) -> Trace:
        """Run ``config`` on the workers (starting them if needed) and return the chief's trace.

        With ``checkpoint`` the chief saves the state there and every worker resumes from it.

        Raises:
            DistributedError: a worker died, hung, failed to join, or the workers disagree;
                every worker is stopped first.
        """
        with self._lock:
            self._limit = self.timeouts.run_seconds(config)
            deadline = time.monotonic() + self._limit
            try:
                self._ensure_started(deadline)
                return self._job(config, progress, deadline, checkpoint)
            except BaseException:
                self._stop(graceful=False)
                raise

    def close(self) -> None:
        """Let the workers exit (EOF on their stdin), kill what remains, and clean up. Idempotent."""
        self._stop(graceful=True)

    def _stop(self, graceful: bool) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
            if graceful:
                for worker in workers:
                    with contextlib.suppress(OSError):
                        if worker.process.stdin is not None:
                            worker.process.stdin.close()
                ends = time.monotonic() + EXIT_SECONDS
                for worker in workers:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        worker.process.wait(timeout=max(0.0, ends - time.monotonic()))
            for worker in workers:
                _kill_group(worker.process)
            for worker in workers:
                if worker.reader is not None:
                    worker.reader.join(timeout=EXIT_SECONDS)
            self._released.set()
            if self._directory is not None:
                shutil.rmtree(self._directory, ignore_errors=True)
                self._directory = None

    # -- starting -------------------------------------------------------------------------------

    def _ensure_started(self, deadline: float) -> None:
        if self._workers and not any(worker.exited for worker in self._workers):
            return
        self._stop(graceful=False)  # an idle cluster whose worker died in between: start anew
        for attempt in range(PORT_RETRIES + 1):
            try:
                self._spawn()
                self._pump(lambda: all(w.ready for w in self._workers), None, deadline)
                return
            except DistributedError:
                taken = any(worker.lost_its_port() for worker in self._workers)
                self._stop(graceful=False)
                if not taken or attempt == PORT_RETRIES:
                    raise

    def _spawn(self) -> None:
        self._directory = Path(tempfile.mkdtemp(prefix=f"decaybench-{self.role}-"))
        self._events = queue.Queue()
        self._released = threading.Event()
        self._started = time.monotonic()
        ports = free_ports(self.size) if self.role == MULTIWORKER else []
        spawned: list[WorkerState] = []
        failure: list[BaseException] = []
        done = threading.Event()

        def keep() -> None:
            # PR_SET_PDEATHSIG fires when the *thread* that forked the worker ends: fork from a
            # thread that lives as long as the workers, not from whichever thread called run().
            try:
                for index in range(self.size):
                    spawned.append(self._start_worker(index, ports))
            except BaseException as error:  # reported to the caller below
                failure.append(error)
            finally:
                done.set()
            self._released.wait()

        threading.Thread(target=keep, name=f"decaybench-{self.role}-workers", daemon=True).start()
        done.wait()
        self._workers = spawned
        if failure:
            raise failure[0]

    def _start_worker(self, index: int, ports: Sequence[int]) -> WorkerState:
        assert self._directory is not None
        stderr_path = self._directory / f"worker{index}.stderr"
        command = protocol.worker_command(self.role, index, os.getpid(), default_num_threads(), self.timeouts.collective)
        with open(stderr_path, "w") as stderr:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                bufsize=1,
                env=self._environment(index, ports),
                start_new_session=True,  # its own process group: killed whole, children included
            )
        worker = WorkerState(index, process, stderr_path, last_seen=time.monotonic())
        assert process.stdout is not None
        worker.reader = threading.Thread(target=_read_lines, args=(process.stdout, index, self._events), daemon=True)
        worker.reader.start()
        return worker

    def _environment(self, index: int, ports: Sequence[int]) -> dict[str, str]:
        package_root = str(Path(__file__).resolve().parents[3])
        environ = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, environ.get("PYTHONPATH")]))
        environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        if self.role == MULTIWORKER:
            cluster = {"worker": [f"{HOST}:{port}" for port in ports]}
            environ["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            environ["CUDA_VISIBLE_DEVICES"] = ""  # local workers share one host: CPU replicas, one each
        return environ

    # -- running a job ----------------------------------------------------------------------------

    def _job(self, config: DecayConfig, progress: bool | None, deadline: float, checkpoint: CheckpointOptions | None) -> Trace:
        assert self._directory is not None
        self._jobs += 1
        job = Job(self._jobs, config, self._directory / f"run{self._jobs}.npz", checkpoint)
        self.first_epoch_at = None
        for worker in self._workers:
            worker.job, worker.epoch, worker.digest, worker.last_seen = job.number, -1, None, time.monotonic()
            with contextlib.suppress(OSError):  # a dead worker: the pump below says which and how
                assert worker.process.stdin is not None
                worker.process.stdin.write(job.line())
                worker.process.stdin.flush()
        with epoch_bar(config.epochs, progress, self.role) as bar:
            self._pump(lambda: all(w.digest is not None for w in self._workers), bar, deadline)
        if len({worker.digest for worker in self._workers}) > 1:
            digests = ", ".join(f"worker {w.index}: {w.digest[:12] if w.digest else None}" for w in self._workers)
            raise DistributedError(
                f"{self.role} run {job.number}: the workers hold different traces ({digests})", None, "traces differ", pids=self.pids
            )
        try:
            return protocol.load_trace(job.output, config, self.role)
        finally:
            job.output.unlink(missing_ok=True)

    def _pump(self, finished: Callable[[], bool], bar: Any, deadline: float) -> None:
        """Take the workers' reports until ``finished()``; on the first fault, diagnose and raise."""
        while not finished():
            self._receive(POLL_SECONDS, bar)
            fault = self._fault(deadline)
            if fault is not None:
                raise self._failure(*fault)

    def _receive(self, timeout: float, bar: Any = None) -> None:
        try:
            events = [self._events.get(timeout=timeout)]
        except queue.Empty:
            return
        with contextlib.suppress(queue.Empty):
            while True:
                events.append(self._events.get_nowait())
        for index, seen, line in events:
            if line is not None and index < len(self._workers):
                self._heard(self._workers[index], seen, line, bar)

    def _heard(self, worker: WorkerState, seen: float, line: str, bar: Any) -> None:
        kind, fields = protocol.parse(line) or ("", [])
        if kind == protocol.STAGE and fields[0] in STAGES:
            worker.stage = STAGES.index(fields[0])
        elif kind == protocol.EPOCH and int(fields[0]) == worker.job:
            worker.epoch = int(fields[1])
            if worker.index == 0 and self.first_epoch_at is None:
                self.first_epoch_at = seen
            if bar is not None and worker.index == 0:
                bar.update(worker.epoch + 1 - bar.n)
        elif kind == protocol.DONE and int(fields[0]) == worker.job:
            worker.digest = fields[1]
        elif kind == protocol.ERROR:
            worker.error = f"{fields[1]}: {fields[2] if len(fields) > 2 else ''}".strip()
        else:
            return  # not ours (a library printing on stdout): no sign of progress
        worker.last_seen = seen

    def _fault(self, deadline: float) -> tuple[int | None, str] | None:
        """The first sign of trouble: the worker it concerns (if one) and what it is; or ``None``."""
        now = time.monotonic()
        for worker in self._workers:
            if worker.error is not None or worker.exited:
                return worker.index, f"worker {worker.index} {worker.state(now)}"
        if now > deadline:
            return None, f"the run exceeded its time limit of {self._limit:.0f} s"
        joining = [w for w in self._workers if not w.ready]
        if joining and now - self._started > self.timeouts.startup:
            return min(joining, key=lambda w: w.progress).index, f"the cluster did not start within {self.timeouts.startup:g} s"
        if not joining:
            for worker in self._workers:
                if worker.digest is None and now - worker.last_seen > self.timeouts.stall:
                    return worker.index, f"worker {worker.index} made no progress for {self.timeouts.stall:g} s"
        return None

    def _failure(self, suspect: int | None, first: str) -> DistributedError:
        """Wait GRACE_SECONDS for the other workers' reports, then name the worker at fault."""
        ends = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < ends and not all(w.exited or w.error for w in self._workers):
            self._receive(POLL_SECONDS)
        return diagnose(self.role, self._workers, suspect, first, time.monotonic())


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # its own session: pgid == pid
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=EXIT_SECONDS)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


# One cluster per role for run(): a process-lifetime resource, like TensorFlow's own runtime.
_SHARED: dict[str, LocalCluster] = {}
_SHARED_LOCK = threading.Lock()


def shared_cluster(role: str) -> LocalCluster:
    """The cluster ``run(config, role)`` uses, created on first use and closed at exit.

    Its timeouts are :func:`decaybench.modes.distributed.timeouts.current`'s; other timeouts start a new one.
    """
    timeouts = current().timeouts
    with _SHARED_LOCK:
        cluster = _SHARED.get(role)
        if cluster is None or cluster.timeouts != timeouts:
            if cluster is not None:
                cluster.close()
            cluster = _SHARED[role] = LocalCluster(role, timeouts)
        return cluster


@atexit.register
def _close_shared() -> None:
    for cluster in list(_SHARED.values()):
        cluster.close()
