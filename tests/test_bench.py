"""decaybench.bench: the workloads, the timing plan, ratios and targets, the reports, and the APIs it times."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import tensorflow as tf
from numpy.testing import assert_array_equal, assert_array_max_ulp

from decaybench import bench
from decaybench.bench import grid_subjects, subjects
from decaybench.bench.workload import SWEEP_CONFIGS
from decaybench.config import DecayConfig
from decaybench.loops import MODES, run
from decaybench.modes.compiled import fresh_runner, train_step, xla_step
from decaybench.modes.emulation import emulate, xla_model
from decaybench.xla_flags import xla_contracts
from tools import bench_docs

if TYPE_CHECKING:
    from tests.conftest import Command


def spread(seconds: float) -> tuple[float, ...]:
    return (seconds, seconds * 1.1, seconds * 0.9, seconds * 1.05, seconds * 0.95)


def result(group: str, name: str, kind: str, seconds: float, interleaved: float | None = None, **shape: object) -> bench.Result:
    workload = bench.Workload(group, name, kind, "cpu", lambda: lambda: None, **shape)  # type: ignore[arg-type]
    return bench.Result(workload, spread(seconds), interleaved=() if interleaved is None else spread(interleaved))


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
    assert not any(w.slow for w in seed)  # --quick times every mode of the seed
    assert {w.name for w in seed if w.kind == "peer"} == {"tf.keras", "torch", bench.OPTAX_FLOAT32, bench.OPTAX_FLOAT64}
    assert {w.name for w in seed if w.kind == "floor"} == {"python floats", "numpy loop", bench.XLA_CALL}
    assert all(w.epochs == 40 and w.size == 1 for w in seed)
    long = bench.workloads("long", ("cpu",))
    names = ("graph", "xla", "xla-exact", bench.OPTAX_FLOAT32, bench.OPTAX_FLOAT64, bench.NATIVE)
    float64 = {(f"{name}{bench.FLOAT64}", bench.LONG_EPOCHS[-1]) for name in ("xla", "xla-exact", bench.NATIVE)}
    assert {(w.name, w.epochs) for w in long} == {(n, e) for n in names for e in bench.LONG_EPOCHS} | float64
    # Each side of a ratio target is timed in turn with the other: the modes with the limit, optax with xla.
    paired = {(w.name, w.interleaved[0]) for w in long if w.interleaved is not None}
    assert paired == {
        ("xla", bench.NATIVE),
        ("xla-exact", bench.NATIVE),
        (bench.OPTAX_FLOAT64, "xla"),
        (f"xla{bench.FLOAT64}", f"{bench.NATIVE}{bench.FLOAT64}"),
        (f"xla-exact{bench.FLOAT64}", f"{bench.NATIVE}{bench.FLOAT64}"),
    }


def test_ratios_compare_within_a_case_only_each_with_its_interval() -> None:
    results = [
        result("seed", "eager", "mode", 10e-3, epochs=40),
        result("seed", "xla", "mode", 0.1e-3, epochs=40),
        result("seed", bench.OPTAX_FLOAT32, "peer", 0.05e-3, epochs=40),
        result("seed", "torch", "peer", 2e-3, epochs=40),
        result("seed", "python floats", "floor", 0.01e-3, epochs=40),
        result("long", "xla", "mode", 1.0, epochs=1000),
    ]
    table = bench.ratios(results)
    xla = table["seed-xla-cpu-e40"]
    assert xla["vs_eager"] is not None and xla["vs_eager"][0] == pytest.approx(100.0)
    assert xla["vs_eager"][1] < 100.0 < xla["vs_eager"][2]  # rounds that spread +-10% give an interval
    assert xla["vs_peer"] is not None and xla["vs_peer"][0] == pytest.approx(0.5)  # the fastest peer, optax
    assert xla["vs_floor"] is not None and xla["vs_floor"][0] == pytest.approx(0.1)
    assert xla["vs_baseline"] is None
    assert table["long-xla-cpu-e1000"] == {"vs_eager": None, "vs_peer": None, "vs_floor": None, "vs_baseline": None}


def test_a_target_is_met_missed_or_inconclusive_by_its_whole_interval() -> None:
    big, last = bench.VECTOR_SIZES[-1], bench.LONG_EPOCHS[-1]
    results = [
        result("seed", "xla", "mode", 0.05e-3, epochs=40),  # timed apart from its call: not the overhead's
        result("seed", bench.XLA_CALL, "floor", 0.09e-3, interleaved=0.1e-3, epochs=40),
        result("seed", bench.OPTAX_FLOAT32, "peer", 0.01e-3, interleaved=0.1e-3, epochs=40),
        # Each mode with the limit's rounds interleaved: t(mode) / t(limit).
        result("long", "xla", "mode", 15e-3, interleaved=18e-3, epochs=last),
        result("long", "xla-exact", "mode", 40e-3, interleaved=18e-3, epochs=last),
        result("long", f"xla{bench.FLOAT64}", "mode", 21.5e-3, interleaved=18e-3, epochs=last),
        result("long", bench.NATIVE, "floor", 1e-3, epochs=last),  # timed apart: not the targets'
        result("long", bench.OPTAX_FLOAT64, "peer", 10e-3, interleaved=20e-3, epochs=last),
        result("vector", "copy", "floor", 10e-3, interleaved=10e-3, size=big),
        result("compile", "xla", "mode", 0.4),
        result("compile", "xla, new process, cached", "mode", 0.45),
    ]
    found = {t.name: t for t in bench.targets(results)}
    assert not {"seed vs eager", "seed vs keras", "long vs closed form"} & set(found)  # retired
    # From the interleaved pairs (0.1 ms against 0.09 ms), not from the xla row timed apart (0.05 ms).
    assert found["seed run overhead"].measured == pytest.approx(1.0 / 0.9) and found["seed run overhead"].verdict == "met"
    assert found["seed vs optax (stretch)"].measured == pytest.approx(10.0) and found["seed vs optax (stretch)"].verdict == "missed"
    assert found["long xla vs the limit"].measured == pytest.approx(15 / 18) and found["long xla vs the limit"].verdict == "met"
    assert found["long xla-exact vs the limit"].verdict == "missed"
    # 1.19x with rounds +-10%: the interval straddles 1.2x.
    assert found["long xla float64 vs the limit"].verdict == "inconclusive"
    assert found["long xla-exact float64 vs the limit"].verdict == "not run"
    assert found["long vs optax"].measured == pytest.approx(0.5) and found["long vs optax"].verdict == "missed"
    assert found["vector vs copy"].verdict == "met"
    assert found["compile xla"].verdict == "missed"  # 0.4 s > 0.3 s: lower is better
    assert found["compile xla, new process, cached"].verdict == "met"
    assert found["sweep vs runs"].measured is None and found["sweep vs runs"].verdict == "not run"
    # The runs' rounds (0.2 s) each after a sweep's (0.01 s): t(runs) / t(sweep) from those pairs, not from
    # the sweep row timed apart (0.1 s, which would give 2x).
    sweep_rows = [
        result("sweep", "xla sweep", "mode", 0.1, configs=SWEEP_CONFIGS),
        result("sweep", "xla runs", "baseline", 0.2, interleaved=0.01, configs=SWEEP_CONFIGS),
    ]
    runs = {t.name: t for t in bench.targets(sweep_rows)}["sweep vs runs"]
    assert runs.measured == pytest.approx(20.0) and runs.verdict == "met"


def document(*results: bench.Result, skipped: tuple[dict[str, object], ...] = ()) -> dict[str, object]:
    """A pytest-benchmark JSON document of ``results``, as benchmarks/conftest.py fills it."""
    entries = [{"name": r.workload.id, "extra_info": r.workload.info(), "stats": {"data": list(r.seconds)}} for r in results]
    return {"machine_info": {}, "benchmarks": entries, "version": "5.3.1", "skipped": list(skipped)}


def test_reports_read_pytest_benchmark_json_and_name_every_mode_and_target() -> None:
    gpu = {**bench.workloads("seed", ("gpu",))[0].info(), "reason": "TensorFlow sees no GPU"}
    raw = document(
        result("seed", "eager", "mode", 10e-3, epochs=40, steps=40),
        result("seed", "xla", "mode", 0.1e-3, epochs=40, steps=40),
        skipped=(gpu,),
    )
    report = bench.load(raw, quick=True, facts={**bench.machine(), "load_average_after": [1.0, 1.0, 1.0]})
    dumped = report.to_dict()
    assert dumped["benchmarks"] == raw["benchmarks"] and dumped["version"] == "5.3.1"  # pytest-benchmark's own JSON
    assert dumped["modes"] == ["eager", "xla"]
    assert [row["implementation"] for row in dumped["results"]] == ["eager", "xla", "eager"]
    xla = dumped["results"][1]
    assert xla["vs_eager"] == pytest.approx(100.0) and xla["per_step_ns"] == pytest.approx(2500.0)
    assert xla["vs_eager_interval"][0] < 100.0 < xla["vs_eager_interval"][1] and xla["rounds"] == 5
    assert len(dumped["targets"]) == 14 and {t["verdict"] for t in dumped["targets"]} <= {"met", "missed", "inconclusive", "not run"}
    json.dumps(dumped, allow_nan=False)
    text = bench.table(report)
    assert "100x [" in text and "gpu: all 1 workloads skipped: TensorFlow sees no GPU" in text and "seed run overhead" in text
    assert bench.EXPLAINED in text
    page = bench_docs.markdown(report, notes="## Why\n\nBecause.")
    assert page.startswith("# Benchmarks") and "make bench-docs" in page and "| target |" in page and page.rstrip().endswith("Because.")
    assert "--benchmark-compare" in page and bench.EXPLAINED in page


def test_the_docs_page_tool_refuses_a_bad_output_before_timing_anything(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A timing run takes minutes: a bad --output is refused before it starts, in one line.
    def timed(**_: object) -> None:
        raise AssertionError("the benchmarks ran before --output was checked")

    monkeypatch.setattr(bench_docs, "run_benchmarks", timed)
    assert bench_docs.main(["--output", ""]) == 2
    assert capsys.readouterr().err.splitlines() == ["python -m tools.bench_docs: error: --output: cannot write '': the path is empty"]
    assert bench_docs.main([]) == 2  # --output is required: one line, status 2


def test_a_json_without_rounds_is_refused() -> None:
    raw = document(result("seed", "xla", "mode", 1e-4, epochs=40))
    raw["benchmarks"][0]["stats"] = {"median": 1e-4}  # type: ignore[index]
    with pytest.raises(ValueError, match="no per-round data"):
        bench.results_of(raw)


def test_the_pytest_command_line_selects_groups_and_passes_comparisons_through() -> None:
    quick = bench.pytest_args(["seed", "compile"], "out.json", quick=True)
    assert quick[0].endswith("benchmarks/test_seed_bench.py") and quick[1].endswith("benchmarks/test_compile_bench.py")
    assert quick[-2:] == ["-m", "not slow"] and "--benchmark-only" in quick and "--benchmark-min-rounds" in quick
    full = bench.pytest_args(["long"], "out.json", save="base", compare="0001", compare_fail=["median:10%"], storage="file://x")
    assert "-m" not in full and "--benchmark-save-data" in full and "--benchmark-compare=0001" in full
    assert full[full.index("--benchmark-compare-fail") + 1] == "median:10%" and full[full.index("--benchmark-storage") + 1] == "file://x"
    assert "--benchmark-compare" in bench.pytest_args(["long"], "out.json", compare="")
    with pytest.raises(ValueError, match="group must be one of"):
        bench.pytest_args(["warp"], "out.json")


def test_unavailable_says_why() -> None:
    python = next(w for w in bench.workloads("seed", ("gpu",)) if w.name == "python floats")
    assert "host only" in (bench.unavailable(python) or "")
    if not tf.config.list_physical_devices("GPU"):
        xla = next(w for w in bench.workloads("seed", ("gpu",)) if w.name == "xla")
        assert "no GPU" in (bench.unavailable(xla) or "")


def test_optax_computing_our_float64_schedule_gives_the_seed_trace_of_mode_xla() -> None:
    pytest.importorskip("optax")
    import jax.numpy as jnp

    from decaybench.peers.optax import optax_x64_scan

    config = DecayConfig()
    ws, losses, lrs = (np.asarray(a) for a in optax_x64_scan(config)(jnp.full((1,), config.w0, jnp.float32)))
    xla, eager = run(config, "xla"), run(config, "eager")
    # The float64 lr rounded once to float32, as our modes apply it; w and loss bit for bit mode xla's.
    assert lrs.dtype == np.float32 and np.array_equal(lrs, xla.lr.astype(np.float32))
    assert_array_equal(ws, xla.w)
    assert_array_equal(losses, xla.loss)
    # Against eager (no FMA): w apart exactly where the model of XLA parts from the plain emulation
    # (on the seed with FMA: 1 ULP at epochs 3-5), as optax's float32 run.
    parted = np.flatnonzero(xla_model(config).w[:, 0] != emulate(config).w[:, 0]).tolist()
    assert np.flatnonzero(ws[:, 0] != eager.w[:, 0]).tolist() == parted and (parted != []) == xla_contracts()
    assert_array_max_ulp(ws, eager.w, maxulp=1)


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


def test_the_cached_new_process_row_fills_its_cache_from_a_new_process() -> None:
    # TensorFlow reads TF_XLA_FLAGS at its first op: a worker that runs one before it sets the cache
    # writes nothing, and the "cached" row times uncached processes (as it did, 1.03 s against 1.04 s).
    directory = Path(subjects._filled_cache("xla", "cpu"))
    assert [path.name for path in directory.iterdir() if path.name.startswith("xla_compile_cache")]


def test_the_sweep_workloads_vary_what_a_sweep_may_vary(monkeypatch: pytest.MonkeyPatch) -> None:
    swept: list[list[DecayConfig]] = []
    monkeypatch.setattr(grid_subjects, "run_sweep", lambda configs, mode: swept.append(configs))  # the name the workload calls
    sweeps = [w for w in bench.workloads("sweep", devices=("cpu",)) if w.note.startswith("run_sweep")]
    assert len(sweeps) >= 2
    for workload in sweeps:
        call = workload.setup()
        call(), call()
        first, second = swept[-2:]
        # New configurations in each call (issue 27): building them and their schedules is timed, every round.
        assert all(a == b and a is not b for a, b in zip(first, second, strict=True))
        assert len({(c.initial_learning_rate, c.decay_rate, c.w0) for c in second}) == len(second) == workload.configs
        assert {(c.epochs, c.dtype, c.size, c.record_every) for c in second} == {(workload.epochs, "float32", 1, 1)}


def test_bench_command_is_pytest_benchmarks_json_and_compares_with_a_saved_run(decaybench: Command, tmp_path: Path) -> None:
    def bench_command(*args: str) -> subprocess.CompletedProcess[str]:
        return decaybench("bench", "--quick", "--group", "compile", *args, cwd=tmp_path, timeout=600)

    output, storage = tmp_path / "bench.json", f"file://{tmp_path / 'runs'}"
    done = bench_command("--format", "json", "--output", str(output), "--benchmark-save", "base", "--benchmark-storage", storage)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == ""  # pytest's output goes to stderr
    document = json.loads(output.read_text())
    assert document["quick"] is True and "machine_info" in document and document["benchmarks"]  # pytest-benchmark's own keys
    assert document["modes"] == ["function", "graph", "xla"]
    timed = [row for row in document["results"] if row["median_s"] is not None]
    assert {row["implementation"] for row in timed} >= {"function", "graph", "xla"} and all(row["rounds"] >= 5 for row in timed)
    for entry in document["benchmarks"]:
        assert len(entry["stats"]["data"]) == entry["stats"]["rounds"] >= 5
    compile_target = next(t for t in document["targets"] if t["name"] == "compile xla")
    assert compile_target["verdict"] in ("met", "missed", "inconclusive") and len(compile_target["interval"]) == 2
    assert list((tmp_path / "runs").rglob("0001_base.json"))

    again = bench_command("--benchmark-compare", "0001", "--benchmark-compare-fail", "median:100000%", "--benchmark-storage", storage)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "0001_base" in again.stderr and "compile xla" in again.stdout


SLOW_FIRST_CALL = """
import time
import pytest
from benchmarks.conftest import time_workload
from decaybench import bench

def compiles_then_is_quick():
    calls = []
    def call():
        if not calls:
            time.sleep(1.5)  # like run(seed, "xla")'s first call: it compiles for about a second
        calls.append(None)
    return call

@pytest.mark.parametrize("slow", [False, True])
def test_it(benchmark, slow):
    time_workload(benchmark, bench.Workload("seed", "x", "mode", "cpu", compiles_then_is_quick, slow=slow))
"""


def timed_in_subprocess(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, source: str, max_time: float, passed: int
) -> dict[str, Any]:
    """Run ``source`` as a test file under ``pytest --benchmark-only`` in a fresh process; its JSON."""
    pytester.makepyfile(test_timed=source)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))  # the subprocess imports benchmarks/
    for name in [name for name in os.environ if name.startswith("PYTEST_XDIST")]:
        monkeypatch.delenv(name)  # under pytest -n: pytest-benchmark would not time
    timing = ("--benchmark-only", "--benchmark-json", "out.json", "--benchmark-max-time", f"{max_time:g}")
    pytester.runpytest_subprocess(*timing, "-p", "no:cacheprovider", "-p", "no:xdist").assert_outcomes(passed=passed)
    return dict(json.loads((pytester.path / "out.json").read_text()))


def test_a_long_first_call_does_not_make_quick_calls_pedantic(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # A quick call after a compile of a second is calibrated: pytest-benchmark times it in as many
    # rounds as fit in --benchmark-max-time. Judged by the compile, it got 5 rounds next to the compile.
    document = timed_in_subprocess(pytester, monkeypatch, SLOW_FIRST_CALL, max_time=0.05, passed=2)
    rounds = {entry["param"]: entry["stats"]["rounds"] for entry in document["benchmarks"]}
    # Calibrated, a call of microseconds gets as many rounds as fit in 0.05 s: thousands here, fewer on a
    # loaded machine, so no count is asserted, only more than the least. Judged by its 1.5 s first call,
    # it would get the least rounds, 5, as a slow workload does.
    assert rounds["True"] == 5 < rounds["False"], rounds


FIRST_CALLS = """
import time
import pytest
from benchmarks.conftest import time_workload
from decaybench import bench

def a_new_function():
    return lambda: time.sleep(0.001)  # a first call: a compile, here 1 ms

@pytest.mark.parametrize("slow", [False, True])
def test_it(benchmark, slow):
    workload = bench.Workload("compile", "x", "mode", "cpu", a_new_function, fresh=True, slow=slow, small=a_new_function)
    time_workload(benchmark, workload)
"""


def test_a_first_call_gets_the_rounds_its_budget_holds(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh workload's rounds: as many as fit in FRESH_BUDGET * --benchmark-max-time (0.3 s of 1 ms
    # calls: up to 300), judged by an untimed round. With the least, 5, one slow round of a compile put
    # the median's interval at that round (docs/benchmarks.md read "156 ms [143 ms, 570 ms]"). A slow
    # one (a new process a round) keeps the least.
    document = timed_in_subprocess(pytester, monkeypatch, FIRST_CALLS, max_time=0.1, passed=2)
    rounds = {entry["param"]: entry["stats"]["rounds"] for entry in document["benchmarks"]}
    assert rounds["True"] == 5 and rounds["False"] > 20, rounds


INTERLEAVED = """
from benchmarks.conftest import time_workload
from decaybench import bench

log = []

def recording(name):
    return lambda: lambda: log.append(name)

def test_it(benchmark):
    workload = bench.Workload(
        "seed", bench.XLA_CALL, "floor", "cpu", recording("call"), epochs=40, interleaved=("xla", recording("run"))
    )
    time_workload(benchmark, workload)
    rounds = len(benchmark.stats.stats.data)
    assert log[:6] == ["call"] * 3 + ["run"] * 3  # the warm-ups
    assert log[6:] == ["run", "call"] * rounds  # then each round: a run, then the timed call
"""


def test_an_interleaved_pair_is_timed_in_turn_and_read_back_as_a_target(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    [call] = bench.results_of(timed_in_subprocess(pytester, monkeypatch, INTERLEAVED, max_time=0.01, passed=1))
    assert len(call.interleaved) == len(call.seconds) >= 5 and call.workload.name == bench.XLA_CALL
    overhead = next(t for t in bench.targets([call]) if t.name == "seed run overhead")
    assert overhead.interval is not None and overhead.verdict != "not run"


def test_bench_command_refuses_bad_input_in_one_line(decaybench: Command, tmp_path: Path) -> None:
    for args in (["--format", "xml"], ["--group", "warp"], ["--output", str(tmp_path / "no" / "x.json")]):
        done = decaybench("bench", *args, timeout=120)
        assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_every_slow_workload_has_a_small_shape_from_its_builder() -> None:
    from benchmarks.test_distributed import workloads as distributed_workloads

    everything = [workload for group in bench.GROUPS for workload in bench.workloads(group, ("cpu",))] + distributed_workloads()
    slow = [workload.id for workload in everything if workload.slow]
    assert len(slow) == 21 and all(workload.small is not None for workload in everything if workload.slow), slow


UNTIMED = """
import pytest
from benchmarks.conftest import time_workload
from decaybench import bench

calls = []

def full_shape():
    raise AssertionError("a slow workload ran its full shape untimed")

def small_shape():
    return lambda: calls.append("small")

WORKLOADS = [
    bench.Workload("long", "x", "mode", "cpu", full_shape, slow=True, small=small_shape),
    bench.Workload("long", "x", "mode", "gpu", full_shape),
]

@pytest.mark.parametrize("workload", WORKLOADS, ids=["cpu", "gpu"])
def test_it(benchmark, workload):
    time_workload(benchmark, workload)
    assert calls == ["small"]
"""


def test_untimed_a_slow_workload_runs_small_and_a_gpu_row_is_left_out(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("TensorFlow sees a GPU here: its rows run")
    hooks = ("pytest_configure", "pytest_collection_modifyitems", "pytest_report_collectionfinish", "pytest_runtest_makereport")
    pytester.makeconftest(f"from benchmarks.conftest import {', '.join(hooks)}")
    pytester.makepyfile(test_untimed=UNTIMED)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    done = pytester.runpytest_subprocess("--benchmark-disable", "-p", "no:cacheprovider", "-p", "no:xdist")
    done.assert_outcomes(passed=1, deselected=1)
    done.stdout.fnmatch_lines(["benchmarks: 1 GPU rows left out (deselected), not run untimed: 1: TensorFlow sees no GPU*"])
