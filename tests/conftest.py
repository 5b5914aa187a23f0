"""Fixtures shared by the test modules: the ``decaybench`` command, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
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
