"""The compat page: built from small fake env files; and collect() in the env the tests run in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.compat import BENCH_SUFFIX, ENV_SUFFIX, VERIFY_SUFFIX, build, collect, load, main, markdown, version_key
from tools.compat.collecting import long_run, runtimes

DIFFERS = "## What differs"
SAME = "## The same in every env"


def verify_json(golden_reference: str = "38/40", xla_ulp: int = 1, ok: bool = True) -> dict[str, Any]:
    def row(mode: str, contract: str, golden: str = "40/40", ulp: int = 0, bound: int = 0) -> dict[str, Any]:
        return {
            "mode": mode,
            "contract": contract,
            "documented": "15/15",
            "golden": golden,
            "max_ulp_w": ulp,
            "max_ulp_loss": 5 * ulp,
            "bound_w": bound,
            "bound_loss": 1000 * bound,
            "lr_vs_tf_keras": "4/40 equal, max 4 ULP",
            "traces": "1 then 0" if mode == "xla" else "-",
        }

    rows = [
        row("eager", "exact"),
        row("xla", "fused-update", ulp=xla_ulp, bound=27),
        row("tf.keras", "reference", golden=golden_reference, ulp=1),
    ]
    return {"config": {}, "ok": ok, "modes": rows}


def env_json(
    name: str, tf: str, keras: str, lr_dtype: str = "float32", config_keys: tuple[str, ...] = ("decay_rate", "name")
) -> dict[str, Any]:
    schedule = {
        "lr_dtype": lr_dtype,
        "get_config": list(config_keys),
        "serialized": ["class_name", "config"],
        "class_name": "ExponentialDecay",
    }
    return {
        "env": name,
        "versions": {"python": "3.11.7", "tensorflow": tf, "keras": keras, "numpy": "1.26.4"},
        "cpu": {"model": "Test CPU", "fma": True},
        "tf_keras": {"version": keras, "iterations_dtype": "int64"},
        "schedules": {"decaybench": {**schedule, "registered_name": "decaybench>ExponentialDecay"}, "tf.keras": schedule},
        "xla": {
            "no_fma": "bit-identical",
            "first_call": {"import_s": 3.0, "first_s": 1.5, "warm_s": 0.01, "compile_s": 1.49},
            "runtimes": {"epochs": 1_000_000, "default_s": 1.42, "legacy_s": 0.047, "legacy": "bit-identical"},
        },
    }


def write_env(directory: Path, name: str, facts: dict[str, Any], verify: dict[str, Any] | None = None) -> None:
    (directory / f"{name}{ENV_SUFFIX}").write_text(json.dumps(facts))
    if verify is not None:
        (directory / f"{name}{VERIFY_SUFFIX}").write_text(json.dumps(verify))


def section(page: str, heading: str) -> dict[str, list[str]]:
    """The Markdown table under ``heading`` as {first cell: the other cells}; the header row under ''."""
    text = page.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split(" | ") for line in text.splitlines() if line.startswith("| ")]
    table = {cells[0].strip(): [cell.strip() for cell in cells[1:]] for cells in rows[1:]}
    table[""] = [cell.strip() for cell in rows[0][1:]]
    return table


@pytest.fixture
def matrix(tmp_path: Path) -> Path:
    write_env(tmp_path, "tf221", env_json("tf221", "2.21.0", "3.15.1"), verify_json())
    write_env(tmp_path, "tf215", env_json("tf215", "2.15.1", "2.15.0"), verify_json())
    write_env(tmp_path, "tf216", env_json("tf216", "2.16.2", "3.15.1"), verify_json())
    write_env(tmp_path, "tf216-keras2", env_json("tf216-keras2", "2.16.2", "2.16.0"), verify_json(golden_reference="40/40"))
    return tmp_path


def test_envs_are_ordered_by_tf_then_keras(matrix: Path) -> None:
    assert [result.name for result in load(matrix)] == ["tf215", "tf216-keras2", "tf216", "tf221"]
    assert section(markdown(load(matrix)), DIFFERS)[""] == ["tf215", "tf216-keras2", "tf216", "tf221"]


def test_a_fact_that_differs_is_in_the_first_table_with_one_cell_per_env(matrix: Path) -> None:
    differs = section(markdown(load(matrix)), DIFFERS)
    assert differs["versions: TensorFlow"] == ["2.15.1", "2.16.2", "2.16.2", "2.21.0"]
    assert differs["keras path: tf.keras's own ExponentialDecay: seed lines"] == [
        "15/15 (golden 38/40)",
        "15/15 (golden 40/40)",
        "15/15 (golden 38/40)",
        "15/15 (golden 38/40)",
    ]


def test_a_fact_that_holds_everywhere_is_in_the_second_table_once(matrix: Path) -> None:
    page = markdown(load(matrix))
    same = section(page, SAME)
    assert same["keras path: tf.keras's own ExponentialDecay: lr dtype"] == ["float32"]
    assert same["seed lines (documented, golden) per mode: eager"] == ["15/15 (golden 40/40)"]
    assert same["XLA (mode xla, the seed): max ULP w, loss vs the emulation"] == ["1, 5"]
    assert same["XLA (mode xla, the seed): ULP bound w, loss"] == ["27, 27000"]
    assert same["timing (fresh process, median of the runs): first call, mode xla"] == ["1.50 s"]
    assert same["timing (fresh process, median of the runs): mode xla, 1,000,000 epochs (median of 3 warm calls)"] == ["1.42 s"]
    assert same["timing (fresh process, median of the runs): the same with XLA_FLAGS=--xla_cpu_use_thunk_runtime=false"] == ["47.0 ms"]
    assert same["timing (fresh process, median of the runs): its trace with XLA_FLAGS=--xla_cpu_use_thunk_runtime=false"] == [
        "bit-identical"
    ]
    assert "keras path: tf.keras's own ExponentialDecay: lr dtype" not in section(page, DIFFERS)


def test_every_required_fact_has_a_row(matrix: Path) -> None:
    page = markdown(load(matrix))
    labels = {**section(page, DIFFERS), **section(page, SAME)}
    for mode in ("eager", "xla"):
        assert f"seed lines (documented, golden) per mode: {mode}" in labels
    assert "seed lines (documented, golden) per mode: tf.keras" not in labels  # it has its own section
    for required in (
        "get_config / serialize: decaybench.ExponentialDecay: get_config keys",
        "get_config / serialize: tf.keras ExponentialDecay: get_config keys",
        "XLA (mode xla, the seed): ULP bound w, loss",
        "timing (fresh process, median of the runs): compile (first minus second)",
        "versions: numpy",
    ):
        assert required in labels


def test_a_dtype_change_moves_the_fact_to_what_differs(matrix: Path) -> None:
    write_env(
        matrix, "tf218", env_json("tf218", "2.18.0", "3.15.1", lr_dtype="float64", config_keys=("decay_rate",)), verify_json(xla_ulp=0)
    )
    differs = section(markdown(load(matrix)), DIFFERS)
    assert differs["keras path: tf.keras's own ExponentialDecay: lr dtype"] == ["float32", "float32", "float32", "float64", "float32"]
    assert differs["get_config / serialize: tf.keras ExponentialDecay: get_config keys"][3] == "decay_rate"
    assert differs["XLA (mode xla, the seed): max ULP w, loss vs the emulation"][3] == "0, 0"


def test_missing_facts_read_as_a_dash(tmp_path: Path) -> None:
    write_env(tmp_path, "old", {"env": "old", "versions": {"tensorflow": "2.15.1"}}, {"ok": False, "modes": []})
    write_env(tmp_path, "new", env_json("new", "2.21.0", "3.15.1"), verify_json())
    differs = section(markdown(load(tmp_path)), DIFFERS)
    assert differs["timing (fresh process, median of the runs): first call, mode xla"] == ["-", "1.50 s"]
    assert differs["seed lines (documented, golden) per mode: xla"] == ["-", "15/15 (golden 40/40)"]
    assert differs["verify: every mode within its bound"] == ["no", "yes"]


def test_a_pipe_in_a_value_does_not_break_the_table(tmp_path: Path) -> None:
    facts = env_json("a", "2.21.0", "3.15.1")
    facts["xla"]["no_fma"] = "error: a|b"
    write_env(tmp_path, "a", facts, verify_json())
    row = next(line for line in markdown(load(tmp_path)).splitlines() if "XLA_FLAGS" in line)
    assert row.endswith("| error: a\\|b |")


def test_a_half_run_matrix_makes_no_page(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no \*\.env\.json files"):
        load(tmp_path)
    write_env(tmp_path, "tf215", env_json("tf215", "2.15.1", "2.15.0"))  # verify never ran
    with pytest.raises(ValueError, match=r"tf215\.verify\.json: missing"):
        load(tmp_path)
    (tmp_path / f"tf215{VERIFY_SUFFIX}").write_text("{not json")
    with pytest.raises(ValueError, match="unreadable"):
        load(tmp_path)


def test_build_writes_the_page_and_the_cli_reports_errors(matrix: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "compat.md"
    assert build(matrix, output) == output.read_text()
    assert main(["build", "--input", str(matrix), "--output", str(tmp_path / "again.md")]) == 0
    assert (tmp_path / "again.md").read_text() == output.read_text()
    assert main(["build", "--input", str(tmp_path / "nowhere"), "--output", str(output)]) == 2
    assert "no *.env.json files" in capsys.readouterr().err


def test_version_key_orders_releases_numerically() -> None:
    assert sorted(["2.9.0", "2.16.1", "2.15.1"], key=version_key) == ["2.9.0", "2.15.1", "2.16.1"]


def test_collect_describes_the_installed_tensorflow() -> None:
    import tensorflow as tf

    facts = collect("here", compile_runs=0)
    assert facts["versions"]["tensorflow"] == tf.__version__
    ours, theirs = facts["schedules"]["decaybench"], facts["schedules"]["tf.keras"]
    assert ours["get_config"] == ["initial_learning_rate", "decay_steps", "decay_rate", "staircase", "dtype", "name"]
    assert ours["lr_dtype"] == "float32" and ours["round_trip"] == "ok"
    # Keras 2 and 3 alike compute their own schedule in the dtype of initial_learning_rate: float32.
    assert theirs["lr_dtype"] == "float32" and {"initial_learning_rate", "decay_rate", "name"} <= set(theirs["get_config"])
    assert facts["xla"] == {"no_fma": None, "first_call": {}, "runtimes": {}}
    with pytest.raises(ValueError, match="compile_runs"):
        collect("here", compile_runs=-1)


def bench_json(scale: float, modes: tuple[str, ...] = ("graph", "xla")) -> dict[str, Any]:
    """A pytest-benchmark document as `decaybench bench --quick --group seed long compile` writes it."""

    def entry(group: str, mode: str, seconds: float, **shape: Any) -> dict[str, Any]:
        info = {"group": group, "implementation": mode, "kind": "mode", "device": "cpu", "mode": mode, **shape}
        return {"name": f"{group}-{mode}", "extra_info": info, "stats": {"data": [seconds * f for f in (1.0, 1.1, 0.9, 1.05, 0.95)]}}

    benchmarks = [entry("seed", mode, scale * 1e-3, epochs=40, size=1, steps=40) for mode in modes]
    benchmarks += [entry("long", "xla", scale * 2e-2, epochs=1_000_000, size=1, steps=1_000_000)]
    benchmarks += [entry("compile", "xla", scale * 0.2, epochs=40, size=1)]
    peer = {"group": "seed", "implementation": "optax float32", "kind": "peer", "device": "cpu", "epochs": 40, "size": 1}
    benchmarks.append({"name": "peer", "extra_info": peer, "stats": {"data": [1e-5] * 5}})
    return {"machine_info": {}, "benchmarks": benchmarks, "skipped": []}


def test_the_speed_per_tf_version_is_a_table_of_medians_and_ratios_to_the_newest(matrix: Path, tmp_path: Path) -> None:
    for name, scale in (("tf215", 2.0), ("tf216-keras2", 1.0), ("tf221", 1.0)):  # tf216 wrote none
        (matrix / f"{name}{BENCH_SUFFIX}").write_text(json.dumps(bench_json(scale)))
    page = markdown(load(matrix))
    speed = section(page, "## Speed per TensorFlow version")
    assert speed[""] == ["shape", "mode", "tf215 median", "tf216-keras2 median", "tf221 median", "tf215 / tf221", "tf216-keras2 / tf221"]
    seed_xla = next(cells for first, cells in speed.items() if first == "seed" and cells[1] == "xla")
    assert seed_xla[2:5] == ["2 ms [1.8 ms, 2.2 ms]", "1 ms [900 us, 1.1 ms]", "1 ms [900 us, 1.1 ms]"]
    assert seed_xla[5].startswith("2x [") and seed_xla[6].startswith("1x [")  # tf215 twice as slow as the newest
    assert "optax float32" not in page  # peers do not depend on TensorFlow
    assert "No benchmark file from: tf216." in page and "figures/compat_speed.png" in page
    output = tmp_path / "out" / "compat.md"
    output.parent.mkdir()
    build(matrix, output)
    figure = output.parent / "figures" / "compat_speed.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_benchmark_files_the_page_has_no_speed_section(matrix: Path, tmp_path: Path) -> None:
    assert "Speed per TensorFlow version" not in markdown(load(matrix))
    build(matrix, tmp_path / "compat.md")
    assert not (tmp_path / "figures").exists()


def test_the_long_xla_run_is_timed_with_both_runtimes_and_an_unknown_flag_is_named() -> None:

    timed = runtimes()
    assert timed["epochs"] == 1_000_000 and timed["default_s"] > 0
    # The thunk runtime and the older one run the same HLO: the trace must not change, only the time
    # (TF 2.18: 1.05 s against 47 ms here); where XLA does not know the flag, the page says so.
    assert timed["legacy"] in ("bit-identical", "unknown flag"), timed
    assert long_run("--xla_no_such_flag_for_decaybench=1") == {"error": "unknown flag"}
