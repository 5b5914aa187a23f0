"""Collecting and running the tests leaves the checkout as it was: ``git status --ignored`` unchanged.

The tests run in a copy of the checkout (its tracked and untracked files, committed to a fresh
repository), with the environment ``make test`` and tox give them (``PYTHONDONTWRITEBYTECODE``;
conftest.py puts Hypothesis's directory in the virtual environment). Anything a test run leaves
behind, ignored or not (``.hypothesis/``, ``__pycache__/``, ``.benchmarks/``, ``.pytest_cache/``),
shows up as a difference.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Hypothesis properties (the example database), the golden plugin, files, and a TensorFlow mode.
RUN = ["tests/properties/test_schedule_properties.py", "tests/test_files.py", "tests/test_pytest_plugin.py", "tests/golden/test_golden.py"]


def _git(directory: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, check=True)
    return done.stdout


def _copy_checkout(target: Path) -> Path:
    files = _git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    _git(target, "init", "-q")
    _git(target, "add", "-A")
    _git(target, "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "snapshot")
    return target


def test_the_makefile_and_tox_run_pytest_without_bytecode() -> None:
    # What loads before conftest.py (the plugin's decaybench) is kept from writing bytecode by the environment.
    recipe = next(line for line in (ROOT / "Makefile").read_text().splitlines() if "-m pytest" in line)
    assert "PYTHONDONTWRITEBYTECODE=1" in recipe
    assert "PYTHONDONTWRITEBYTECODE = 1" in (ROOT / "tox.ini").read_text()


def test_collecting_and_running_the_tests_leaves_git_status_unchanged(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout")
    checkout = _copy_checkout(tmp_path / "checkout")
    before = _git(checkout, "status", "--ignored", "--porcelain")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HYPOTHESIS_STORAGE", "PYTEST_"))}
    env |= {"PYTHONDONTWRITEBYTECODE": "1", "HYPOTHESIS_PROFILE": "dev", "TF_CPP_MIN_LOG_LEVEL": "2"}
    for args in (["--collect-only", "-q"], ["-q", "-x", *RUN]):
        done = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=checkout, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert _git(checkout, "status", "--ignored", "--porcelain") == before
