"""decaybench.bench: the workloads, the timing plan, ratios and targets, the reports, and the APIs it times."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from numpy.testing import assert_array_equal

from decaybench import bench
from decaybench.config import DecayConfig
from decaybench.loops import MODES, run
from decaybench.modes.compiled import fresh_runner, train_step, xla_step


def result(group: str, name: str, kind: str, seconds: float, **shape: object) -> bench.Result:
    workload = bench.Workload(group, name, kind, "cpu", lambda: lambda: None, **shape)  # type: ignore[arg-type]
    return bench.Result(workload, (seconds, seconds * 1.1, seconds * 0.9))


def test_every_group_has_workloads_on_both_devices_with_unique_ids() -> None:
    everything = [w for group in bench.GROUPS for w in bench.workloads(group)]
    assert len({w.id for w in everything}) == len(everything)
    assert {w.device for w in everything} == set(bench.DEVICES)
    assert {w.kind for w in everything} <= set(bench.KINDS)
    for group in bench.GROUPS:
        assert {w.group for w in bench.workloads(group)} == {group}
    with pytest.raises(ValueError, match="group must be one of"):
        bench.workloads("warp")


def test_the_seed_group_times_every_mode_its_peers_and_its_floors() -> None:
    seed = bench.workloads("seed", ("cpu",))
    assert [w.name for w in seed if w.kind == "mode"] == list(MODES)
    assert {w.name for w in seed if w.kind == "peer"} == {"tf.keras", "torch", "optax"}
    assert {w.name for w in seed if w.kind == "floor"} == {"python floats", "numpy loop"}
    assert all(w.epochs == 40 and w.size == 1 for w in seed)
    long = bench.workloads("long", ("cpu",))
    assert {(w.name, w.epochs) for w in long} == {(n, e) for n in ("graph", "xla", "optax", "numpy closed form") for e in bench.LONG_EPOCHS}


@pytest.mark.parametrize("seconds", [1e-7, 2e-5, 3e-4, 5e-3, 0.2, 4.0, 60.0])
@pytest.mark.parametrize("quick", [False, True])
def test_the_plan_keeps_rounds_above_a_millisecond_and_takes_enough_of_them(seconds: float, quick: bool) -> None:
    iterations, rounds, warmup = bench.plan(seconds, quick)
    assert iterations in (1, 1000) or seconds * iterations >= 1e-3  # at most 1000 calls a round
    assert rounds >= (1 if quick and seconds > 0.5 else 3) and (rounds >= 5 or quick or seconds > 1.0)
    assert warmup == (1 if seconds < 1e-4 else 0)  # pedantic with warm-up for anything that short


def test_ratios_compare_within_a_case_only() -> None:
    results = [
        result("seed", "eager", "mode", 10e-3, epochs=40),
        result("seed", "xla", "mode", 0.1e-3, epochs=40),
        result("seed", "optax", "peer", 0.05e-3, epochs=40),
        result("seed", "torch", "peer", 2e-3, epochs=40),
        result("seed", "python floats", "floor", 0.01e-3, epochs=40),
        result("long", "xla", "mode", 1.0, epochs=1000),
    ]
    table = bench.ratios(results)
    xla = table["seed-xla-cpu-e40"]
    assert xla["vs_eager"] == pytest.approx(100.0)
    assert xla["vs_peer"] == pytest.approx(0.5)  # the fastest peer, optax
    assert xla["vs_floor"] == pytest.approx(0.1)
    assert xla["vs_baseline"] is None
    assert table["long-xla-cpu-e1000"] == {"vs_eager": None, "vs_peer": None, "vs_floor": None, "vs_baseline": None}


def test_targets_are_ratios_of_the_same_run() -> None:
    big = bench.VECTOR_SIZES[-1]
    results = [
        result("seed", "eager", "mode", 10e-3, epochs=40),
        result("seed", "keras", "mode", 50e-3, epochs=40),
        result("seed", "graph", "mode", 0.5e-3, epochs=40),
        result("seed", "xla", "mode", 0.08e-3, epochs=40),
        result("long", "xla", "mode", 20e-3, epochs=1_000_000),
        result("long", "optax", "peer", 10e-3, epochs=1_000_000),
        result("long", "numpy closed form", "floor", 50e-3, epochs=1_000_000),
        result("vector", "xla", "mode", 10e-3, size=big),
        result("vector", "copy", "floor", 9e-3, size=big),
        result("compile", "xla", "mode", 0.4),
    ]
    found = {t.name: t for t in bench.targets(results)}
    assert found["seed vs eager"].measured == pytest.approx(125.0) and found["seed vs eager"].met
    assert found["seed vs keras"].measured == pytest.approx(625.0) and found["seed vs keras"].met
    assert found["long vs optax"].measured == pytest.approx(0.5) and found["long vs optax"].met is False
    assert found["long vs closed form"].measured == pytest.approx(2.5) and found["long vs closed form"].met
    assert found["vector vs copy"].measured == pytest.approx(0.9) and found["vector vs copy"].met
    assert found["compile xla"].met is False  # 0.4 s > 0.3 s: lower is better
    assert found["sweep vs runs"].measured is None and found["sweep vs runs"].met is None


def test_reports_name_every_mode_and_every_target() -> None:
    results = (
        result("seed", "eager", "mode", 10e-3, epochs=40, steps=40),
        result("seed", "xla", "mode", 0.1e-3, epochs=40, steps=40),
        bench.Result(bench.workloads("seed", ("gpu",))[0], skipped="TensorFlow sees no GPU"),
    )
    report = bench.Report(results, {**bench.machine(), "load_average_after": [1.0, 1.0, 1.0]}, quick=True)
    document = report.to_dict()
    assert document["modes"] == ["eager", "xla"]
    assert [row["implementation"] for row in document["results"]] == ["eager", "xla", "eager"]
    assert document["results"][1]["vs_eager"] == pytest.approx(100.0) and document["results"][1]["per_step_ns"] == pytest.approx(2500.0)
    assert len(document["targets"]) == 7
    json.dumps(document, allow_nan=False)
    text = bench.table(report)
    assert "100x" in text and "skipped: TensorFlow sees no GPU" in text and "seed vs eager" in text
    page = bench.markdown(report, notes="## Why\n\nBecause.")
    assert page.startswith("# Benchmarks") and "make bench-docs" in page and "| target |" in page and page.rstrip().endswith("Because.")


def test_unavailable_says_why() -> None:
    python = next(w for w in bench.workloads("seed", ("gpu",)) if w.name == "python floats")
    assert "host only" in (bench.unavailable(python) or "")
    if not tf.config.list_physical_devices("GPU"):
        xla = next(w for w in bench.workloads("seed", ("gpu",)) if w.name == "xla")
        assert "no GPU" in (bench.unavailable(xla) or "")
        assert bench.measure(xla).skipped == bench.unavailable(xla)


def test_measure_times_a_workload_in_rounds() -> None:
    floor = next(w for w in bench.workloads("seed", ("cpu",)) if w.name == "python floats")
    measured = bench.measure(floor, quick=True)
    assert measured.skipped is None and len(measured.seconds) >= 3
    assert measured.median is not None and 0 < measured.median < 0.1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_timed_steps_are_the_modes_steps(dtype: str) -> None:
    # vector times one call of these; stepping them epoch by epoch must be the mode's run.
    config = DecayConfig(epochs=12, size=37, w0=-3.5, initial_learning_rate=0.3, staircase=True, decay_steps=4, dtype=dtype)
    expected = run(config, "function")
    w = tf.Variable(np.full(config.size, config.w0, dtype=dtype))
    for epoch, lr in enumerate(expected.lr):
        loss = train_step(w, tf.constant(lr, dtype))
        assert_array_equal(w.numpy(), expected.w[epoch])
        assert_array_equal(loss.numpy(), expected.loss[epoch])
    expected = run(config, "xla")
    value = tf.constant(np.full(config.size, config.w0, dtype=dtype))
    for epoch, lr in enumerate(expected.lr):
        value, loss = xla_step(value, tf.constant(lr, dtype))
        assert_array_equal(value.numpy(), expected.w[epoch])
        assert_array_equal(loss.numpy(), expected.loss[epoch])


@pytest.mark.parametrize("mode", ["function", "graph", "xla"])
def test_a_fresh_runner_traces_anew_and_runs_the_mode(mode: str) -> None:
    runner = fresh_runner(mode)
    for config in (DecayConfig(), DecayConfig(epochs=23, record_every=5, size=3)):
        assert runner(config).to_json() == run(config, mode).to_json()
    with pytest.raises(ValueError, match="mode must be one of function, graph, xla"):
        fresh_runner("eager")


def test_the_sweep_workloads_vary_what_a_sweep_may_vary() -> None:
    configs = bench._sweep_configs(50, 7)
    assert len({(c.initial_learning_rate, c.decay_rate, c.w0) for c in configs}) == 50
    assert {(c.epochs, c.dtype, c.size, c.record_every) for c in configs} == {(7, "float32", 1, 1)}


def test_bench_command_writes_json_naming_every_mode_it_timed(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "decaybench", "bench", "--quick", "--group", "compile", "--format", "json", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(output.read_text())
    assert document["modes"] == ["function", "graph", "xla"] and document["quick"] is True
    assert {row["implementation"] for row in document["results"]} >= {"function", "graph", "xla"}
    compile_target = next(t for t in document["targets"] if t["name"] == "compile xla")
    assert compile_target["measured"] is not None and compile_target["met"] in (True, False)


def test_bench_command_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    for args in (["--format", "xml"], ["--group", "warp"], ["--output", str(tmp_path / "no" / "x.json")]):
        done = subprocess.run([sys.executable, "-m", "decaybench", "bench", *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr
    assert list(tmp_path.iterdir()) == []
