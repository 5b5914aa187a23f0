"""Saved models and optimizers with ``decaybench.ExponentialDecay`` load in a fresh process that
imported decaybench, without ``custom_objects``: Keras 3 and tf_keras, every import order.

Each save and load runs in its own Python process, as a user's would; Keras 2 is tf_keras
selected by ``TF_USE_LEGACY_KERAS=1`` in that process's environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SAVE = """
    import json, os, sys
    import decaybench
    import tensorflow as tf

    keras, out = tf.keras, sys.argv[1]
    schedule = decaybench.ExponentialDecay(0.2, 3, 0.99, staircase=True)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mse")
    model.save(os.path.join(out, "model.keras"))
    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
        model.save(os.path.join(out, "saved_model"), save_format="tf")
        model.save(os.path.join(out, "model.h5"))
    else:
        model.export(os.path.join(out, "export"), verbose=False)
    for name, value in (("optimizer", keras.optimizers.serialize(model.optimizer)),
                        ("schedule", keras.optimizers.schedules.serialize(schedule))):
        with open(os.path.join(out, name + ".json"), "w") as file:
            json.dump(value, file)
"""

LOAD = """
    import json, os, sys
    out, order = sys.argv[1], sys.argv[2]
    legacy = os.environ.get("TF_USE_LEGACY_KERAS") == "1"
    if order == "keras-first":
        import importlib
        importlib.import_module("tf_keras" if legacy else "keras")
    elif order == "tensorflow-first":
        import tensorflow
    import decaybench
    import tensorflow as tf

    keras = tf.keras
    # Nothing has touched decaybench.ExponentialDecay: only the registration at import can work.
    assert "decaybench.keras_schedule" not in sys.modules

    def check(schedule, what):
        assert type(schedule).__module__ == "decaybench.keras_schedule", (what, type(schedule))
        config = schedule.get_config()
        assert (config["decay_steps"], config["staircase"]) == (3, True), (what, config)
        print(what)

    check(keras.models.load_model(os.path.join(out, "model.keras")).optimizer._learning_rate, ".keras")
    with open(os.path.join(out, "optimizer.json")) as file:
        check(keras.optimizers.deserialize(json.load(file))._learning_rate, "optimizer")
    with open(os.path.join(out, "schedule.json")) as file:
        check(keras.optimizers.schedules.deserialize(json.load(file)), "schedule")
    if legacy:
        check(keras.models.load_model(os.path.join(out, "saved_model")).optimizer._learning_rate, "SavedModel")
        # .h5 needs custom_objects for any custom schedule (tf_keras looks among its own first): one line.
        model = keras.models.load_model(os.path.join(out, "model.h5"), custom_objects={"ExponentialDecay": decaybench.ExponentialDecay})
        check(model.optimizer._learning_rate, ".h5")
    else:
        exported = tf.saved_model.load(os.path.join(out, "export"))  # Keras 3 exports inference only
        assert exported.serve(tf.zeros((1, 1))).shape == (1, 1)
        print("export")
"""

KERAS = {"keras3": {}, "keras2": {"TF_USE_LEGACY_KERAS": "1"}}
WANT = {"keras3": ".keras optimizer schedule export", "keras2": ".keras optimizer schedule SavedModel .h5"}


def _python(script: str, *args: str, env: dict[str, str]) -> str:
    # Keras 3 unless env asks for tf_keras, whichever Keras the test process itself runs.
    environment = {key: value for key, value in os.environ.items() if key != "TF_USE_LEGACY_KERAS"}
    environment.update({"TF_CPP_MIN_LOG_LEVEL": "3", **env})
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args], env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module", params=sorted(KERAS))
def saved(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    keras = request.param
    if keras == "keras2":
        pytest.importorskip("tf_keras", reason="Keras 2 needs the tf-keras package")
    else:  # TF < 2.16 ships Keras 2 as tf.keras: there is no Keras 3 to save with
        pytest.importorskip("keras", minversion="3", reason="Keras 3 comes with TensorFlow 2.16 or newer")
    out = tmp_path_factory.mktemp(keras)
    _python(SAVE, str(out), env=KERAS[keras])
    return keras, out


@pytest.mark.parametrize("order", ["keras-first", "tensorflow-first", "decaybench-first"])
def test_a_saved_model_loads_without_custom_objects(saved: tuple[str, Path], order: str) -> None:
    keras, out = saved
    assert _python(LOAD, str(out), order, env=KERAS[keras]).split() == WANT[keras].split()


def test_import_decaybench_registers_without_loading_tensorflow() -> None:
    script = """
        import sys
        import decaybench
        assert not {"tensorflow", "keras", "tf_keras"} & set(sys.modules), sorted(sys.modules)
        import keras
        stand_in = keras.saving.get_registered_object("decaybench>ExponentialDecay")
        print(stand_in.__name__)
        schedule = decaybench.ExponentialDecay(0.2, 1, 0.99)  # defining the class replaces the stand-in
        print(type(schedule).__name__, keras.saving.get_registered_object("decaybench>ExponentialDecay").__module__)
    """
    assert _python(script, env={}).split() == ["DeferredExponentialDecay", "ExponentialDecay", "decaybench.keras_schedule"]
