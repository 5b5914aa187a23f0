"""``decaybench audit`` on four schedules of ``tests/audit_schedules.py``: each audited once, every verdict pinned.

An audit trains, compiles and starts a child interpreter, so each schedule is audited once per
module (``--steps 50``: the dense probes matter little here, the boundaries and large steps are
always probed) and the tests read the one report. ``forgetful`` runs through the command line,
as a user runs it; the others through the API in this process. ``counting`` and ``keras`` leave
out the two fresh-process checks (one child interpreter each saved: ``correct`` and ``forgetful``
pin them). The verdicts that depend on the Keras (``logged-vs-applied``, ``mixed-precision``) are
pinned for the Keras that runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from decaybench.audit import CHECKS, AuditReport, Verdict

pytest.importorskip("tensorflow")

STEPS = 50
SCHEDULES = "tests.audit_schedules"
WITHOUT_FRESH = [check for check in CHECKS if check not in ("saved-model", "mixed-precision")]


def _keras3() -> bool:
    import tensorflow as tf

    return tf.keras.__name__.split(".", 1)[0] == "keras"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Verdict]]:
    import subprocess
    import sys

    from decaybench.audit import audit

    def by_check(report: AuditReport) -> dict[str, Verdict]:
        assert [verdict.check for verdict in report.verdicts] == [c for c in CHECKS if c in {v.check for v in report.verdicts}]
        return {verdict.check: verdict for verdict in report.verdicts}

    found = {
        "correct": by_check(audit(f"{SCHEDULES}:correct", reference=f"{SCHEDULES}:halving", steps=STEPS)),
        "counting": by_check(audit(f"{SCHEDULES}:counting", checks=WITHOUT_FRESH, steps=STEPS)),
        "keras": by_check(audit(f"{SCHEDULES}:keras_exponential", checks=WITHOUT_FRESH, reference=f"{SCHEDULES}:halving", steps=STEPS)),
    }
    output = tmp_path_factory.mktemp("audit") / "forgetful.json"
    command = [
        sys.executable,
        "-m",
        "decaybench",
        "audit",
        f"{SCHEDULES}:forgetful",
        "--steps",
        str(STEPS),
        "--format",
        "json",
        "--output",
        str(output),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 1, done.stderr[-2000:]  # a check fails
    document = json.loads(output.read_text())
    assert [entry["check"] for entry in document["checks"]] == list(CHECKS) and document["ok"] is False
    found["forgetful"] = {entry["check"]: Verdict(**entry) for entry in document["checks"]}
    return found


# (schedule, check): verdict. Every check of every schedule audited is here.
PINNED = {
    # The correct one: float64 from the int64 step, rounded once, registered; Keras's own behaviours warn.
    ("correct", "config"): "pass",
    ("correct", "serialize"): "pass",
    ("correct", "saved-model"): "pass",
    ("correct", "compiled"): "pass",
    ("correct", "step-precision"): "pass",
    ("correct", "resume"): "pass",
    ("correct", "initial-epoch"): "warn",  # fit(initial_epoch=2) on a fresh optimizer applies lr(0)
    ("correct", "reference"): "pass",
    # get_config leaves out the period: every copy decays at another rate.
    ("forgetful", "config"): "fail",
    ("forgetful", "serialize"): "fail",
    ("forgetful", "saved-model"): "fail",
    ("forgetful", "compiled"): "pass",
    ("forgetful", "step-precision"): "skip",  # period 1000: the lr is 0.0 at 2**24 and beyond
    ("forgetful", "resume"): "pass",  # copies are deep copies: the period is kept
    ("forgetful", "initial-epoch"): "warn",
    ("forgetful", "reference"): "skip",
    # A call counter in Python: eager calls count, a trace freezes the count, a restart resets it.
    ("counting", "config"): "pass",  # a copy counts from 0 as the original did: the same sequence
    ("counting", "serialize"): "pass",
    ("counting", "compiled"): "fail",
    ("counting", "step-precision"): "pass",  # its lr moves at every call, so at every large step
    ("counting", "resume"): "fail",
    ("counting", "initial-epoch"): "warn",
    ("counting", "logged-vs-applied"): "warn",  # every eager read is another call
    ("counting", "reference"): "skip",
    # Keras's own ExponentialDecay: the step in float32.
    ("keras", "config"): "pass",
    ("keras", "serialize"): "pass",
    ("keras", "compiled"): "pass",
    ("keras", "step-precision"): "warn",
    ("keras", "resume"): "pass",
    ("keras", "initial-epoch"): "warn",
    ("keras", "reference"): "warn",  # within 2**-10: float32 arithmetic, not another formula
}


def _keras_dependent() -> dict[tuple[str, str], str]:
    # Keras 3: optimizer.learning_rate is the schedule at iterations (after a step: the next step's lr);
    # tf_keras: the lr of its last step (before a step: the previous one's). Either way one hook warns.
    # Keras 3's LossScaleOptimizer holds iterations on a skipped step; tf_keras counts it.
    skipped = "pass" if _keras3() else "warn"
    logged = {(name, "logged-vs-applied"): "warn" for name in ("correct", "forgetful", "keras")}
    return {**logged, ("correct", "mixed-precision"): skipped, ("forgetful", "mixed-precision"): skipped}


def test_every_check_of_every_schedule_is_pinned(reports: dict[str, dict[str, Verdict]]) -> None:
    pinned = {**PINNED, **_keras_dependent()}
    audited = {(name, check) for name, verdicts in reports.items() for check in verdicts}
    assert audited == set(pinned)


@pytest.mark.parametrize("schedule", ["correct", "forgetful", "counting", "keras"])
def test_the_verdicts(reports: dict[str, dict[str, Verdict]], schedule: str) -> None:
    pinned = {**PINNED, **_keras_dependent()}
    got = {check: verdict.verdict for check, verdict in reports[schedule].items()}
    want = {check: verdict for (name, check), verdict in pinned.items() if name == schedule}
    assert got == want, "\n".join(f"{v.check}: {v.verdict}: {v.detail}" for v in reports[schedule].values())


def test_a_difference_names_the_step_both_values_and_the_ulps(reports: dict[str, dict[str, Verdict]]) -> None:
    # Forgetful's copy has period 2**20 where the original has 1000: they differ from step 1.
    assert reports["forgetful"]["config"].detail.startswith(
        "from_config(get_config()) differs at step 1: copy 0.099999934, original 0.09993071 ("
    )
    assert reports["forgetful"]["saved-model"].detail.startswith("the loaded schedule (tests.audit_schedules.Forgetful) differs at step 3:")
    # Counting restarts its count in the fresh objects: step 3 gets the first step's lr again. tf_keras's optimizer
    # calls the schedule once when it is built (Optimizer._build_learning_rate), so its first step is call 1.
    import numpy as np

    from tests.audit_schedules import halving

    again = np.float32(halving(0 if _keras3() else 1, period=1000))
    assert reports["counting"]["resume"].detail.startswith(
        f"resumed after 3 epochs: lr differs at step 3: resumed {again!s}, uninterrupted "
    )
    # Keras: float32(2**24 + 1) is 2**24.
    assert reports["keras"]["step-precision"].detail.startswith("rounds the step: lr(16777216) = lr(16777217)")


def test_a_warn_names_the_first_differing_step_both_values_and_the_ulps(reports: dict[str, dict[str, Verdict]]) -> None:
    import numpy as np
    import tensorflow as tf

    from decaybench.audit.probes import probe_steps
    from decaybench.oracle import ulp_distance
    from tests.audit_schedules import halving, keras_exponential

    # The first probe step where Keras's lr is not the formula rounded once to float32, found here from the schedule's
    # own calls (none of these lrs is subnormal, so no flush is needed).
    schedule = keras_exponential()
    for step in probe_steps(schedule, STEPS).tolist():
        got, want = np.float32(schedule(tf.constant(step, tf.int64))), np.float32(halving(step))
        if got != want:
            break
    first = f"first at step {step}: schedule {got!s}, formula {want!s} ({int(ulp_distance(got, want))} ULP); max "
    assert first in reports["keras"]["reference"].detail
    # float32(2**24 + 1) is 2**24: Keras's lr there is lr(2**24) = 0.1f * 2**-16, exactly.
    at = np.float32(0.1) * np.float32(2.0**-16)
    want = np.float32(halving(2**24 + 1))
    assert reports["keras"]["step-precision"].detail.endswith(
        f"step {2**24 + 1}: schedule {at!s}, formula {want!s} ({int(ulp_distance(at, want))} ULP)"
    )
    # Counting's traced call froze its count: the first step differs, in both modes.
    compiled = reports["counting"]["compiled"].detail
    for mode in ("tf.function", "xla"):
        assert re.search(rf"{mode}: \d+/\d+ steps differ, first at step 0: {mode} \S+, eager \S+ \(\d+ ULP\); max", compiled), compiled


def test_logged_vs_applied_runs_where_the_lr_moves_and_skips_where_it_never_does() -> None:
    import tensorflow as tf

    from decaybench.audit import audit

    def logged(values: list[float]) -> Verdict:
        schedule = tf.keras.optimizers.schedules.PiecewiseConstantDecay([100], values)
        return audit(schedule, checks=["logged-vs-applied"], steps=STEPS).verdict("logged-vs-applied")

    # Flat over steps 0..4: from step 0 an lr one step off would equal the applied one. Keras 3 logs the next
    # step's lr after a step, tf_keras the previous step's before one: either way the move 100 -> 101 shows.
    moving = logged([0.1, 0.01])
    assert moving.verdict == "warn" and "over 5 compiled steps from step 99: " in moving.detail, moving.detail
    keras3 = "on_train_batch_end: step 100: logged 0.01, applied 0.1"
    hook = keras3 if _keras3() else "on_train_batch_begin: step 101: logged 0.1, applied 0.01"
    assert hook in moving.detail, moving.detail
    assert logged([0.1, 0.1]).verdict == "skip"


def test_a_check_where_the_users_code_hangs_or_raises_fails_and_the_others_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import tensorflow as tf

    import decaybench.audit
    from tests.audit_schedules import Halving

    class HangsWhenTraced(Halving):
        def __call__(self, step: Any) -> Any:
            if not tf.executing_eagerly():
                time.sleep(30)  # past the wait below; a bounded sleep, so that an audit that does not bound it still ends
            return super().__call__(step)

    def raising(step: int) -> float:
        raise ZeroDivisionError("the formula's own bug")

    monkeypatch.setattr(decaybench.audit, "CHECK_WAIT", 2.0)
    report = decaybench.audit.audit(
        HangsWhenTraced(0.1), checks=["config", "compiled", "step-precision", "reference"], reference=raising, steps=5
    )
    got = {verdict.check: (verdict.verdict, verdict.detail) for verdict in report.verdicts}
    assert got["config"][0] == "pass"
    assert got["compiled"] == ("fail", "did not finish within 2 s")
    assert got["step-precision"] == ("fail", "raised ZeroDivisionError: the formula's own bug")
    assert got["reference"] == ("fail", "the reference raised ZeroDivisionError: the formula's own bug")


def test_an_unimportable_target_exits_2_in_one_line(decaybench: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, err = decaybench.main("audit", "tests.no_such_module:schedule")
    assert status == 2 and out == ""
    assert err.startswith("decaybench: error: target: must name an importable module: ModuleNotFoundError") and err.count("\n") == 1
    (tmp_path / "slow_to_import.py").write_text("import time\ntime.sleep(30)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr("decaybench.audit.target.CHECK_WAIT", 1.0)
    status, out, err = decaybench.main("audit", "slow_to_import:schedule")
    assert (status, out) == (2, "") and err == (
        "decaybench: error: target: must name a module that imports: it did not finish within 1 s, got 'slow_to_import:schedule'\n"
    )
    status, _, err = decaybench.main("audit", "tests.audit_schedules:PERIOD")
    assert status == 2 and "LearningRateSchedule (or return one), not int, got 'tests.audit_schedules:PERIOD'" in err


def test_the_readme_example_passes(schedule_audit: Any) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    code = readme.split("### Audit your own schedule", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    example: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), example)
    example["test_my_schedule_audits"](schedule_audit)


def test_the_fixture_fails_on_a_fail_with_the_table(schedule_audit: Any) -> None:
    from tests.audit_schedules import forgetful

    with pytest.raises(pytest.fail.Exception, match=r"schedule audit failed:\ncheck +verdict +detail\n.*\nconfig +fail +from_config"):
        schedule_audit(forgetful(), checks=["config"])
    assert schedule_audit(forgetful(), checks=["reference"]).verdict("reference").verdict == "skip"  # no fail: the report


HANGING = """
import os, sys, time
if sys.argv[0].endswith("worker.py"):  # only in the audit's fresh interpreter (python -m decaybench.audit.worker)
    time.sleep(600) if {how!r} == "hang" else os._exit(3)
from tests.audit_schedules import Halving
class Fragile(Halving):
    pass
"""


@pytest.mark.parametrize("how", ["hang", "crash"])
def test_a_target_that_hangs_or_crashes_in_the_fresh_interpreter_fails_those_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    import copy

    from decaybench.audit.fresh import FreshChecks
    from decaybench.audit.target import Target

    (tmp_path / f"fragile_{how}.py").write_text(HANGING.format(how=how))
    monkeypatch.syspath_prepend(str(tmp_path))  # the child imports it as this process does
    module = __import__(f"fragile_{how}")
    schedule = module.Fragile(0.1)
    saved, mixed = FreshChecks(Target(f"fragile_{how}:schedule", schedule, lambda: copy.deepcopy(schedule)), None).verdicts(wait=10)
    reason = "the fresh interpreter did not finish within 10 s" if how == "hang" else "the fresh interpreter exited with status 3"
    assert (saved.verdict, mixed.verdict) == ("fail", "fail") and saved.detail.startswith(reason) and mixed.detail.startswith(reason)


def test_a_keras_model_target_is_its_optimizers_schedule(tmp_path: Path) -> None:
    from decaybench.audit.target import load_target
    from decaybench.audit.training import build_model
    from tests.audit_schedules import Halving

    build_model(Halving(0.1, period=1000), loss="mean_squared_error").save(tmp_path / "model.keras")
    target = load_target(str(tmp_path / "model.keras"))  # its module named in the file, imported first
    assert type(target.schedule) is Halving and target.schedule.get_config() == {"initial_learning_rate": 0.1, "period": 1000}
    assert target.fresh() is not target.schedule and target.fresh().get_config() == target.schedule.get_config()


def test_step_precision_names_the_step_of_the_pair_where_the_schedule_is_wrong() -> None:
    import numpy as np

    from decaybench.audit.schedule_checks import check_step_precision
    from decaybench.audit.values import Evaluated

    # lr(2**24) computed one ULP low gives lr(2**24 + 1)'s value: the pair's lrs are equal, and the wrong one is the first.
    s, ulp = 2**24, 2.0**-24  # float32's ULP at 0.5
    formula = {s - 1: 0.5 + 3 * ulp, s: 0.5 + 2 * ulp, s + 1: 0.5 + ulp, s + 2: 0.5}
    lrs = np.float32([formula[s - 1], formula[s + 1], formula[s + 1], formula[s + 2]])
    verdict = check_step_precision(Evaluated(np.arange(s - 1, s + 3), lrs), formula.__getitem__)
    assert verdict.verdict == "warn"
    assert verdict.detail.endswith(f"step {s}: schedule {lrs[1]!s}, formula {np.float32(formula[s])!s} (1 ULP)"), verdict.detail
