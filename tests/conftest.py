"""Fixtures shared by the test modules: the ``decaybench`` command, as a user runs it, and the machine's lateness."""

from __future__ import annotations

import bisect
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from decaybench import cli


class Command:
    """The ``decaybench`` command line: in a process of its own (``python -m decaybench``), or in this one."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def argv(self, *args: str) -> list[str]:
        """The argv that runs ``decaybench ARGS``: for a test that drives the process itself (``Popen``)."""
        return [sys.executable, "-m", "decaybench", *args]

    def __call__(
        self, *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run ``decaybench ARGS`` in a new process to the end: its status, stdout and stderr as text."""
        return subprocess.run(self.argv(*args), capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)

    def main(self, *args: str) -> tuple[int, str, str]:
        """Run ``decaybench ARGS`` in this process (``cli.main``): its status, stdout and stderr, which is at most one line."""
        self._capsys.readouterr()
        status = cli.main(list(args))
        captured = self._capsys.readouterr()
        assert "Traceback" not in captured.err and len(captured.err.strip().splitlines()) <= 1, captured.err
        return status, captured.out, captured.err


@pytest.fixture
def decaybench(capsys: pytest.CaptureFixture[str]) -> Command:
    """``decaybench("run", "--epochs", "3")`` runs the command in a new process; ``.argv(...)`` for ``Popen``; ``.main(...)`` in-process."""
    return Command(capsys)


class Lateness:
    """How late this machine runs just now: a thread asks to sleep TICK seconds again and again, and
    adds up how much longer than that each sleep took (waiting for a core).

    A test's upper bound on a duration adds the lateness measured over that duration (``between``):
    on a quiet machine it is milliseconds; when other processes hold both cores, what the test waits
    for runs late by about as much as this thread does. A defect that waits (a sleep, a poll too
    slow, a timeout too long) leaves the cores idle, so it adds nothing to the lateness.
    """

    TICK = 0.01

    def __init__(self) -> None:
        self._times = [time.monotonic()]
        self._late = [0.0]  # the lateness added up until each of _times
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="lateness", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.TICK):
            now = time.monotonic()
            self._late.append(self._late[-1] + max(0.0, now - self._times[-1] - self.TICK))
            self._times.append(now)

    def between(self, start: float, end: float) -> float:
        """Seconds of lateness between two ``time.monotonic()`` readings (to the tick around them)."""
        first = max(0, bisect.bisect_right(self._times, start) - 1)
        last = min(len(self._times) - 1, bisect.bisect_left(self._times, end))
        return self._late[last] - self._late[first]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def lateness() -> Iterator[Lateness]:
    """The machine's lateness during this test (:class:`Lateness`), for upper bounds on durations."""
    watch = Lateness()
    try:
        yield watch
    finally:
        watch.stop()
