"""Keras's mixed-precision policies: ``--policy``, loss scaling read back from Keras, and its emulation.

The main check runs, in a fresh process per Keras version, a plain ``model.fit`` written here (a user's
model under ``set_global_policy("mixed_float16")``) beside ``decaybench run --mode fit --policy
mixed_float16 --format json --epochs 10``, and ``verify --policy`` on configurations that skip many
steps and that grow the loss scale.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from decaybench.cli import main
from decaybench.config import DecayConfig
from decaybench.loss_scaling import GROWTH_STEPS, INITIAL_SCALE, KerasFlavour, LossScale, Scaling
from decaybench.trace import Trace, parse_lines
from decaybench.verify_policy import epoch_cell
from tools.compat import ENV_SUFFIX, VERIFY_SUFFIX, load, markdown

ROOT = Path(__file__).resolve().parents[1]
KERAS3, KERAS2 = KerasFlavour("Keras 3", 3), KerasFlavour("tf_keras 2", 2)

# A user's model.fit under mixed_float16, then decaybench's CLI and verify in the same fresh process.
SCRIPT = """
    import contextlib, io, json
    import numpy as np
    import tensorflow as tf
    import decaybench
    from decaybench.cli import main
    from decaybench.config import DecayConfig
    from decaybench.verify_policy import verify_policy
    from tools.compat.collecting import MIXED_EPOCHS, mixed_precision

    keras = tf.keras
    keras.mixed_precision.set_global_policy("mixed_float16")

    class Weight(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(name="w", shape=(1,), initializer=keras.initializers.Constant(5.0))

        def call(self, x):
            return x + self.w

    inputs = keras.Input(shape=(1,))
    layer = Weight()
    model = keras.Model(inputs, layer(inputs))
    loss = lambda y, p: tf.reduce_sum(tf.square(p + 1), axis=-1)
    model.compile(optimizer=keras.optimizers.SGD(decaybench.ExponentialDecay(0.2, 1, 0.99)), loss=loss)
    optimizer, rows = model.optimizer, []

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            scale = optimizer.dynamic_scale if hasattr(optimizer, "dynamic_scale") else optimizer.loss_scale
            rows.append([float(layer.w.numpy()[0]), int(optimizer.iterations.numpy()), float(scale.numpy()), float(logs["loss"])])

    x = np.zeros((1, 1), np.float32)
    model.fit(x, x, epochs=10, verbose=0, callbacks=[Watch()])
    keras.mixed_precision.set_global_policy("float32")

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["run", "--mode", "fit", "--policy", "mixed_float16", "--format", "json", "--epochs", "10"])
    far = dict(w0=3000.0, initial_learning_rate=0.01, policy="mixed_float16")  # skips 12 steps, then updates
    # The growth takes 2,000 steps (4 s of CPU): in Keras 3 alone, whose growth code is its own (tf_keras's is tested below it).
    keras3 = hasattr(optimizer, "dynamic_scale")
    # 12 skips, then the 2,000th finite step is step 2012, the last of epoch 3: an interval off by one shows.
    growth = DecayConfig(epochs=4, steps_per_epoch=503, **far) if keras3 else DecayConfig(epochs=16, **far)
    verified = {
        "growth": verify_policy(growth, modes=("fit",)),
        "skips": verify_policy(DecayConfig(epochs=16, **far), modes=("keras",)),
        "seed": verify_policy(DecayConfig(epochs=MIXED_EPOCHS, policy="mixed_float16")),
        "bfloat16": verify_policy(DecayConfig(epochs=6, policy="mixed_bfloat16"), modes=("keras", "fit")),
    }
    print(json.dumps({
        "keras": rows, "status": status, "run": json.loads(out.getvalue()),
        "policy_after": keras.mixed_precision.global_policy().name,
        "verify": {name: report.to_dict() for name, report in verified.items()},
        "compat": mixed_precision(verified["seed"]),
        "growth_scales": verified["growth"].traces["fit"].scaling.loss_scale.tolist(),
    }))
"""

# The issue's measured table (epochs 0-4: w as %f prints it, iterations, loss scale) and epoch 4's loss.
ISSUE = {
    "3": (["5.000000"] * 3 + ["2.600000", "1.174555"], [0, 0, 0, 1, 2], [16384, 8192, 4096, 4096], "12.957187"),  # float32
    "2": (["5.000000"] * 3 + ["2.671282", "1.260407"], [1, 2, 3, 4, 5], [16384, 8192, 4096, 4096], "13.484375"),  # float16
}


def _measure(major: str) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key != "TF_USE_LEGACY_KERAS"}
    env |= {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT), **({"TF_USE_LEGACY_KERAS": "1"} if major == "2" else {})}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# One fresh process per Keras checks several things (the suite's time budget); one test, as compat needs both.
def test_run_fit_policy_is_keras_own_model_fit_and_verify_policy_its_emulation_in_keras_2_and_3(tmp_path: Path) -> None:
    measured = {major: _measure(major) for major in ("2", "3")}
    for major, found in measured.items():
        _check_run_against_model_fit(major, found)
        _check_verify_policy(major, found)
        _check_readme_table(found)
    _check_compat_rows(measured, tmp_path)


def _check_compat_rows(measured: dict[str, dict[str, Any]], directory: Path) -> None:
    # docs/compat.md from the two Kerases' collected facts: the skip semantics is a measured row that differs.
    for major, found in measured.items():
        facts = {"env": f"keras{major}", "versions": {"tensorflow": "2.21.0"}, "tf_keras": {"version": major}}
        (directory / f"keras{major}{ENV_SUFFIX}").write_text(json.dumps({**facts, "mixed_float16": found["compat"]}))
        (directory / f"keras{major}{VERIFY_SUFFIX}").write_text(json.dumps({"ok": True, "modes": []}))
    page = markdown(load(directory), figure=None)
    differs = page.split("## What differs", 1)[1].split("## The same", 1)[0]
    row = next(line for line in differs.splitlines() if "skipped steps advance iterations" in line)
    assert row.split(" | ")[1:] == ["yes", "no |"]  # Keras 2, then Keras 3
    epochs = next(line for line in differs.splitlines() if "fit, epochs 0-4" in line)
    assert "3: 2.671282, 4, 4096" in epochs and "3: 2.600000, 1, 4096" in epochs
    same = page.split("## The same", 1)[1]
    assert "every mode (keras, fit, callback) its emulation bit for bit | yes" in same


def _check_run_against_model_fit(major: str, found: dict[str, Any]) -> None:
    keras, run = np.array(found["keras"]), found["run"]
    assert found["status"] == 0
    # Keras skipped where its scale halved (the seed's gradient 2 (w + 1) s overflows float16 until s = 4096).
    halved = keras[:, 2] == np.concatenate([[INITIAL_SCALE], keras[:-1, 2]]) / 2
    assert run["skipped"] == halved.tolist() and halved.sum() == 3
    assert run["loss_scale"] == keras[:, 2].tolist() and run["iterations"] == keras[:, 1].astype(int).tolist()
    np.testing.assert_array_equal(np.array(run["w"], np.float32), keras[:, 0].astype(np.float32))  # bit for bit
    assert run["loss_scaling"]["skipped_steps_advance_iterations"] is (major == "2")
    assert run["loss_scaling"]["keras"].startswith("Keras 3" if major == "3" else "tf_keras 2")
    w, iterations, scales, loss4 = ISSUE[major]
    assert [f"{value:f}" for value in run["w"][:5]] == w and run["iterations"][:5] == iterations
    assert run["loss_scale"][:4] == scales and repr(run["loss"][4]).startswith(loss4)
    assert found["policy_after"] == "float32"  # decaybench restored the policy it set


def _check_verify_policy(major: str, found: dict[str, Any]) -> None:
    for name, report in found["verify"].items():
        assert report["ok"], (name, report)
    rows = {row["mode"]: row for name in ("growth", "skips") for row in found["verify"][name]["modes"]}
    assert set(rows) == {"keras", "fit"} and {row["skipped_steps"] for row in rows.values()} == {12}
    seed = {row["mode"]: row for row in found["verify"]["seed"]["modes"]}
    assert {row["skipped_steps"] for row in seed.values()} == {3}
    assert rows["fit"]["advances"] is rows["keras"]["advances"] is seed["keras"]["advances"] is (major == "2")
    assert seed["callback"]["advances"] is True  # a per-epoch callback's schedule counts epochs
    # 12 skipped steps halve 2**15 to 8, and it doubles after 2,000 finite ones: at step 2012, the last of epoch 3.
    assert found["growth_scales"] == ([8.0, 8.0, 8.0, 16.0] if major == "3" else [2.0**15 / 2**k for k in range(1, 13)] + [8.0] * 4)
    assert all(row["scaling"] is None for row in found["verify"]["bfloat16"]["modes"])  # bfloat16: no loss scaling


def _check_readme_table(found: dict[str, Any]) -> None:
    # The README's generated table (tools/mixed.py) shows this Keras's column as its run prints it now.
    trace = Trace.from_json(json.dumps(found["run"]))
    assert trace.scaling is not None
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- BEGIN generated:mixed -->", 1)[1].split("<!-- END generated:mixed -->", 1)[0]
    table = {line.split("  ", 1)[0]: line for line in block.splitlines() if line[:1].isdigit()}
    assert len(table) == 5 and all(epoch_cell(trace, row) in table[str(row)] for row in range(5)), "README.md: run make docs"
    assert trace.scaling.keras.semantics in block, "README.md: run make docs"


@pytest.mark.parametrize("keras", [KERAS3, KERAS2], ids=["keras3", "tf_keras"])
def test_the_loss_scale_halves_on_a_skip_and_doubles_after_the_growth_interval(keras: KerasFlavour) -> None:
    # Both Keras's defaults: 2**15 at first, doubled after 2,000 finite steps.
    assert (INITIAL_SCALE, GROWTH_STEPS) == (2**15, 2000)
    state = LossScale()
    state.update(False, keras)
    assert (state.scale, state.counter) == (2**14, 0)
    for _ in range(1999):
        state.update(True, keras)
    assert (state.scale, state.counter) == (2**14, 1999)
    state.update(True, keras)
    assert (state.scale, state.counter) == (2**15, 0)
    for _ in range(20):
        state.update(False, keras)
    # tf_keras floors the scale at 1; Keras 3 halves on.
    assert state.scale == (1.0 if keras.major == 2 else 2.0**-5)


def _scaled_trace() -> Trace:
    scaling = Scaling([True, False], [16384.0, 16384.0], [0, 1], KERAS3, 1)
    config = DecayConfig(epochs=2, policy="mixed_float16")
    return Trace([0, 1], [[5.0], [2.6]], [36.0, 36.0], [0.2, 0.2], config, "fit", scaling)


def test_the_formats_carry_skips_and_scales_and_read_back() -> None:
    trace = _scaled_trace()
    back = Trace.from_json(trace.to_json())
    assert back.identical(trace) and back.scaling is not None and back.scaling.same(trace.scaling)
    assert trace.to_csv().splitlines()[:2] == ["epoch,w,loss,lr,skipped,loss_scale,iterations", "0,5.0,36.0,0.2,True,16384.0,0"]
    lines = trace.lines()
    assert lines[0].endswith(",lr is 0.200000 (skipped)") and not lines[1].endswith(")")
    assert parse_lines(lines).epoch.tolist() == [0, 1]
    plain = DecayConfig(epochs=2)
    assert "skipped" not in Trace([0, 1], [[5.0], [2.6]], [36.0, 36.0], [0.2, 0.2], plain, "fit").to_json()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--policy", "mixed_float16"], "--policy: cannot be used in mode eager: it has no Keras model"),
        (["--mode", "fit", "--policy", "mixed_float8"], "argument --policy: invalid choice: 'mixed_float8'"),
        (["--mode", "fit", "--policy", "mixed_float16", "--dtype", "float64"], "--policy: keeps the variables in float32"),
        (["--mode", "fit", "--policy", "mixed_float16", "--checkpoint-dir", "run1"], "--checkpoint-dir: cannot be used with policy"),
    ],
)
def test_a_bad_policy_is_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    os.chdir(tmp_path)
    assert main(["run", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not list(tmp_path.iterdir())
