"""Saved models and optimizers with ``decaybench.ExponentialDecay`` load in a fresh process that
imported decaybench, without ``custom_objects``: Keras 3 and tf_keras, every import order.

Each save and load runs in its own Python process, as a user's would. Keras 2 is tf_keras selected
by ``TF_USE_LEGACY_KERAS=1`` in that process's environment, or, where the ``keras`` package is
itself Keras 2 (TensorFlow 2.15 and before), ``tf.keras`` as it comes: both are tested where present.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
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

    keras, out, legacy = tf.keras, sys.argv[1], sys.argv[2] == "keras2"
    schedule = decaybench.ExponentialDecay(0.2, 3, 0.99, staircase=True)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mse")
    model.save(os.path.join(out, "model.keras"))
    if legacy:
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
    out, order, legacy, module = sys.argv[1], sys.argv[2], sys.argv[3] == "keras2", sys.argv[4]
    if order == "keras-first":
        import importlib
        importlib.import_module(module)
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


def _keras_major() -> int | None:
    try:
        return int(importlib.metadata.version("keras").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return None


def _keras(version: str) -> tuple[str, dict[str, str]] | None:
    """The module that is Keras ``version`` here and the environment that selects it; ``None`` if absent."""
    if version == "keras3":
        return ("keras", {}) if (_keras_major() or 0) >= 3 else None
    if importlib.util.find_spec("tf_keras") is not None:
        return "tf_keras", {"TF_USE_LEGACY_KERAS": "1"}
    return ("keras", {}) if _keras_major() == 2 else None  # TF <= 2.15: tf.keras is the keras package, Keras 2


KERAS = ("keras2", "keras3")
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


@pytest.fixture(scope="module", params=KERAS)
def saved(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    keras = request.param
    if _keras(keras) is None:
        # Keras 3 comes with TF >= 2.16; Keras 2 is tf.keras up to TF 2.15, then the tf-keras package.
        pytest.skip(f"no {keras} here: neither tf-keras nor a Keras 2 keras package" if keras == "keras2" else "no Keras 3 here")
    out = tmp_path_factory.mktemp(keras)
    _python(SAVE, str(out), keras, env=_selected(keras))
    return keras, out


def _selected(keras: str) -> dict[str, str]:
    found = _keras(keras)
    assert found is not None
    return found[1]


@pytest.mark.parametrize("order", ["keras-first", "tensorflow-first", "decaybench-first"])
def test_a_saved_model_loads_without_custom_objects(saved: tuple[str, Path], order: str) -> None:
    keras, out = saved
    found = _keras(keras)
    assert found is not None
    assert _python(LOAD, str(out), order, keras, found[0], env=found[1]).split() == WANT[keras].split()


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
