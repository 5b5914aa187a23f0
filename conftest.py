"""Repository-wide pytest set-up: benchmarks are timed only when asked for; no state in the checkout."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

# Collecting and running the tests leaves the checkout as it was (tests/test_stray_state.py):
# no bytecode from here on (make and tox also set PYTHONDONTWRITEBYTECODE, for what loads before
# this file), and Hypothesis's directory (its example database, its caches) inside the virtual
# environment (.venv, .tox/<env>), or in the temporary directory without one.
sys.dont_write_bytecode = True
_IN_VENV = sys.prefix != sys.base_prefix
HYPOTHESIS_HOME = Path(sys.prefix if _IN_VENV else tempfile.gettempdir()) / f"decaybench-hypothesis-{os.getuid()}"
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(HYPOTHESIS_HOME))
set_hypothesis_home_dir(os.environ["HYPOTHESIS_STORAGE_DIRECTORY"])
_DATABASE = DirectoryBasedExampleDatabase(Path(os.environ["HYPOTHESIS_STORAGE_DIRECTORY"]) / "examples")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _split_the_cpu() -> None:
    # Before any TensorFlow op: mode mirrored then runs on 2 logical CPUs in this process
    # rather than in a worker process of its own (decaybench.modes.distributed.training.setup_devices).
    from decaybench.modes.distributed.training import setup_devices

    setup_devices()


_split_the_cpu()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Plain `pytest` runs each benchmark once, untimed, as a smoke test; `pytest
    # --benchmark-only` (or --benchmark-enable) times them.
    if not (config.getoption("benchmark_only", False) or config.getoption("benchmark_enable", False)):
        config.option.benchmark_disable = True


# Hypothesis profiles: `dev` for quick local runs (plain `pytest`), `ci` for `make test`.
# Schedule properties are cheap and take the profile's max_examples; loop properties run
# TensorFlow per example and scale it down themselves (tests/properties/strategies.py).
settings.register_profile("dev", max_examples=60, deadline=None, print_blob=True, database=_DATABASE)
settings.register_profile("ci", max_examples=500, deadline=None, print_blob=True, derandomize=True)  # no database: derandomized
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

pytest_plugins = ["pytester"]
