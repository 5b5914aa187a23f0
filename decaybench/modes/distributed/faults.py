r"""Faults of a distributed run: injected on purpose by tests (:class:`Fault`), and diagnosed.

**Injection.** :meth:`Fault.from_environment` reads the fault a test asked for
(:data:`decaybench.test_hooks.WORKER_FAULT`, whose syntax is documented there); the worker or
host it names calls :meth:`Fault.strike` once, at the place it names.

**Diagnosis.** A :class:`WorkerState` is one worker process and what the local supervisor last
heard from it (its stage, job and epoch, the digest of its trace, the error it reported). When a
run fails, :func:`diagnose` names the worker at fault (:func:`culprit`) and says what happened to
it and to the others, with the end of its stderr, as a :class:`DistributedError`. A host of a
real cluster names its own (:mod:`decaybench.modes.distributed.real_host`), with :func:`summary`
of TensorFlow's error.

>>> Fault.parse("kill:0:join")
Fault(kind='kill', worker=0, where='join')
>>> summary(ValueError("Graph execution error:\n\nDetected at node X defined at:\n  File a\n\nSocket closed\nmore"))
'Socket closed'
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from decaybench import test_hooks
from decaybench.messages import say
from decaybench.modes.distributed.protocol import READY, STAGES

__all__ = [
    "FAULT_KINDS",
    "PEER_ERRORS",
    "PORT_TAKEN",
    "DistributedError",
    "Fault",
    "HostsDisagree",
    "WorkerState",
    "culprit",
    "diagnose",
    "summary",
]

FAULT_KINDS = ("hang", "kill", "exit", "term")

# Errors a worker raises when a *peer* failed: they point away from the worker that raised them.
PEER_ERRORS = frozenset({"UnavailableError", "DeadlineExceededError", "CancelledError", "AbortedError"})
PORT_TAKEN = ("Could not start gRPC server", "Address already in use", "Failed to add port")
# TensorFlow's start-up chatter, left out of the stderr tails.
NOISE = ("absl::InitializeLog", "oneDNN custom operations", "cuda", "cpu_feature_guard", "rebuild TensorFlow", "AVX")
TAIL_LINES = 15


@dataclass(frozen=True)
class Fault:
    """A test's request to misbehave: ``kind`` at ``where`` (``start``, ``join`` or ``epoch<N>``) on worker ``worker``."""

    kind: str
    worker: int
    where: str

    @classmethod
    def parse(cls, spec: str) -> Fault | None:
        """``"hang:1:epoch3"`` -> Fault("hang", 1, "epoch3"); empty -> None."""
        if not spec:
            return None
        kind, worker, where = [*spec.split(":"), "", ""][:3]
        place = where in ("start", "join") or (where.startswith("epoch") and where[5:].isdigit())
        if kind not in FAULT_KINDS or not worker.isdigit() or not place:
            raise ValueError(f"{test_hooks.WORKER_FAULT} must be <hang|kill|exit|term>:<worker>:<start|join|epochN>, got {spec!r}")
        return cls(kind, int(worker), where)

    @classmethod
    def from_environment(cls, rank: int) -> Fault | None:
        """The fault a test asked of worker ``rank``, if any (:func:`decaybench.test_hooks.worker_fault`)."""
        fault = cls.parse(test_hooks.worker_fault())
        return fault if fault is not None and fault.worker == rank else None

    def strike(self) -> None:
        """Misbehave now."""
        say(f"decaybench worker: injected fault {self}")
        if self.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.kind == "exit":
            os._exit(3)
        if self.kind == "term":  # as a scheduler stops a job; the main thread's handler decides
            os.kill(os.getpid(), signal.SIGTERM)
            return
        while True:
            time.sleep(3600)


def summary(error: BaseException) -> str:
    """The gist of ``error`` on one line: for TensorFlow's errors, the cause without the node's traceback."""
    paragraphs = [part.strip() for part in str(getattr(error, "message", error)).split("\n\n") if part.strip()]
    causes = [part for part in paragraphs if not part.startswith(("Graph execution error", "Detected at node", "File "))] or paragraphs
    return " ".join(causes[0].splitlines()[0].split())[:300] if causes else ""


class DistributedError(RuntimeError):
    """A distributed run failed: which worker, what happened to it, and the end of its stderr.

    Attributes:
        worker: the index of the worker at fault (``None`` when no single worker is).
        fault: what happened, e.g. ``"was killed by SIGKILL"``.
        stderr_tail: the last lines the worker wrote on stderr.
        seen: ``time.monotonic()`` of the worker's last report (``None``: not known).
        pids: the process ids of every worker of the run (all stopped when this is raised).
        status: the CLI's exit status for it (1: a fault).
    """

    status = 1

    def __init__(
        self, message: str, worker: int | None, fault: str, stderr_tail: str = "", pids: tuple[int, ...] = (), seen: float | None = None
    ) -> None:
        self.worker = worker
        self.fault = fault
        self.stderr_tail = stderr_tail
        self.pids = pids
        self.seen = seen  # time.monotonic() of the last word from the worker at fault: about when the fault struck
        super().__init__(message)


class HostsDisagree(DistributedError):
    """The hosts of a real cluster were started with different configurations or versions (exit status 2)."""

    status = 2


@dataclass
class WorkerState:
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

    @property
    def ready(self) -> bool:
        """Whether the worker has joined the cluster."""
        return self.stage == STAGES.index(READY)

    def where(self) -> str:
        if not self.ready:
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

    def lost_its_port(self) -> bool:
        """Whether the worker could not bind its port (taken between choosing and binding it)."""
        tail = self.stderr_tail()
        return any(text in tail for text in PORT_TAKEN)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def culprit(workers: Sequence[WorkerState], suspect: int | None) -> WorkerState | None:
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


def diagnose(role: str, workers: Sequence[WorkerState], suspect: int | None, first: str, now: float) -> DistributedError:
    """The error of a failed run: the worker at fault, what happened to it and to the others, its stderr.

    ``first`` is the first sign of trouble the supervisor saw, ``suspect`` the worker it concerns.
    """
    pids = tuple(worker.process.pid for worker in workers)
    guilty = culprit(workers, suspect)
    others = "; ".join(f"worker {w.index} {w.state(now)}" for w in workers if w is not guilty and (w.exited or w.error))
    if guilty is None:
        message = f"{role} run failed: {first}"
        return DistributedError(message + (f"; {others}" if others else ""), None, first, pids=pids)
    fault = guilty.state(now)
    tail = guilty.stderr_tail()
    message = f"{role} run failed: worker {guilty.index} {fault}" + (f"; then {others}" if others else "")
    message += f" (first sign: {first})" if not first.startswith(f"worker {guilty.index} ") else ""
    message += (
        f"\n--- worker {guilty.index} stderr (last lines) ---\n{tail}" if tail else f"\n(worker {guilty.index} wrote nothing on stderr)"
    )
    return DistributedError(message, guilty.index, fault, tail, pids, guilty.last_seen)
