"""Repository-wide pytest set-up: benchmarks are timed only when asked for."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _split_the_cpu() -> None:
    # Before any TensorFlow op: mode mirrored then runs on 2 logical CPUs in this process
    # rather than in a worker process of its own (decaybench.modes.distributed.setup_devices).
    from decaybench.modes.distributed import setup_devices

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
settings.register_profile("dev", max_examples=60, deadline=None, print_blob=True)
settings.register_profile("ci", max_examples=500, deadline=None, print_blob=True, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

pytest_plugins = ["pytester"]
