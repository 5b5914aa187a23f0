"""Group ``checkpoint``: see ``decaybench.bench`` and docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.conftest import time_workload
from decaybench import bench


@pytest.mark.benchmark(group="checkpoint")
@pytest.mark.parametrize("workload", bench.workloads("checkpoint"), ids=lambda workload: workload.id)
def test_checkpoint(benchmark: Any, workload: bench.Workload) -> None:
    time_workload(benchmark, workload)
