"""Repository-wide pytest set-up: benchmarks are timed only when asked for."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Plain `pytest` runs each benchmark once, untimed, as a smoke test; `pytest
    # --benchmark-only` (or --benchmark-enable) times them.
    if not (config.getoption("benchmark_only", False) or config.getoption("benchmark_enable", False)):
        config.option.benchmark_disable = True
