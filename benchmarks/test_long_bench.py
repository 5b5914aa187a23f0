"""Group ``long``: see ``decaybench.bench`` and docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.conftest import time_workload
from decaybench import bench


@pytest.mark.benchmark(group="long")
@pytest.mark.parametrize("workload", bench.workloads("long"), ids=lambda workload: workload.id)
def test_long(benchmark: Any, workload: bench.Workload) -> None:
    time_workload(benchmark, workload)
