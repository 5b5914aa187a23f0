"""Group ``sweep``: see ``decaybench.bench`` and docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.conftest import time_workload
from decaybench import bench


@pytest.mark.benchmark(group="sweep")
@pytest.mark.parametrize("workload", bench.workloads("sweep"), ids=lambda workload: workload.id)
def test_sweep(benchmark: Any, workload: bench.Workload) -> None:
    time_workload(benchmark, workload)
