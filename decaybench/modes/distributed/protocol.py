"""The protocol between a :class:`~decaybench.modes.distributed.local_supervisor.LocalCluster` and its worker processes.

The supervisor starts each worker as ``python -m decaybench.modes.distributed.local_worker`` with the flags of
:func:`worker_command`; then every message is one line::

    stdin   {"job": n, "config": {...}, "output": path,   one run per line; end of file: exit
             "checkpoint": {"directory", "every", "resume"} or null}
    stdout  @stage started|imported|joining|ready         while starting, in this order
            @epoch <job> <epoch>                          before each epoch's step
            @done <job> <sha256 of the trace>             the chief has written output (tmp + os.replace)
            @error <job> <exception type> <message>       then the process exits with status 1

The chief (worker 0) writes the trace to ``output`` as .npz (:func:`save_trace`); every worker
reports :meth:`Trace.digest` of its own, and the supervisor accepts the trace only when they
agree. Anything else a worker prints on stdout (a library's chatter) is no message.

>>> message(EPOCH, 3, 17)
'@epoch 3 17'
>>> parse("@error 3 ValueError bad value here")
('error', ['3', 'ValueError', 'bad value here'])
>>> parse("a library's chatter") is None
True
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from decaybench.checkpoint import CheckpointOptions
from decaybench.config import DecayConfig
from decaybench.files import atomic_writer
from decaybench.trace import Trace

__all__ = [
    "DONE",
    "EPOCH",
    "ERROR",
    "IMPORTED",
    "JOINING",
    "MIRRORED",
    "MULTIWORKER",
    "READY",
    "ROLES",
    "STAGE",
    "STAGES",
    "STARTED",
    "Job",
    "load_trace",
    "message",
    "parse",
    "save_trace",
    "worker_command",
]

# multiworker: WORKERS processes forming one MultiWorkerMirroredStrategy; mirrored: one process
# whose CPU is split into logical devices (the fallback of run_mirrored).
ROLES = ("multiworker", "mirrored")
MULTIWORKER, MIRRORED = ROLES
# What a worker reports as it starts, in order; a worker's progress is (stage, job, epoch).
STAGES = ("started", "imported", "joining", "ready")
STARTED, IMPORTED, JOINING, READY = STAGES
# The kinds of message a worker writes on stdout, each as "@<kind> <fields>".
STAGE, EPOCH, DONE, ERROR = "stage", "epoch", "done", "error"
_MARK = "@"


def worker_command(role: str, index: int, parent_pid: int, intra_op_threads: int, collective_seconds: float) -> list[str]:
    """The command line that starts worker ``index`` of a cluster of ``role``."""
    return [
        sys.executable, "-m", "decaybench.modes.distributed.local_worker",
        "--role", role,
        "--index", str(index),
        "--parent-pid", str(parent_pid),
        "--intra-op-threads", str(intra_op_threads),
        "--collective-seconds", repr(collective_seconds),
    ]  # fmt: skip


def message(kind: str, *fields: object) -> str:
    """One line from a worker: ``@<kind>`` and the fields, separated by spaces."""
    return _MARK + " ".join(str(field) for field in (kind, *fields))


def parse(line: str) -> tuple[str, list[str]] | None:
    """``(kind, fields)`` of a worker's line, ``None`` for a line that is no message.

    An error's message, the last field, may hold spaces: a line splits into at most three fields.
    """
    head, _, rest = line.partition(" ")
    if not head.startswith(_MARK):
        return None
    return head[len(_MARK) :], rest.split(" ", 2)


@dataclass(frozen=True)
class Job:
    """One run the supervisor asks of every worker: a number, a configuration, where the chief writes.

    >>> job = Job(1, DecayConfig(), Path("run1.npz"))
    >>> Job.from_line(job.line()) == job
    True
    """

    number: int
    config: DecayConfig
    output: Path
    checkpoint: CheckpointOptions | None = None  # the chief saves there, every worker resumes from there

    def line(self) -> str:
        """The job as one JSON line, newline included, for the workers' stdin."""
        saving = None
        if self.checkpoint is not None:
            saving = {"directory": str(self.checkpoint.directory), "every": self.checkpoint.every, "resume": self.checkpoint.resume}
        return json.dumps({"job": self.number, "config": self.config.to_dict(), "output": str(self.output), "checkpoint": saving}) + "\n"

    @classmethod
    def from_line(cls, line: str) -> Job:
        """Inverse of :meth:`line`."""
        request: dict[str, Any] = json.loads(line)
        saving = request.get("checkpoint")
        checkpoint = None if saving is None else CheckpointOptions(Path(saving["directory"]), int(saving["every"]), bool(saving["resume"]))
        return cls(int(request["job"]), DecayConfig.from_dict(request["config"]), Path(request["output"]), checkpoint)


def save_trace(trace: Trace, path: Path) -> None:
    """Write the trace's arrays as .npz, atomically (:func:`decaybench.files.atomic_writer`).

    No fsync: the file lives only until the supervisor on the same host has read it.
    """
    with atomic_writer(path, fsync=False) as handle:
        np.savez(handle, epoch=trace.epoch, w=trace.w, loss=trace.loss, lr=trace.lr)


def load_trace(path: Path, config: DecayConfig, mode: str) -> Trace:
    """Read what :func:`save_trace` wrote back into a :class:`Trace` of ``config``."""
    with np.load(path) as arrays:
        return Trace(epoch=arrays["epoch"], w=arrays["w"], loss=arrays["loss"], lr=arrays["lr"], config=config, mode=mode)
