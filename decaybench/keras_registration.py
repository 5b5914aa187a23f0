"""Saved models that use ``decaybench.ExponentialDecay`` load anywhere ``decaybench`` was imported.

Keras finds a custom class by its registered name, ``decaybench>ExponentialDecay``, in a global
dict of its object registry (``GLOBAL_CUSTOM_OBJECTS`` in Keras 3, ``_GLOBAL_CUSTOM_OBJECTS`` in
tf_keras). The class itself subclasses Keras's ``LearningRateSchedule``, so defining it loads
TensorFlow; ``import decaybench`` must not. So :func:`install` (run by ``import decaybench``)
puts a light stand-in under that name instead: :class:`DeferredExponentialDecay`, whose
``from_config`` imports the real class (which registers itself, replacing the stand-in) and
builds the schedule with it. The stand-in goes into every registry that is already imported,
and an import hook on ``sys.meta_path`` puts it into any registry imported later. So the load
works whether Keras or TensorFlow is imported before decaybench or after it.

tf_keras's ``.h5`` format is the exception: it resolves a schedule's name among tf_keras's own
schedules first, so an ``.h5`` load needs ``custom_objects`` for any custom schedule::

    tf.keras.models.load_model("model.h5", custom_objects={"ExponentialDecay": decaybench.ExponentialDecay})

>>> install()
>>> DeferredExponentialDecay.registered_name
'decaybench>ExponentialDecay'
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["REGISTRIES", "DeferredExponentialDecay", "install", "register"]

# Each Keras's object registry: its module, and the dict that maps registered names to classes.
REGISTRIES = {
    "keras.src.saving.object_registration": ("GLOBAL_CUSTOM_OBJECTS", "_GLOBAL_CUSTOM_OBJECTS"),  # Keras 3; Keras 2.13-2.15
    "tf_keras.src.saving.object_registration": ("_GLOBAL_CUSTOM_OBJECTS",),  # tf_keras 2.15+
    "keras.saving.object_registration": ("_GLOBAL_CUSTOM_OBJECTS",),  # Keras 2.12
}


class DeferredExponentialDecay:
    """Stands in Keras's registry for ``decaybench.ExponentialDecay`` until a load needs it."""

    registered_name = "decaybench>ExponentialDecay"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """Build the real :class:`decaybench.keras_schedule.ExponentialDecay` from ``config``."""
        from decaybench.keras_schedule import ExponentialDecay  # loads TensorFlow

        return ExponentialDecay.from_config(config)


def register(module: ModuleType) -> None:
    """Put the stand-in into ``module``'s registry dicts, unless the real class is already there."""
    for name in REGISTRIES.get(module.__name__, ()):
        objects = getattr(module, name, None)
        if isinstance(objects, dict):
            objects.setdefault(DeferredExponentialDecay.registered_name, DeferredExponentialDecay)


class _RegistryFinder:
    """A ``sys.meta_path`` finder that lets the path finder find a registry module, then registers
    the stand-in right after the module has run (Python has no post-import hook of its own)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname not in REGISTRIES:
            return None
        import importlib.machinery  # here, not at the top: `import decaybench` stays cheap

        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            register(module)

        # The loader object is this module's own (one per file), so wrapping its method touches nothing else.
        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


_FINDER = _RegistryFinder()


def install() -> None:
    """Register the stand-in in the registries imported so far and hook the ones imported later (idempotent)."""
    for name in REGISTRIES:
        module = sys.modules.get(name)
        if module is not None:
            register(module)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
