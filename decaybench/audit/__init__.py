"""``decaybench audit``: the verification suite pointed at any Keras learning-rate schedule.

:func:`audit` runs the checks of :data:`CHECKS` on one schedule, in this order, each giving
``pass``, ``fail``, ``warn`` or ``skip`` with a one-line detail that names the first step where
values differ, both values and their ULP distance:

======================  ===========================================================================
``config``              ``from_config(get_config())`` bit for bit; the config JSON-serialisable
``serialize``           Keras's ``serialize``/``deserialize`` bit for bit
``saved-model``         trained, saved ``.keras``, loaded in a fresh interpreter: ``iterations``, lr
``compiled``            eager, ``tf.function`` and ``jit_compile=True`` at every probe step
``step-precision``      large steps float32 cannot hold (``2**24 + 1``): told apart, or rounded (warn)
``resume``              ``fit`` split by a ``tf.train.Checkpoint``: lr and weight bit for bit
``initial-epoch``       ``fit(initial_epoch=k)`` without a restored optimizer (warn: the lr restarts)
``logged-vs-applied``   ``optimizer.learning_rate`` in callbacks against the lr applied
``mixed-precision``     ``LossScaleOptimizer`` under ``mixed_float16``: a skipped step and the schedule
``reference``           with a float64 formula: max ULP and where; skip without one
======================  ===========================================================================

The modules: :mod:`~decaybench.audit.target` (what is audited), :mod:`~decaybench.audit.probes`
(where), :mod:`~decaybench.audit.values` (the lr at a step), :mod:`~decaybench.audit.compare`,
the checks in :mod:`~decaybench.audit.schedule_checks`, :mod:`~decaybench.audit.training` and
:mod:`~decaybench.audit.fresh` (with its child, :mod:`~decaybench.audit.worker`), the result in
:mod:`~decaybench.audit.report`, and :mod:`~decaybench.audit.references`: the documented formulas
of Keras's own schedules in float64. Importing this package loads no TensorFlow; :func:`audit` does.

The user's code runs in every check: what it raises where a check did not expect it, or a hang
past :data:`~decaybench.audit.deadline.CHECK_WAIT` seconds (:mod:`~decaybench.audit.deadline`), is
that check's ``fail``, and the next check runs; the fresh interpreter has its own bounded wait.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from decaybench.audit.deadline import CHECK_WAIT, CheckTimeout, deadline
from decaybench.audit.probes import DEFAULT_STEPS, probe_steps
from decaybench.audit.report import CHECKS, AuditReport, Verdict
from decaybench.audit.target import Target, load_reference, load_target, schedule_class
from decaybench.audit.values import evaluate, reason
from decaybench.validation import InvalidValue, check_positive_int

__all__ = ["CHECKS", "AuditReport", "Verdict", "audit", "keras_name"]

FRESH = ("saved-model", "mixed-precision")  # the checks of the child interpreter (decaybench.audit.fresh)


def keras_name() -> str:
    """The Keras that runs: ``keras 3.x`` or ``tf_keras 2.x`` (``TF_USE_LEGACY_KERAS=1``), or TF's own Keras 2."""
    import tensorflow as tf  # here: the audit's modules import without TensorFlow

    from decaybench.peers.keras import _tf_keras_version  # TF 2.15's tf.keras has no __version__

    package = tf.keras.__name__.split(".", 1)[0]
    name = {"keras": "keras", "tf_keras": "tf_keras"}.get(package, package)
    return f"{name} {_tf_keras_version(tf)} (TensorFlow {tf.__version__})"


def _target(schedule_or_target: Any) -> tuple[Target, str | None]:
    if isinstance(schedule_or_target, str):
        return load_target(schedule_or_target), schedule_or_target
    if not isinstance(schedule_or_target, schedule_class()):
        raise InvalidValue("target", schedule_or_target, "must be a LearningRateSchedule, module:attr or a .keras path")
    untouched = copy.deepcopy(schedule_or_target)
    name = f"{type(schedule_or_target).__module__}.{type(schedule_or_target).__name__}"
    return Target(name, schedule_or_target, lambda: copy.deepcopy(untouched)), None


def _checks(checks: Sequence[str] | None) -> tuple[str, ...]:
    chosen = tuple(CHECKS if checks is None else checks)
    for name in chosen:
        if name not in CHECKS:
            raise InvalidValue("checks", name, f"must be one of {', '.join(CHECKS)}")
    return chosen


def audit(
    schedule_or_target: Any,
    checks: Sequence[str] | None = None,
    reference: str | Callable[[int], float] | None = None,
    steps: int = DEFAULT_STEPS,
) -> AuditReport:
    """Audit a schedule (an instance, ``module:attr`` or a ``.keras`` path); the verdicts of ``checks`` (all), in order.

    ``reference`` is the float64 formula (a function of the step, or ``module:func``); ``steps``
    how many first steps are probed besides the boundaries and the large steps.
    """
    chosen = _checks(checks)
    check_positive_int("steps", steps)
    formula = load_reference(reference) if isinstance(reference, str) else reference
    target, name = _target(schedule_or_target)
    from decaybench.audit import fresh  # here: it loads TensorFlow when it runs

    pending = fresh.FreshChecks(target, name) if set(FRESH) & set(chosen) else None
    try:
        with deadline(CHECK_WAIT):
            original = evaluate(target.schedule, probe_steps(target.schedule, steps))
        found = _in_process(target, original, formula)
    except CheckTimeout as timeout:
        found = {check: partial(Verdict, check, "fail", f"calling the schedule at the probe steps {timeout}") for check in CHECKS}
    verdicts = {check: _bounded(check, found[check]) for check in chosen if check not in FRESH}
    if pending is not None:
        verdicts["saved-model"], verdicts["mixed-precision"] = pending.verdicts()
    ordered = tuple(verdicts[check] for check in CHECKS if check in chosen)
    return AuditReport(target.name, keras_name(), ordered)


def _in_process(target: Target, original: Any, formula: Callable[[int], float] | None) -> dict[str, Callable[[], Verdict]]:
    from decaybench.audit import schedule_checks, training  # here: they load TensorFlow when they run

    return {
        "config": lambda: schedule_checks.check_config(target.schedule, original),
        "serialize": lambda: schedule_checks.check_serialize(target.schedule, original),
        "compiled": lambda: schedule_checks.check_compiled(target.schedule, original),
        "step-precision": lambda: schedule_checks.check_step_precision(original, formula),
        "resume": lambda: training.check_resume_(target),
        "initial-epoch": lambda: training.check_initial_epoch(target),
        "logged-vs-applied": lambda: training.check_logged(target, original),
        "reference": lambda: schedule_checks.check_reference(original, formula),
    }


def _bounded(check: str, run: Callable[[], Verdict]) -> Verdict:
    # The user's code (the schedule, its config, the reference) runs in every check: what it raises or a
    # hang is that check's fail, and the next check runs.
    try:
        with deadline(CHECK_WAIT):
            return run()
    except CheckTimeout as timeout:
        return Verdict(check, "fail", str(timeout))
    except Exception as error:  # anything the user's code raises where a check did not expect it
        return Verdict(check, "fail", f"raised {reason(error)}")
