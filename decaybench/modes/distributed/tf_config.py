"""``TF_CONFIG``, read and checked before TensorFlow loads: the hosts of a real cluster and this one's place.

Every host of a real ``multiworker`` cluster runs the same command with its own ``TF_CONFIG``::

    {"cluster": {"worker": ["host-a:12345", "host-b:12345"]}, "task": {"type": "worker", "index": 1}}

A ``"chief"`` job of one task may come first; its task is then the chief (rank 0) and the
workers follow, in TensorFlow's order. Any other job (``ps``, ``evaluator``) is refused:
``multiworker`` is all-reduce, every task trains. Each problem raises
:class:`~decaybench.validation.InvalidValue` naming ``TF_CONFIG``, so the CLI exits 2 with one line.

:func:`parse` needs no network: the JSON (depth bounded, :mod:`decaybench.reading`), the jobs,
the task, each address's syntax (:mod:`~decaybench.modes.distributed.addresses`), one address
listed twice. :func:`check_addresses` then resolves every address, refuses two tasks that reach
one server, and bind-tests this host's port; the CLI calls both before TensorFlow loads.

>>> spec = parse('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}')
>>> spec.rank, spec.name(0), spec.is_chief
(1, 'worker 0 (a:1)', False)
>>> parse('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}')
Traceback (most recent call last):
...
decaybench.validation.InvalidValue: TF_CONFIG task index 3 is out of range: job 'worker' has 1 task (0 to 0), got ...
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decaybench.checkpoint import MANIFEST
from decaybench.modes.distributed import addresses
from decaybench.reading import parse_json
from decaybench.validation import InvalidValue

__all__ = [
    "ENV",
    "JOBS",
    "ClusterSpec",
    "check_addresses",
    "from_environment",
    "leave",
    "mark_joined",
    "parse",
    "reachable",
    "refuse_for",
    "resumes",
    "wait_for_peers",
]

ENV = "TF_CONFIG"
# The jobs multiworker runs, in TensorFlow's rank order (the chief first).
JOBS = ("chief", "worker")
PROBE_SECONDS = 0.5
_JOINED = threading.Event()  # this process joined a cluster of TF_CONFIG (a process joins one in its life)


@dataclass(frozen=True)
class ClusterSpec:
    """The tasks of the cluster, in rank order (``(job, index, address)``), and this host's rank."""

    tasks: tuple[tuple[str, int, str], ...]
    rank: int

    @property
    def size(self) -> int:
        return len(self.tasks)

    @property
    def is_chief(self) -> bool:
        """Rank 0 (the chief task if there is one, else worker 0) writes ``--output``."""
        return self.rank == 0

    @property
    def peers(self) -> tuple[int, ...]:
        """The other hosts' ranks."""
        return tuple(rank for rank in range(self.size) if rank != self.rank)

    def name(self, rank: int) -> str:
        """``"worker 1 (host-b:12345)"``: how every message names a host."""
        job, index, address = self.tasks[rank]
        return f"{job} {index} ({address})"

    def device(self, rank: int) -> str:
        """TensorFlow's name of the task."""
        job, index, _ = self.tasks[rank]
        return f"/job:{job}/replica:0/task:{index}"


_OWN = "each task needs its own host:port"


def _refuse(raw: str, problem: str) -> InvalidValue:
    return InvalidValue(ENV, raw, problem)


def _jobs(raw: str, cluster: Any) -> dict[str, list[str]]:
    if not isinstance(cluster, Mapping) or not cluster:
        raise _refuse(raw, 'needs "cluster": an object of jobs, each a list of "host:port" addresses')
    unknown = sorted(set(cluster) - set(JOBS))
    if unknown:
        raise _refuse(raw, f"has job {unknown[0]!r}, which multiworker does not run (only {' and '.join(JOBS)})")
    jobs: dict[str, list[str]] = {}
    for job in JOBS:
        listed = cluster.get(job, [])
        if not isinstance(listed, list) or not all(isinstance(address, str) for address in listed):
            raise _refuse(raw, f'job {job!r} must be a list of "host:port" strings')
        for index, address in enumerate(listed):
            try:
                addresses.split(address)
            except ValueError as problem:
                raise _refuse(raw, f"address {address!r} of {job} {index}: {problem}") from None
        jobs[job] = listed
    if len(jobs["chief"]) > 1:
        raise _refuse(raw, f"job 'chief' has {len(jobs['chief'])} tasks; it may have one")
    if not jobs["worker"]:
        raise _refuse(raw, "has no worker")
    return jobs


def parse(raw: str) -> ClusterSpec:
    """The cluster ``raw`` (``TF_CONFIG``'s text) describes; raises InvalidValue naming the problem."""
    document = parse_json(raw, source=ENV, argument=ENV, value=raw)
    if not isinstance(document, Mapping):
        raise _refuse(raw, "must be a JSON object with keys cluster and task")
    jobs = _jobs(raw, document.get("cluster"))
    task = document.get("task")
    if not isinstance(task, Mapping):
        raise _refuse(raw, 'needs "task": {"type": "worker", "index": N}')
    job, index = task.get("type"), task.get("index", 0)
    if job not in JOBS:
        raise _refuse(raw, f"task type {job!r} is unknown: multiworker runs {' and '.join(JOBS)} tasks")
    if not jobs[job]:
        raise _refuse(raw, f"task type {job!r} has no tasks in the cluster")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(jobs[job]):
        count = len(jobs[job])
        raise _refuse(raw, f"task index {index!r} is out of range: job {job!r} has {count} task{'s' * (count > 1)} (0 to {count - 1})")
    tasks = tuple((name, number, address) for name in JOBS for number, address in enumerate(jobs[name]))
    spec = ClusterSpec(tasks, tasks.index(next(t for t in tasks if t[:2] == (job, index))))
    twice = addresses.first_shared([{addresses.split(address)} for _, _, address in tasks])
    if twice is not None:
        first, second, _ = twice
        raise _refuse(raw, f"lists one address twice, {spec.name(first)} and {spec.name(second)}: {_OWN}")
    return spec


def check_addresses(spec: ClusterSpec, seconds: float) -> None:
    """Resolve every address of ``spec`` (within ``seconds`` in all) and bind this host's port once.

    Refuses (InvalidValue naming ``TF_CONFIG``) an address that does not resolve, two tasks that
    reach the same server (:func:`~decaybench.modes.distributed.addresses.first_shared`: a host's
    listener would answer for both, and the join would wait for ever), and a port of this host
    that another process holds. The port may still be taken before the host listens again
    (:func:`wait_for_peers`), which then refuses it the same way.
    """
    raw = os.environ.get(ENV, "")
    reached = addresses.resolve_all([addresses.split(address) for _, _, address in spec.tasks], seconds)
    for rank, found in enumerate(reached):
        if isinstance(found, str):
            raise _refuse(raw, f"address of {spec.name(rank)} {found}")
    twice = addresses.first_shared([found for found in reached if not isinstance(found, str)])
    if twice is not None:
        first, second, (ip, port) = twice
        raise _refuse(raw, f"{spec.name(first)} and {spec.name(second)} reach the same server ({ip}, port {port}): {_OWN}")
    _listen(spec).close()


def from_environment(environ: Mapping[str, str] | None = None) -> ClusterSpec | None:
    """The checked ``TF_CONFIG`` of ``environ`` (default ``os.environ``), ``None`` when unset or empty."""
    raw = (os.environ if environ is None else environ).get(ENV, "")
    return parse(raw) if raw.strip() else None


def reachable(address: str, seconds: float = PROBE_SECONDS) -> bool:
    """Whether something accepts TCP connections at ``host:port`` (a peer's gRPC server, once it started)."""
    with contextlib.suppress(OSError), socket.create_connection(addresses.split(address), timeout=seconds):
        return True
    return False


def mark_joined() -> None:
    """Record that this process is (about to be) a host of a real cluster: :func:`leave` then ends it."""
    _JOINED.set()


def leave(status: int) -> int:
    """Return ``status``; but after joining a cluster, flush and end the process now with it.

    ``os._exit``: after a peer failed, TensorFlow's teardown (its coordination agent, gRPC server
    and collective executor) can wait on that peer for a long time.
    """
    if _JOINED.is_set():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def refuse_for(command: str) -> None:
    """For commands that run on one machine (``verify``, ``plot``): refuse to start while ``TF_CONFIG`` is set.

    Their ``multiworker`` rows start local workers; under ``TF_CONFIG`` TensorFlow would take the
    process for a host of that cluster instead. Raises InvalidValue (one line, exit 2).
    """
    raw = os.environ.get(ENV, "")
    if raw.strip():
        raise InvalidValue(ENV, raw, f"is set, but {command} runs on this machine only: unset it (multiworker then starts local workers)")


def wait_for_peers(spec: ClusterSpec, seconds: float) -> list[int]:
    """Listen at this host's address and wait up to ``seconds`` until something answers at every peer's.

    Returns the ranks nothing answers at (empty: go on and join). TensorFlow's join blocks in C++
    with Python's lock held, deaf to signals and for as long as a peer is missing; this wait, in
    Python, is where a missing host is noticed and where SIGINT and SIGTERM work. A peer answers
    here from its own wait or, later, from TensorFlow's server on the same port.
    """
    ends = time.monotonic() + seconds
    with _listen(spec) as listener:
        listener.listen(16)
        missing = list(spec.peers)
        while True:
            missing = [rank for rank in missing if not reachable(spec.tasks[rank][2], PROBE_SECONDS)]
            if not missing or time.monotonic() >= ends:
                return missing
            time.sleep(0.1)


def _listen(spec: ClusterSpec) -> socket.socket:
    """A socket bound to this host's port on every interface; InvalidValue when another process holds it."""
    address = spec.tasks[spec.rank][2]
    port = addresses.split(address)[1]
    try:
        return addresses.listener(port)
    except OSError as error:
        raise InvalidValue(ENV, address, f"names this host's address, but port {port} cannot be bound ({error.strerror})") from None


def resumes(spec: ClusterSpec | None, checkpoint_dir: str | None) -> bool:
    """Whether a host of a real cluster resumes: ``checkpoint_dir`` holds a run's manifest already.

    On a real cluster a scheduler restarts the *same* command after a fault (as Keras's
    ``BackupAndRestore`` restores by itself); the manifest check still refuses another run's directory.
    """
    return spec is not None and bool(checkpoint_dir) and (Path(str(checkpoint_dir)) / MANIFEST).exists()
