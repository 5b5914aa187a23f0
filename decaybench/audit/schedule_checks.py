"""The checks of the schedule alone: ``config``, ``serialize``, ``compiled``, ``step-precision``, ``reference``.

Each takes the schedule's lrs at the probe steps (:class:`~decaybench.audit.values.Evaluated`,
called eagerly) and returns a :class:`~decaybench.audit.report.Verdict`:

* ``config``: ``from_config(get_config())`` bit for bit; ``get_config()`` JSON-serialisable.
* ``serialize``: Keras's ``serialize``/``deserialize`` round trip, bit for bit.
* ``compiled``: the same calls inside ``tf.function`` and under ``jit_compile=True``. A difference
  within ``2**-10`` relative is another rounding (Grappler's and XLA's rewrites, fusion): warn, with
  the ULP table; beyond it, another value (Python state frozen at tracing): fail.
* ``step-precision``: at two neighbouring large steps ``s, s + 1`` that float32 (past 2**53:
  float64) holds as one number, equal lrs while the lr moves at ``s - 1 → s`` and
  ``s + 1 → s + 2`` mean the schedule rounded the step (float32 holds ``2**24`` and ``2**24 + 2``,
  not ``2**24 + 1``). With a reference, the formula decides whether the two lrs must differ.
* ``reference``: the lr against ``f(reference(step))``, the float64 formula rounded once to the
  lr's dtype as TensorFlow rounds (subnormals flushed, :func:`decaybench.rounding.flush_subnormals`).
  Bit for bit is ``pass``; a relative error within ``2**-10`` (the formula evaluated in float32
  arithmetic, as Keras does, stays far inside it) is ``warn``; beyond it, ``fail``: another value
  (a wrong stair, a rounded boundary).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from decaybench.audit.compare import first_difference, identical, ulp_count, ulps
from decaybench.audit.probes import LARGE_STEPS
from decaybench.audit.report import Verdict
from decaybench.audit.values import Evaluated, evaluate, reason
from decaybench.rounding import flush_subnormals

__all__ = ["REFERENCE_TOLERANCE", "check_compiled", "check_config", "check_reference", "check_serialize", "check_step_precision"]

REFERENCE_TOLERANCE = 2.0**-10


def _round_trip(check: str, original: Evaluated, rebuild: Callable[[], Any], how: str) -> Verdict:
    try:
        copy = rebuild()
    except Exception as error:  # the user's from_config or Keras's deserializer
        return Verdict(check, "fail", f"{how} raised {reason(error)}")
    again = evaluate(copy, original.steps)
    if again.refused:
        step = min(again.refused)
        return Verdict(check, "fail", f"{how}: refuses step {step}, which the original accepts ({again.refused[step]})")
    difference = first_difference(original.steps, again.values, original.values, "copy", "original")
    if difference is not None:
        return Verdict(check, "fail", f"{how} differs at {difference}")
    return Verdict(check, "pass", f"{how}: bit for bit at {len(original.steps)} steps")


def check_config(schedule: Any, original: Evaluated) -> Verdict:
    """``config``: ``type(schedule).from_config(schedule.get_config())``, and the config as JSON."""
    try:
        config = schedule.get_config()
        json.dumps(config)
    except Exception as error:  # not implemented, or a value JSON cannot hold
        return Verdict("config", "fail", f"get_config() is not JSON-serialisable: {reason(error)}")
    return _round_trip("config", original, lambda: type(schedule).from_config(config), "from_config(get_config())")


def check_serialize(schedule: Any, original: Evaluated) -> Verdict:
    """``serialize``: ``keras.optimizers.schedules.deserialize(serialize(schedule))``."""
    import tensorflow as tf  # here: the audit's modules import without TensorFlow

    schedules = tf.keras.optimizers.schedules
    return _round_trip("serialize", original, lambda: schedules.deserialize(schedules.serialize(schedule)), "deserialize(serialize())")


def _relative(values: np.ndarray, exact: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        relative = np.abs(values.astype(np.float64) - exact) / np.abs(exact)
    return np.where(identical(values.astype(np.float64), exact), 0.0, np.nan_to_num(relative, nan=np.inf, posinf=np.inf))


def _mode_differences(name: str, original: Evaluated, compiled: Evaluated) -> tuple[str, bool] | None:
    """What differs in mode ``name``, and whether any difference is beyond :data:`REFERENCE_TOLERANCE`."""
    if compiled.refused:
        step = min(compiled.refused)
        return f"{name} refuses step {step} ({compiled.refused[step]})", True
    differs = ~identical(compiled.values, original.values)
    if not differs.any():
        return None
    where = np.flatnonzero(differs)
    at = max(where.tolist(), key=lambda i: ulp_count(compiled.values[i], original.values[i]))
    most = ulps(compiled.values[at], original.values[at])
    first = first_difference(original.steps, compiled.values, original.values, name, "eager")
    text = (
        f"{name}: {len(where)}/{len(differs)} steps differ, first at {first}; max {most} at step {int(original.steps[at])} "
        f"(eager {original.values[at]!s}, {name} {compiled.values[at]!s})"
    )
    if compiled.values.dtype != original.values.dtype:
        return text, True
    return text, bool((_relative(compiled.values, original.values.astype(np.float64)) > REFERENCE_TOLERANCE).any())


def check_compiled(schedule: Any, original: Evaluated) -> Verdict:
    """``compiled``: eager against ``tf.function`` and ``tf.function(jit_compile=True)`` at every accepted step."""
    import tensorflow as tf  # here: the audit's modules import without TensorFlow

    found = []
    for name, jit in {"tf.function": False, "xla": True}.items():
        function = tf.function(lambda step: schedule(step), jit_compile=jit)
        found.append(_mode_differences(name, original, evaluate(function, original.steps)) or (f"{name} bit for bit", False))
    if all(text.endswith("bit for bit") for text, _ in found):
        return Verdict("compiled", "pass", f"eager, tf.function and jit_compile bit for bit at {len(original.steps)} steps")
    return Verdict("compiled", "fail" if any(beyond for _, beyond in found) else "warn", "; ".join(text for text, _ in found))


def _lr(original: Evaluated, step: int) -> Any:
    where = np.flatnonzero(original.steps == step)
    return original.values[where[0]] if where.size else None


def check_step_precision(original: Evaluated, reference: Callable[[int], float] | None) -> Verdict:
    """``step-precision``: whether neighbouring large steps get the lrs they must (see the module's docstring)."""
    large = sorted(step for step in LARGE_STEPS if _lr(original, step) is not None)
    telling = 0
    for step in large:
        here, there = _lr(original, step), _lr(original, step + 1)
        if there is None or not _collide(step):
            continue
        if reference is not None:
            # The formula's two values differ and the schedule gave one of them: it computed one step twice.
            formula = _rounded(np.array([reference(step), reference(step + 1)]), np.asarray(here).dtype)
            must_differ = not identical(formula[0], formula[1]) and bool(identical(here, formula).any())
        else:
            before, after = _lr(original, step - 1), _lr(original, step + 2)
            must_differ = before is not None and after is not None and not identical(before, here) and not identical(there, after)
        if must_differ and identical(here, there):
            return Verdict(
                "step-precision", "warn", f"rounds the step: lr({step}) = lr({step + 1}) = {here!s}; " + _why(original, step, reference)
            )
        telling += bool(must_differ)
    if telling == 0:
        cannot = "cannot tell: at the large steps float32 merges (2**24 + 1, ...) the lr does not move"
        return Verdict("step-precision", "skip", cannot + (", or the schedule gives the formula's lr at neither step" if reference else ""))
    return Verdict(
        "step-precision", "pass", f"tells apart the large steps float32 merges where the lr moves ({telling} pairs, up to {large[-1]})"
    )


def _collide(step: int) -> bool:
    # A step held in float32 (or float64, past 2**53) is the same number as the next one: rounding could merge them.
    return bool(np.float32(step) == np.float32(step + 1)) or float(step) == float(step + 1)


def _why(original: Evaluated, step: int, reference: Callable[[int], float] | None) -> str:
    here, there = _lr(original, step), _lr(original, step + 1)
    if reference is not None:
        # One lr for two steps the formula tells apart: it is wrong at one of them (or both), the first named.
        want = _rounded(np.array([reference(step), reference(step + 1)]), np.asarray(here).dtype)
        wrong = first_difference(np.array([step, step + 1]), np.array([here, there]), want, "schedule", "formula")
        return f"the formula gives {reference(step)!r} and {reference(step + 1)!r}: {wrong}"
    before, after = _lr(original, step - 1), _lr(original, step + 2)
    return (
        f"lr({step - 1}) = {before!s}, lr({step + 2}) = {after!s}: "
        f"the lr moves {ulps(before, here)} into step {step} and {ulps(there, after)} out of step {step + 1}"
    )


def _rounded(values: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    with np.errstate(over="ignore"):
        rounded = np.asarray(values, dtype=np.float64).astype(dtype)
    return flush_subnormals(rounded) if rounded.dtype.kind == "f" else rounded


def check_reference(original: Evaluated, reference: Callable[[int], float] | None) -> Verdict:
    """``reference``: the lr against the float64 formula rounded once; max ULP and where."""
    if reference is None:
        return Verdict("reference", "skip", "no --reference given")
    try:
        exact = np.array([float(reference(step)) for step in original.steps.tolist()], dtype=np.float64)
    except Exception as error:  # the user's reference
        return Verdict("reference", "fail", f"the reference raised {reason(error)}")
    formula = _rounded(exact, original.values.dtype)
    differs = ~identical(original.values, formula)
    if not differs.any():
        return Verdict("reference", "pass", f"correctly rounded at {len(original.steps)} steps")
    relative = np.where(differs, _relative(original.values, exact), 0.0)
    worst = max(range(len(formula)), key=lambda i: ulp_count(original.values[i], formula[i]))
    most = ulps(original.values[worst], formula[worst])
    first = first_difference(original.steps, original.values, formula, "schedule", "formula")
    summary = (
        f"{int(differs.sum())}/{len(differs)} steps differ, first at {first}; max {most} at step {int(original.steps[worst])} "
        f"(schedule {original.values[worst]!s}, formula {formula[worst]!s})"
    )
    beyond = np.flatnonzero(relative > REFERENCE_TOLERANCE)
    if beyond.size:
        at = int(beyond[0])
        return Verdict(
            "reference",
            "fail",
            f"{summary}; first beyond 2**-10 relative at step {int(original.steps[at])}: relative error {relative[at]:.3g}",
        )
    return Verdict("reference", "warn", f"{summary}; max relative error {relative.max():.3g}")
