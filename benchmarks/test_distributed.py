"""Group ``distributed``: what distribution costs, against the single-device ``graph`` mode.

Each configuration runs through the public ``run(config, mode)`` in ``graph`` (the baseline, one
device), ``mirrored`` (2 logical CPUs in this process, or the GPUs) and ``multiworker`` (2 local
worker processes, ring all-reduce over localhost gRPC). The setup makes one untimed run first,
so the strategy is traced and the cluster is up: what is timed is the steady state, and
``ns_per_step`` is the cost of one epoch. ``multiworker, cold`` times a whole cluster start-up
and one seed run, what a process pays for its first multiworker run. docs/distributed.md reads
these numbers.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.conftest import time_workload
from decaybench import bench
from decaybench.config import DecayConfig

GROUP = "distributed"
CONFIGS = (DecayConfig(), DecayConfig(epochs=1_000), DecayConfig(size=100_000, epochs=40))
NOTES = {
    "graph": "single device, whole loop in one graph",
    "mirrored": "2 replicas in this process",
    "multiworker": "2 worker processes, gRPC ring",
}


def _warm_run(config: DecayConfig, mode: str) -> bench.Call:
    from decaybench.loops import run

    run(config, mode)  # trace the step, start the cluster: not what this group times
    return lambda: run(config, mode)


def _cold_cluster(config: DecayConfig) -> bench.Call:
    from decaybench.modes.distributed.local_supervisor import LocalCluster

    def start_and_run() -> Any:
        with LocalCluster("multiworker") as cluster:
            return cluster.run(config)

    return start_and_run


def workloads() -> list[bench.Workload]:
    """Every mode of the group on every configuration, then the cold start."""
    rows = []
    for config in CONFIGS:
        shape = {"epochs": config.epochs, "size": config.size, "steps": config.epochs}
        for mode, kind in (("graph", "baseline"), ("mirrored", "mode"), ("multiworker", "mode")):
            slow = mode == "multiworker" and config.epochs >= 1_000  # ~4 ms a step: seconds per call
            small = (lambda m=mode: _warm_run(DecayConfig(epochs=bench.SMALL), m)) if slow else None
            rows.append(
                bench.Workload(
                    GROUP, mode, kind, "cpu", lambda c=config, m=mode: _warm_run(c, m), slow=slow, small=small, note=NOTES[mode], **shape
                )
            )
    seed = CONFIGS[0]
    rows.append(
        bench.Workload(
            GROUP, "multiworker, cold", "mode", "cpu", lambda: _cold_cluster(seed), fresh=True, slow=True,
            small=lambda: _cold_cluster(DecayConfig(epochs=bench.SMALL)),
            note="start 2 workers (TensorFlow import, join), one run, stop", epochs=seed.epochs, size=seed.size, steps=seed.epochs,
        )
    )  # fmt: skip
    return rows


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("workload", workloads(), ids=lambda workload: workload.id)
def test_distributed(benchmark: Any, workload: bench.Workload) -> None:
    time_workload(benchmark, workload)
