"""The command line run as an unprivileged user, so that the kernel enforces permission bits.

Root ignores a directory's mode bits, so a read-only case tested as root proves nothing. Under root
the command drops to ``nobody`` (``setpriv``, else ``runuser``); already unprivileged, it runs as
is; where neither can be done the test skips saying why.

``nobody`` may not be able to read this checkout (a clone under ``mktemp -d`` is 0700): then Python
would skip its ``PYTHONPATH`` entry and import whatever ``decaybench`` is installed instead. So the
command runs from a copy of the package and ``golden/`` that anyone can read, and the probe checks
that the copy is what it imports.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["owned_directory", "run_cli"]

ROOT = Path(__file__).resolve().parents[1]


def _nobody() -> pwd.struct_passwd | None:
    """The user the command runs as: ``nobody`` under root, ``None`` (this user) otherwise; skips if it cannot."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("the tests run as root and this machine has no user 'nobody': mode bits cannot be enforced")


def _prefix(user: pwd.struct_passwd | None) -> list[str]:
    if user is None:
        return []
    if setpriv := shutil.which("setpriv"):
        return [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
    if runuser := shutil.which("runuser"):
        return [runuser, "-u", user.pw_name, "--"]
    pytest.skip("the tests run as root and neither setpriv nor runuser is here: cannot drop to 'nobody'")


@contextmanager
def owned_directory() -> Iterator[Path]:
    """A new directory the unprivileged user owns (writable by its mode bits), reachable by it; removed after."""
    user = _nobody()
    base = Path(tempfile.mkdtemp(prefix="decaybench-unprivileged-"))
    try:
        base.chmod(0o755)  # pytest's tmp_path lives under a 0700 directory of root's
        directory = base / "owned"
        directory.mkdir()
        if user is not None:
            os.chown(directory, user.pw_uid, user.pw_gid)
        yield directory
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def _readable_copy() -> Iterator[Path]:
    """This checkout's ``decaybench/`` and ``golden/`` copied into a new directory anyone can read; removed after."""
    base = Path(tempfile.mkdtemp(prefix="decaybench-readable-"))
    try:
        for name in ("decaybench", "golden"):
            shutil.copytree(ROOT / name, base / name, ignore=shutil.ignore_patterns("__pycache__"))
        for path in (base, *base.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)  # whatever the clone's umask was
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m decaybench ARGS`` as the unprivileged user, from a readable copy of this checkout."""
    prefix = _prefix(_nobody())
    with _readable_copy() as copy:
        environ = {**os.environ, "PYTHONPATH": str(copy), "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/tmp"}
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", "import decaybench.cli, numpy; print(decaybench.__file__)"],
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=copy,  # python -c puts its working directory first on sys.path
        )
        if probe.returncode != 0:
            last = (probe.stderr.strip().splitlines() or ["?"])[-1]
            pytest.skip(f"the unprivileged user cannot run this environment's Python ({sys.executable}): {last}")
        if Path(probe.stdout.strip()) != copy / "decaybench" / "__init__.py":
            pytest.skip(f"the unprivileged user imports decaybench from {probe.stdout.strip()}, not from this checkout's copy")
        command = [*prefix, sys.executable, "-m", "decaybench", *args]
        return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=300, cwd=copy)
