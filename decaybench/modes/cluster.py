"""The supervisor of distributed runs: local worker processes, their faults, and their traces.

A :class:`LocalCluster` starts ``python -m decaybench.modes._worker`` processes on 127.0.0.1 (free
ports, a ``TF_CONFIG`` each, ``PR_SET_PDEATHSIG`` so that none outlives this process), feeds them
configurations, reads their progress lines, and turns any fault (a worker dying, hanging, or
failing to join) into a :class:`DistributedError` naming the worker, within :class:`Timeouts`,
after killing every worker's process group. It imports no TensorFlow: the workers do.

>>> TIMEOUTS.run_seconds(DecayConfig()) > TIMEOUTS.total
True
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from decaybench._reduction import default_num_threads
from decaybench.config import DecayConfig
from decaybench.progress import epoch_bar
from decaybench.trace import Trace

WORKERS = 2
HOST = "127.0.0.1"

# Fault injection for tests, read by each worker when it starts: "<kind>:<worker>:<where>",
# kind hang | kill | exit, where start | join | epoch<N>; see decaybench/modes/_worker.py.
FAULT_ENV = "DECAYBENCH_WORKER_FAULT"

# How long a distributed run may wait for what, in seconds. CI runs on 2 loaded cores, where
# importing TensorFlow in two processes at once took up to 15 s.
STARTUP_SECONDS = 60.0  # from spawning until every worker has joined the cluster
STALL_SECONDS = 30.0  # between two progress lines of a worker within a run
COLLECTIVE_SECONDS = 10.0  # a collective waiting for a peer aborts (CommunicationOptions)
TOTAL_SECONDS = 120.0  # a whole run, startup included, plus EPOCH_SECONDS per epoch
EPOCH_SECONDS = 0.05  # ~15x a seed step over localhost gRPC (3.3 ms measured)
ELEMENT_SECONDS = 1e-7  # per element and epoch: ~5x a step's measured 22 ns per float32 element

GRACE_SECONDS = 0.5  # after a first fault, how long the other workers may take to report theirs
POLL_SECONDS = 0.05
EXIT_SECONDS = 5.0  # for a worker to exit once its stdin closes, before it is killed
PORT_RETRIES = 2  # fresh ports when a worker could not bind its port


class DistributedError(RuntimeError):
    """A distributed run failed: which worker, what happened to it, and the end of its stderr.

    Attributes:
        worker: the index of the worker at fault (``None`` when no single worker is).
        fault: what happened, e.g. ``"was killed by SIGKILL"``.
        stderr_tail: the last lines the worker wrote on stderr.
        pids: the process ids of every worker of the run (all stopped when this is raised).
    """

    def __init__(self, message: str, worker: int | None, fault: str, stderr_tail: str = "", pids: tuple[int, ...] = ()) -> None:
        self.worker = worker
        self.fault = fault
        self.stderr_tail = stderr_tail
        self.pids = pids
        super().__init__(message)


@dataclass(frozen=True)
class Timeouts:
    """The limits of a distributed run, in seconds (defaults: the module constants).

    A dead worker ends the run within ``POLL_SECONDS + GRACE_SECONDS``; a hung one within
    ``collective`` (a peer's collective aborts) or ``stall`` (no progress line), plus
    ``GRACE_SECONDS``; one that never joins within ``startup``; and no run lasts longer than
    :meth:`run_seconds`. ``collective=0`` lets collectives wait for ever (only ``stall`` notices).
    """

    startup: float = STARTUP_SECONDS
    stall: float = STALL_SECONDS
    collective: float = COLLECTIVE_SECONDS
    total: float = TOTAL_SECONDS
    per_epoch: float = EPOCH_SECONDS
    per_element_epoch: float = ELEMENT_SECONDS

    def run_seconds(self, config: DecayConfig) -> float:
        """The wall-clock limit of one run: ``total + epochs * (per_epoch + size * per_element_epoch)``."""
        return self.total + config.epochs * (self.per_epoch + config.size * self.per_element_epoch)


TIMEOUTS = Timeouts()


def trace_digest(trace: Trace) -> str:
    """SHA-256 of every bit of the trace's arrays: workers compare traces by it."""
    digest = hashlib.sha256()
    for name in ("epoch", "w", "loss", "lr"):
        digest.update(np.ascontiguousarray(getattr(trace, name)).tobytes())
    return digest.hexdigest()


def save_trace(trace: Trace, path: Path) -> None:
    """Write the trace's arrays as .npz, atomically: a temporary file, then ``os.replace``.

    No fsync: the file lives only until the supervisor on the same host has read it.
    """
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        np.savez(handle, epoch=trace.epoch, w=trace.w, loss=trace.loss, lr=trace.lr)
    os.replace(temporary, path)


def load_trace(path: Path, config: DecayConfig, mode: str) -> Trace:
    """Read what :func:`save_trace` wrote back into a :class:`Trace` of ``config``."""
    with np.load(path) as arrays:
        return Trace(epoch=arrays["epoch"], w=arrays["w"], loss=arrays["loss"], lr=arrays["lr"], config=config, mode=mode)


# ---- the supervisor -----------------------------------------------------------------------------

ROLES = ("multiworker", "mirrored")
# What a worker reports as it starts, in order; a worker's progress is (stage, epoch).
STAGES = ("started", "imported", "joining", "ready")
# Errors a worker raises when a *peer* failed: they point away from the worker that raised them.
PEER_ERRORS = frozenset({"UnavailableError", "DeadlineExceededError", "CancelledError", "AbortedError"})
PORT_TAKEN = ("Could not start gRPC server", "Address already in use", "Failed to add port")
# TensorFlow's start-up chatter, left out of the stderr tails.
NOISE = ("absl::InitializeLog", "oneDNN custom operations", "cuda", "cpu_feature_guard", "rebuild TensorFlow", "AVX")
TAIL_LINES = 15


@dataclass
class _Worker:
    """One worker process and what the supervisor last heard from it."""

    index: int
    process: subprocess.Popen[str]
    stderr_path: Path
    last_seen: float
    stage: int = 0
    job: int = 0
    epoch: int = -1
    digest: str | None = None
    error: str | None = None
    reader: threading.Thread | None = field(default=None, repr=False)

    @property
    def progress(self) -> tuple[int, int, int]:
        return (self.stage, self.job, self.epoch)

    @property
    def exited(self) -> bool:
        return self.process.poll() is not None

    def where(self) -> str:
        if self.stage < STAGES.index("ready"):
            return f"before joining the cluster (last stage: {STAGES[self.stage]})"
        return f"in run {self.job} after starting epoch {self.epoch}" if self.epoch >= 0 else f"before run {self.job} began"

    def state(self, now: float) -> str:
        """What happened to this worker, in words."""
        code = self.process.returncode
        if self.error is not None:
            return f"raised {self.error}"
        if code is not None and code < 0:
            return f"was killed by {_signal_name(-code)} {self.where()}"
        if code is not None:
            return f"exited with code {code} {self.where()}"
        return f"hangs: no progress for {now - self.last_seen:.1f} s, {self.where()}"

    def stderr_tail(self) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        lines = [line for line in text.splitlines() if line.strip() and not any(noise in line for noise in NOISE)]
        return "\n".join(lines[-TAIL_LINES:])


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _free_ports(count: int) -> list[int]:
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
    whose CPU is split into CPU_REPLICAS logical devices (the fallback of :func:`run_mirrored`).

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

    def __init__(self, role: str = "multiworker", timeouts: Timeouts = TIMEOUTS) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        self.role = role
        self.timeouts = timeouts
        self.size = WORKERS if role == "multiworker" else 1
        self._workers: list[_Worker] = []
        self._events: queue.Queue[tuple[int, float, str | None]] = queue.Queue()
        self._directory: Path | None = None
        self._released = threading.Event()
        self._lock = threading.RLock()
        self._jobs = 0
        self._started = 0.0
        self._limit = 0.0

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pids(self) -> tuple[int, ...]:
        """The process ids of the current workers (empty when none runs)."""
        return tuple(worker.process.pid for worker in self._workers)

    def run(self, config: DecayConfig, progress: bool | None = None) -> Trace:
        """Run ``config`` on the workers (starting them if needed) and return the chief's trace.

        Raises:
            DistributedError: a worker died, hung, failed to join, or the workers disagree;
                every worker is stopped first.
        """
        with self._lock:
            self._limit = self.timeouts.run_seconds(config)
            deadline = time.monotonic() + self._limit
            try:
                self._ensure_started(deadline)
                return self._job(config, progress, deadline)
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
                self._pump(lambda: all(w.stage == STAGES.index("ready") for w in self._workers), None, deadline)
                return
            except DistributedError:
                taken = any(text in worker.stderr_tail() for worker in self._workers for text in PORT_TAKEN)
                self._stop(graceful=False)
                if not taken or attempt == PORT_RETRIES:
                    raise

    def _spawn(self) -> None:
        self._directory = Path(tempfile.mkdtemp(prefix=f"decaybench-{self.role}-"))
        self._events = queue.Queue()
        self._released = threading.Event()
        self._started = time.monotonic()
        ports = _free_ports(self.size) if self.role == "multiworker" else []
        spawned: list[_Worker] = []
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

    def _start_worker(self, index: int, ports: Sequence[int]) -> _Worker:
        assert self._directory is not None
        stderr_path = self._directory / f"worker{index}.stderr"
        command = [
            sys.executable, "-m", "decaybench.modes._worker",
            "--role", self.role,
            "--index", str(index),
            "--parent-pid", str(os.getpid()),
            "--intra-op-threads", str(default_num_threads()),
            "--collective-seconds", repr(self.timeouts.collective),
        ]  # fmt: skip
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
        worker = _Worker(index, process, stderr_path, last_seen=time.monotonic())
        assert process.stdout is not None
        worker.reader = threading.Thread(target=_read_lines, args=(process.stdout, index, self._events), daemon=True)
        worker.reader.start()
        return worker

    def _environment(self, index: int, ports: Sequence[int]) -> dict[str, str]:
        package_root = str(Path(__file__).resolve().parents[2])
        environ = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, environ.get("PYTHONPATH")]))
        environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        if self.role == "multiworker":
            cluster = {"worker": [f"{HOST}:{port}" for port in ports]}
            environ["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            environ["CUDA_VISIBLE_DEVICES"] = ""  # local workers share one host: CPU replicas, one each
        return environ

    # -- running a job ----------------------------------------------------------------------------

    def _job(self, config: DecayConfig, progress: bool | None, deadline: float) -> Trace:
        assert self._directory is not None
        self._jobs += 1
        job, output = self._jobs, self._directory / f"run{self._jobs}.npz"
        message = json.dumps({"job": job, "config": config.to_dict(), "output": str(output)}) + "\n"
        for worker in self._workers:
            worker.job, worker.epoch, worker.digest, worker.last_seen = job, -1, None, time.monotonic()
            with contextlib.suppress(OSError):  # a dead worker: the pump below says which and how
                assert worker.process.stdin is not None
                worker.process.stdin.write(message)
                worker.process.stdin.flush()
        with epoch_bar(config.epochs, progress, self.role) as bar:
            self._pump(lambda: all(w.digest is not None for w in self._workers), bar, deadline)
        if len({worker.digest for worker in self._workers}) > 1:
            digests = ", ".join(f"worker {w.index}: {w.digest[:12] if w.digest else None}" for w in self._workers)
            raise DistributedError(
                f"{self.role} run {job}: the workers hold different traces ({digests})", None, "traces differ", pids=self.pids
            )
        try:
            return load_trace(output, config, self.role)
        finally:
            output.unlink(missing_ok=True)

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

    def _heard(self, worker: _Worker, seen: float, line: str, bar: Any) -> None:
        kind, _, rest = line.partition(" ")
        fields = rest.split(" ", 2)
        if kind == "@stage" and fields[0] in STAGES:
            worker.stage = STAGES.index(fields[0])
        elif kind == "@epoch" and int(fields[0]) == worker.job:
            worker.epoch = int(fields[1])
            if bar is not None and worker.index == 0:
                bar.update(worker.epoch + 1 - bar.n)
        elif kind == "@done" and int(fields[0]) == worker.job:
            worker.digest = fields[1]
        elif kind == "@error":
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
        joining = [w for w in self._workers if w.stage < STAGES.index("ready")]
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
        now = time.monotonic()
        culprit = _culprit(self._workers, suspect)
        others = "; ".join(f"worker {w.index} {w.state(now)}" for w in self._workers if w is not culprit and (w.exited or w.error))
        if culprit is None:
            message = f"{self.role} run failed: {first}"
            return DistributedError(message + (f"; {others}" if others else ""), None, first, pids=self.pids)
        fault = culprit.state(now)
        tail = culprit.stderr_tail()
        message = f"{self.role} run failed: worker {culprit.index} {fault}" + (f"; then {others}" if others else "")
        message += f" (first sign: {first})" if not first.startswith(f"worker {culprit.index} ") else ""
        message += (
            f"\n--- worker {culprit.index} stderr (last lines) ---\n{tail}"
            if tail
            else f"\n(worker {culprit.index} wrote nothing on stderr)"
        )
        return DistributedError(message, culprit.index, fault, tail, self.pids)


def _culprit(workers: Sequence[_Worker], suspect: int | None) -> _Worker | None:
    """The worker at fault: one that died without a word, else one that raised an error of its
    own, else the live one furthest behind (its peers wait for it), else the ``suspect`` the
    first sign pointed at, else the first to raise a peer's error, else none."""
    silent_deaths = [w for w in workers if w.exited and w.error is None]
    if silent_deaths:
        return silent_deaths[0]
    own_errors = [w for w in workers if w.error is not None and w.error.split(":")[0] not in PEER_ERRORS]
    if own_errors:
        return own_errors[0]
    alive = [w for w in workers if not w.exited and w.error is None]
    if alive:
        behind = min(alive, key=lambda w: w.progress)
        if len(alive) < len(workers) or any(w.progress > behind.progress for w in alive):
            return behind
    if suspect is not None:
        return workers[suspect]
    errors = [w for w in workers if w.error is not None]
    return errors[0] if errors else None


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
    """The cluster ``run(config, role)`` uses, created on first use and closed at exit."""
    with _SHARED_LOCK:
        if role not in _SHARED:
            _SHARED[role] = LocalCluster(role)
        return _SHARED[role]


@atexit.register
def _close_shared() -> None:
    for cluster in list(_SHARED.values()):
        cluster.close()
