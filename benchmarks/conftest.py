"""How every benchmark is timed: one workload of ``decaybench.bench``, through pytest-benchmark.

Plain ``pytest`` runs each workload once, untimed (the root conftest.py disables timing), and
skips the few that take seconds per call; ``pytest --benchmark-only`` times them all.
"""

from __future__ import annotations

from typing import Any

import pytest

from decaybench import bench


def time_workload(benchmark: Any, workload: bench.Workload) -> None:
    """Time ``workload`` with pytest-benchmark's ``benchmark``, or skip saying why it cannot run here."""
    reason = bench.unavailable(workload)
    if reason is not None:
        pytest.skip(reason)
    if benchmark.disabled and workload.slow:
        pytest.skip("a round takes seconds: timed only with --benchmark-only")
    benchmark.extra_info.update(workload.info())
    try:
        if workload.fresh:
            # Each round builds anew, untimed; the timed call is the first one.
            benchmark.pedantic(
                lambda target: target(), setup=lambda: ((workload.setup(),), {}), rounds=1 if workload.slow else 3, iterations=1
            )
            return
        target = workload.setup()
        if benchmark.disabled:
            benchmark.pedantic(target)
            return
        iterations, rounds, warmup = bench.plan(bench.warm(target))
        benchmark.pedantic(target, rounds=rounds, iterations=iterations, warmup_rounds=warmup)
    except bench.Unavailable as error:
        pytest.skip(error.reason)
    if workload.steps > 1:
        benchmark.extra_info["ns_per_step"] = benchmark.stats.stats.median / workload.steps * 1e9
    if workload.group == "vector" and workload.kind != "floor":
        floor = bench.measure(
            next(w for w in bench.workloads("vector", (workload.device,)) if w.kind == "floor" and w.size == workload.size)
        )
        if floor.median is not None:
            benchmark.extra_info["copy_floor_s"] = floor.median
            benchmark.extra_info["fraction_of_floor_bandwidth"] = floor.median / benchmark.stats.stats.median
