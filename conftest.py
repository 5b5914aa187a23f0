"""Repository-wide pytest set-up: benchmarks are timed only when asked for; no state in the checkout."""

from __future__ import annotations

import os
import random
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
    # Before Hypothesis's own pytest_configure reads --hypothesis-seed (an explicit flag wins).
    if settings.get_current_profile_name() in ("ci", "matrix") and config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = HYPOTHESIS_SEED


# Hypothesis profiles: `dev` for quick local runs (plain `pytest`), `ci` for `make test`.
# Schedule properties are cheap and take the profile's max_examples; loop properties run
# TensorFlow per example and scale it down themselves (tests/properties/strategies.py).
# `ci` explores: each run draws from a new seed (HYPOTHESIS_SEED, else a random one, set here so
# that pytest-xdist's workers inherit it), printed in the header and under every failed test, so
# `HYPOTHESIS_SEED=<seed> make test` replays the run. The regressions found so far are `@example`s.
settings.register_profile("dev", max_examples=60, deadline=None, print_blob=True, database=_DATABASE)
settings.register_profile("ci", max_examples=500, deadline=None, print_blob=True, database=None)
# `make test`'s TensorFlow matrix (tox): the same properties again under other TensorFlow and Keras versions,
# where a version difference shows on any draw; the main suite explores with ci's 500.
settings.register_profile("matrix", max_examples=200, deadline=None, print_blob=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
os.environ.setdefault("HYPOTHESIS_SEED", str(random.SystemRandom().getrandbits(32)))
HYPOTHESIS_SEED = int(os.environ["HYPOTHESIS_SEED"])


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.getoption("hypothesis_seed", None)
    drawn = f"seed {seed} (HYPOTHESIS_SEED={seed} replays it)" if seed is not None else "Hypothesis's own random seeds"
    return f"hypothesis profile {settings.get_current_profile_name()!r}: {drawn}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    seed = item.config.getoption("hypothesis_seed", None)
    if report.failed and seed is not None and item.get_closest_marker("hypothesis") is not None:
        profile = settings.get_current_profile_name()
        report.sections.append(("hypothesis seed", f"HYPOTHESIS_PROFILE={profile} HYPOTHESIS_SEED={seed} replays this run"))


pytest_plugins = ["pytester"]
