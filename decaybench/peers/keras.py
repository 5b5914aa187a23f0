r"""The Keras peers: ``tf.keras``, ``keras2`` (the tf_keras package) and ``keras3`` (keras >= 3).

What Keras 2 and 3 compute (``tf_keras/src/optimizers/schedules/learning_rate_schedule.py``,
``keras/src/optimizers/schedules/learning_rate_schedule.py``; the same code in both; ``f32`` is a
rounding to float32, ``s`` the step, ``d`` decay_steps, ``r`` decay_rate)::

    dtype = convert_to_tensor(initial_learning_rate).dtype     # float32 for a Python float
    p = cast(step, dtype) / cast(decay_steps, dtype)          # the step in float32
    p = floor(p) if staircase else p
    lr = initial_learning_rate * pow(cast(decay_rate, dtype), p)

.. math:: \mathrm{lr}(s) = f_{32}\bigl(f_{32}(\mathrm{lr}_0)\cdot f_{32}(r)^{\,f_{32}(f_{32}(s)/d)}\bigr)

so the rate is rounded to float32 before it is raised to ``p`` (for the seed, ``f32(0.99)`` is
``0.99 + 9.5e-9``, a relative error that ``p`` multiplies: 4 ULP at epoch 39, 462 at step 4999),
``f32(s)`` is off by one or more steps past ``2**24`` (staircase, ``d = 3``: 33_333_334 decays at
step 99_999_999), and TensorFlow flushes a subnormal float32 result to zero. SGD then applies
``w - lr * g`` with two roundings, as the seed does.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from decaybench.config import DecayConfig
from decaybench.peers import PeerUnavailable, import_library
from decaybench.schedule import Schedule
from decaybench.trace import Trace

__all__ = ["schedule", "train", "version"]


def _major(version: str) -> int:
    return int(version.split(".", 1)[0])


def _tf_keras_version(tf: Any) -> str:
    # TF 2.15's tf.keras (module keras.api._v2.keras) has no __version__; the keras package it wraps has.
    version = getattr(tf.keras, "__version__", None)
    return version if version is not None else importlib.import_module(tf.keras.__name__.split(".", 1)[0]).__version__


def version(name: str) -> str:
    """The version of peer ``name``'s Keras; :class:`PeerUnavailable` when it cannot be used."""
    if name == "keras3":
        keras = import_library(name, "keras", "keras>=3")
        if _major(keras.__version__) < 3:
            raise PeerUnavailable(name, f"keras {keras.__version__} is Keras 2; this peer needs keras >= 3")
        if keras.backend.backend() != "tensorflow":
            raise PeerUnavailable(name, f"KERAS_BACKEND is {keras.backend.backend()!r}; this peer runs the TensorFlow backend")
        return f"keras {keras.__version__}"
    tf = import_library(name, "tensorflow", "tensorflow")
    if name == "tf.keras":
        return f"Keras {_tf_keras_version(tf)} (TF {tf.__version__})"
    tf_version = _tf_keras_version(tf)
    if _major(tf_version) < 3:
        raise PeerUnavailable(name, f"tf.keras is already Keras {tf_version}: the tf.keras peer is the same library")
    return f"tf_keras {import_library(name, 'tf_keras', 'tf-keras').__version__}"


def _namespace(name: str) -> Any:
    # The module whose optimizers.schedules.ExponentialDecay and optimizers.SGD the peer uses.
    if name == "tf.keras":
        return importlib.import_module("tensorflow").keras
    return importlib.import_module("tf_keras" if name == "keras2" else "keras")


def _exponential_decay(name: str, schedule: Schedule) -> Any:
    """Peer ``name``'s own ``ExponentialDecay`` for ``schedule``."""
    return _namespace(name).optimizers.schedules.ExponentialDecay(
        schedule.initial_learning_rate, schedule.decay_steps, schedule.decay_rate, staircase=schedule.staircase
    )


def schedule(name: str, schedule: Schedule, steps: np.ndarray) -> np.ndarray:
    """Peer ``name``'s ``ExponentialDecay`` at each of ``steps``: float32 values, as float64."""
    import tensorflow as tf

    keras_schedule = _exponential_decay(name, schedule)
    # One int64 scalar at a time, as the optimizer calls it with its iterations counter: a
    # vector step would go through TF's vector pow kernel, which rounds differently.
    return np.array([float(keras_schedule(tf.constant(step, tf.int64))) for step in steps.tolist()])


def train(name: str, config: DecayConfig) -> Trace:
    """The seed with peer ``name``'s ``ExponentialDecay`` and SGD, through the ``keras`` mode's loop."""
    from decaybench.modes.keras import keras_loop  # here: it imports TensorFlow

    w, loss, lr = keras_loop(config, _exponential_decay(name, config.schedule), _namespace(name).optimizers.SGD)
    return Trace(epoch=config.recorded(), w=w, loss=loss, lr=lr, config=config, mode=name)
