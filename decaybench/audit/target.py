"""What an audit audits: a ``LearningRateSchedule`` named by ``module:attr`` or by a ``.keras`` model.

``module:attr`` names a schedule instance, or a callable with no arguments that returns one (a
factory: each fresh copy the audit needs is a new call). A ``.keras`` path names a saved model
whose optimizer's schedule is audited. ``--reference module:func`` names a float64 function of
the step. A name that cannot be used raises :class:`~decaybench.validation.InvalidValue` naming
the argument (``target``, ``reference``), which the CLI reports in one line with status 2:

>>> load_reference("math:nope")
Traceback (most recent call last):
...
decaybench.validation.InvalidValue: reference must name an attribute of module 'math': it has no 'nope', got 'math:nope'

Importing the user's module runs in this process, with the current directory importable as
``python -m`` makes it (the ``decaybench`` script alone would not).
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decaybench.audit.deadline import CHECK_WAIT, CheckTimeout, deadline
from decaybench.audit.values import reason
from decaybench.validation import InvalidValue

__all__ = ["Target", "load_reference", "load_target", "schedule_class"]


def schedule_class() -> Any:
    """The ``LearningRateSchedule`` base class of the Keras that runs (tf_keras with ``TF_USE_LEGACY_KERAS=1``)."""
    import tensorflow as tf  # here: resolving a target loads TensorFlow, checking the flags does not

    return tf.keras.optimizers.schedules.LearningRateSchedule


def _attribute(argument: str, text: str) -> Any:
    module_name, _, attribute = text.partition(":")
    if not module_name or not attribute:
        raise InvalidValue(argument, text, "must be module:attr" + (" or a .keras file" if argument == "target" else ""))
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        with deadline(CHECK_WAIT):
            value: Any = importlib.import_module(module_name)
    except CheckTimeout as timeout:
        raise InvalidValue(argument, text, f"must name a module that imports: it {timeout}") from None
    except Exception as error:  # the user's module: any error it raises on import is the reason
        raise InvalidValue(argument, text, f"must name an importable module: {reason(error)}") from None
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise InvalidValue(argument, text, f"must name an attribute of module {module_name!r}: it has no {attribute!r}")
        value = getattr(value, part)
    return value


@dataclass(frozen=True)
class Target:
    """The schedule audited, and how to make a fresh copy of it (as a restarted program would)."""

    name: str
    schedule: Any
    make: Callable[[], Any]

    def fresh(self) -> Any:
        """A new schedule in its initial state: a new call of the factory, or a copy of the untouched instance."""
        return self.make()

    @property
    def module(self) -> str:
        """The module that defines the schedule's class: what a fresh interpreter imports to load it."""
        return type(self.schedule).__module__


def _schedule_module(path: Path) -> str | None:
    # A .keras file is a zip whose config.json names the module of the optimizer's schedule:
    # a custom one loads only once that module has run (and registered the class).
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
        module = config["compile_config"]["optimizer"]["config"]["learning_rate"]["module"]
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile):
        return None
    return module if isinstance(module, str) and not module.startswith(("keras", "tf_keras")) else None


def _from_model(text: str) -> Any:
    path = Path(text)
    if not path.is_file():
        raise InvalidValue("target", text, "must be an existing .keras file")
    import tensorflow as tf  # here: a model target is loaded only once the flags are checked

    module = _schedule_module(path)
    if module is not None:
        _attribute("target", f"{module}:__name__")  # imported as a module:attr target is, or refused naming it
    try:
        model = tf.keras.models.load_model(path)
    except Exception as error:  # Keras's loader raises many types; its message is the reason
        raise InvalidValue("target", text, f"must be a .keras model Keras can load: {reason(error)}") from None
    optimizer = getattr(model, "optimizer", None)
    schedule = getattr(getattr(optimizer, "inner_optimizer", optimizer), "_learning_rate", None)
    if not isinstance(schedule, schedule_class()):
        raise InvalidValue("target", text, "must be a model compiled with an optimizer whose learning rate is a LearningRateSchedule")
    return schedule


def load_target(text: str) -> Target:
    """The schedule ``text`` names, checked to be a ``LearningRateSchedule`` of the Keras that runs."""
    if text.endswith(".keras"):
        schedule = _from_model(text)
        factory = None
    else:
        value = _attribute("target", text)
        base = schedule_class()
        factory = value if callable(value) and not isinstance(value, base) else None
        if factory is not None:
            try:
                value = factory()
            except Exception as error:  # the user's factory: its error is the reason
                raise InvalidValue("target", text, f"must be callable with no arguments: {reason(error)}") from None
        if not isinstance(value, base):
            raise InvalidValue(
                "target",
                text,
                f"must be a {base.__module__.split('.')[0]} LearningRateSchedule (or return one), not {type(value).__name__}",
            )
        schedule = value
    if factory is not None:
        return Target(text, schedule, factory)
    untouched = copy.deepcopy(schedule)
    return Target(text, schedule, lambda: copy.deepcopy(untouched))


def load_reference(text: str) -> Callable[[int], float]:
    """The float64 function of the step ``text`` names."""
    function = _attribute("reference", text)
    if not callable(function):
        raise InvalidValue("reference", text, f"must name a function of the step, not a {type(function).__name__}")
    return function
