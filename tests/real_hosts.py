"""Real clusters on 127.0.0.1 for the tests: one ``decaybench run --mode multiworker`` process per host.

Each host gets its own ``TF_CONFIG``, its own session (process group) and its own environment;
:class:`Hosts` kills every process group it started, by PID, when the test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
# Every process imports TensorFlow (5 to 20 s on 2 loaded cores) before anything is timed.
PROCESS_SECONDS = 150.0


def free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def tf_config(addresses: Sequence[str], index: int) -> str:
    return json.dumps({"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}})


def answers(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=0.2):
        return True
    return False


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    ended: float  # time.monotonic() when the test saw it end

    def lines(self) -> list[str]:
        """stderr without the test's own fault-injection note."""
        return [line for line in self.stderr.splitlines() if line.strip() and "injected fault" not in line]


@dataclass
class Hosts:
    """The processes of one test's clusters; ``close()`` kills what is left of each, by PID."""

    processes: dict[int | str, subprocess.Popen[str]] = field(default_factory=dict)
    addresses: list[str] = field(default_factory=list)
    exited: dict[int | str, float] = field(default_factory=dict)  # time.monotonic() each process was seen to end

    def start(
        self,
        count: int,
        args: Sequence[str],
        *,
        only: Sequence[int] | None = None,
        per_host: Mapping[int, Sequence[str]] | None = None,
        env: Mapping[int, Mapping[str, str]] | None = None,
        cwd: Path = ROOT,
        key: str | None = None,
    ) -> list[str]:
        """Start hosts ``only`` (default: all) of a fresh ``count``-host cluster; return its addresses.

        ``key`` (default: the host's index) names each process in :attr:`processes`, so that one
        test can start several clusters.
        """
        self.addresses = [f"{HOST}:{port}" for port in free_ports(count)]
        for index in range(count) if only is None else only:
            environ = {**os.environ, "TF_CONFIG": tf_config(self.addresses, index), **(env or {}).get(index, {})}
            command = [sys.executable, "-m", "decaybench", "run", "--mode", "multiworker", *args, *(per_host or {}).get(index, ())]
            name = index if key is None else key
            process = subprocess.Popen(
                command, env=environ, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
            )
            self.processes[name] = process
            threading.Thread(target=self._watch, args=(name, process), daemon=True).start()
        return self.addresses

    def _watch(self, name: int | str, process: subprocess.Popen[str]) -> None:
        with contextlib.suppress(Exception):
            process.wait()
            self.exited[name] = time.monotonic()

    def wait(self, index: int | str, seconds: float = PROCESS_SECONDS) -> Result:
        process = self.processes[index]
        stdout, stderr = process.communicate(timeout=seconds)
        ends = time.monotonic() + 1.0
        while index not in self.exited and time.monotonic() < ends:
            time.sleep(0.01)
        return Result(process.returncode, stdout, stderr, self.exited.get(index, time.monotonic()))

    def wait_all(self, seconds: float = PROCESS_SECONDS) -> dict[int, Result]:
        return {index: self.wait(index, seconds) for index in sorted(i for i in self.processes if isinstance(i, int))}

    def wait_until_listening(self, index: int | str, address: str, seconds: float = PROCESS_SECONDS) -> None:
        """Until host ``index`` waits for its peers (it listens at its ``address``)."""
        ends = time.monotonic() + seconds
        while not answers(address):
            assert self.processes[index].poll() is None, self.processes[index].communicate()[1][-2000:]
            assert time.monotonic() < ends, f"host {index} never listened"
            time.sleep(0.1)

    def close(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # its own session: pgid == pid
            with contextlib.suppress(subprocess.TimeoutExpired, ValueError):
                process.communicate(timeout=10)
            for log in Path(tempfile.gettempdir()).glob(f"decaybench-multiworker-*-{process.pid}.log"):
                log.unlink(missing_ok=True)  # a failed host keeps its TensorFlow log for its user
