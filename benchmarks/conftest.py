"""How every benchmark is timed: one workload of ``decaybench.bench``, through pytest-benchmark.

Plain ``pytest`` runs each workload once, untimed (the root conftest.py disables timing), the few
that take seconds per call (``slow``) on a small shape through the same builder (``Workload.small``),
and leaves out, with the reason in the collection report, the GPU rows where TensorFlow sees no GPU;
``pytest --benchmark-only`` times them all, and
``decaybench bench`` runs this very suite (``decaybench.bench.engine``). pytest-benchmark chooses
the rounds (``--benchmark-min-rounds``, ``--benchmark-max-time``); this file adds what it does not
do: the untimed first call that traces and compiles, then two untimed calls that tell a call of
milliseconds, timed in pedantic rounds, from a shorter one that pytest-benchmark calibrates (a
``slow`` workload skips those two), a workload's ``interleaved`` implementation timed by us just
before each of its rounds (``extra_info["interleaved_seconds"]``), the marker ``slow`` (``-m "not slow"``
leaves out the workloads of seconds per call), and the skipped workloads with their reasons
under ``skipped`` in the JSON (``--benchmark-json``).
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Generator
from typing import Any

import pytest

from decaybench import bench

# Above this many seconds a call, pytest-benchmark's calibration call would be one round more
# of the same length: such a workload runs pedantic, its rounds from pytest-benchmark's options.
CALIBRATED_BELOW = 0.02
# A first-call workload's share of time, in --benchmark-max-time's: 3 s for the full run's compile
# of the seed (about 20 rounds of xla's 0.16 s), 0.15 s with --quick (its least rounds).
FRESH_BUDGET = 3
_SKIPPED = pytest.StashKey[list[dict[str, Any]]]()
_LEFT_OUT = pytest.StashKey[dict[str, int]]()


def _seconds(target: bench.Call) -> float:
    started = time.perf_counter()
    target()
    return time.perf_counter() - started


def _rounds(benchmark: Any, seconds: float) -> int:
    """``--benchmark-min-rounds``, or as many rounds as fit in ``--benchmark-max-time``, as pytest-benchmark counts."""
    # The fixture keeps its options private; its defaults stand in where a version differs.
    least, budget = getattr(benchmark, "_min_rounds", 5), getattr(benchmark, "_max_time", 1.0)
    return max(least, math.ceil(budget / max(seconds, 1e-9)))


def _collected(target: bench.Call) -> bench.Call:
    """``target``, after a full garbage collection (untimed): a first call's tracing allocates many
    objects, and the collection they trigger must not be of the garbage earlier workloads left."""
    gc.collect()
    return target


def _fresh_rounds(benchmark: Any, workload: bench.Workload) -> int:
    """Rounds of a first-call workload: as many as fit in ``FRESH_BUDGET`` times ``--benchmark-max-time``,
    judged by one untimed round (at least ``--benchmark-min-rounds``; a ``slow`` one gets the least).
    Five rounds of a compile let one slow round (a load spike) put the median's interval at its time."""
    if workload.slow:
        return _rounds(benchmark, math.inf)
    return _rounds(benchmark, _seconds(workload.setup()) / FRESH_BUDGET)


def time_workload(benchmark: Any, workload: bench.Workload) -> None:
    """Time ``workload`` with pytest-benchmark's ``benchmark``, or skip saying why it cannot run here."""
    reason = bench.unavailable(workload)
    if reason is not None:
        pytest.skip(reason)
    if benchmark.disabled and workload.slow:
        # Untimed: the same builder on a small shape, called once (the first call of a fresh one).
        assert workload.small is not None, f"{workload.id} is slow and has no small shape to run untimed"
        benchmark(workload.small())
        return
    benchmark.extra_info.update(workload.info())
    try:
        if workload.fresh:
            # Each round builds anew, untimed; the timed call is the first one.
            setup = lambda: ((_collected(workload.setup()),), {})  # noqa: E731
            returned: list[Any] = []
            rounds = _fresh_rounds(benchmark, workload)
            benchmark.pedantic(lambda target: returned.append(target()), setup=setup, rounds=rounds, iterations=1)
            if workload.reports is not None:
                benchmark.extra_info[workload.reports] = returned
            return
        target = workload.setup()
        if benchmark.disabled:
            benchmark(target)
            return
        seconds = _seconds(target)  # a warm-up: traces and compiles, or touches new memory
        if not workload.slow:
            # Steady-state calls (the faster: a load spike misleads). The warm-up says nothing of a call:
            # run(seed, "xla") compiles for 0.9-1.1 s here, then a call takes 0.3 ms. Judged by its warm-up,
            # it would get 5 rounds just after compiling, and its overhead target would read 2x, not about 1.3x.
            seconds = min(_seconds(target), _seconds(target))
        if workload.interleaved is not None:
            _time_interleaved(benchmark, target, seconds, workload.interleaved[1]())
        elif workload.slow or seconds > CALIBRATED_BELOW:
            benchmark.pedantic(target, rounds=_rounds(benchmark, seconds), iterations=1)
        else:
            benchmark(target)
    except bench.Unavailable as error:
        pytest.skip(error.reason)
    if workload.steps > 1:
        benchmark.extra_info["ns_per_step"] = benchmark.stats.stats.median / workload.steps * 1e9


def _time_interleaved(benchmark: Any, target: bench.Call, seconds: float, other: bench.Call) -> None:
    """Time ``target`` in pedantic rounds, each after one call of ``other`` that we time: the pair
    sees the same machine. ``other``'s seconds go to ``extra_info["interleaved_seconds"]``."""
    other()  # its warm-up
    other_seconds = min(_seconds(other), _seconds(other))
    timed: list[float] = []

    def before() -> tuple[tuple[()], dict[str, Any]]:
        timed.append(_seconds(other))
        return (), {}

    benchmark.pedantic(target, setup=before, rounds=_rounds(benchmark, seconds + other_seconds), iterations=1)
    benchmark.extra_info["interleaved_seconds"] = timed


def _workload(item: pytest.Item) -> bench.Workload | None:
    callspec = getattr(item, "callspec", None)
    workload = callspec.params.get("workload") if callspec is not None else None
    return workload if isinstance(workload, bench.Workload) else None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a benchmark whose call takes seconds (decaybench bench --quick leaves it out)")
    config.stash[_SKIPPED] = []


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: marked before `-m "not slow"` deselects by marker.
    for item in items:
        workload = _workload(item)
        if workload is not None and workload.slow:
            item.add_marker(pytest.mark.slow)
    if config.option.benchmark_disable:
        _leave_out_gpu_rows(config, items)


def _leave_out_gpu_rows(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Untimed, a GPU row that cannot run here is left out (deselected), not skipped: a skip would say a
    test could not check something, and there is nothing to check. Timed runs keep them as skips, with
    their reasons in the JSON (``skipped``)."""
    kept, left_out, reasons = [], [], config.stash.setdefault(_LEFT_OUT, {})
    for item in items:
        workload = _workload(item)
        reason = bench.unavailable(workload) if workload is not None and workload.device == "gpu" else None
        if reason is None:
            kept.append(item)
        else:
            left_out.append(item)
            reason = "host-only rows (their cpu row is the comparison)" if workload is not None and workload.host_only else reason
            reasons[reason] = reasons.get(reason, 0) + 1
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    left_out = config.stash.get(_LEFT_OUT, {})
    if not left_out:
        return []
    reasons = "; ".join(f"{count}: {reason}" for reason, count in left_out.items())
    return [f"benchmarks: {sum(left_out.values())} GPU rows left out (deselected), not run untimed: {reasons}"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    workload = _workload(item)
    if workload is not None and report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        item.config.stash[_SKIPPED].append({**workload.info(), "reason": reason})
    return report


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    output_json["skipped"] = config.stash.get(_SKIPPED, [])
