"""Group ``vector``: see ``decaybench.bench`` and docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.conftest import time_workload
from decaybench import bench


@pytest.mark.benchmark(group="vector")
@pytest.mark.parametrize("workload", bench.workloads("vector"), ids=lambda workload: workload.id)
def test_vector(benchmark: Any, workload: bench.Workload) -> None:
    time_workload(benchmark, workload)
