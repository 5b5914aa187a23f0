"""The golden_trace fixture and --update-golden, as a user's test suite sees them (pytester)."""

from __future__ import annotations

import json

import pytest

USER_TEST = """
import numpy as np
from decaybench import DecayConfig, exponential_decay
from decaybench.modes.emulation import emulate

def my_schedule(steps):
    return exponential_decay(steps, 0.2, 1, {rate})

def test_schedule(golden_trace):
    golden_trace.check({{"lr": my_schedule(np.arange(50))}})

def test_loop(golden_trace):
    golden_trace.check(emulate(DecayConfig(epochs=12, decay_rate={rate})), maxulp={maxulp})
"""


def test_example_from_the_readme_passes_after_update(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TEST.format(rate=0.99, maxulp="0"))
    missing = pytester.runpytest("-p", "no:cacheprovider")
    missing.assert_outcomes(failed=2)
    missing.stdout.fnmatch_lines(["*golden trace *test_schedule.json is missing; create it with pytest --update-golden*"])
    created = pytester.runpytest("--update-golden")
    created.assert_outcomes(passed=2)
    created.stdout.fnmatch_lines(["*golden traces updated*", "*test_loop.json: created"])
    pytester.runpytest().assert_outcomes(passed=2)
    stored = json.loads((pytester.path / "golden" / "test_user" / "test_schedule.json").read_text())
    assert stored["lr"]["dtype"] == "float64" and stored["lr"]["values"][0] == 0.2


def test_a_changed_schedule_fails_naming_field_index_and_ulps(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TEST.format(rate=0.99, maxulp="0"))
    pytester.runpytest("--update-golden").assert_outcomes(passed=2)
    pytester.makepyfile(test_user=USER_TEST.format(rate=0.98, maxulp="0"))
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*test_schedule.json: lr[[]1[]] is *, golden 0.198 (* ULP apart, bound 0); 49 of 50 differ*"])
    updated = pytester.runpytest("--update-golden")
    updated.stdout.fnmatch_lines(["*test_schedule.json: updated (lr)"])


def test_a_stated_ulp_bound_is_honoured(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TEST.format(rate=0.99, maxulp="0"))
    pytester.runpytest("--update-golden").assert_outcomes(passed=2)
    # A rate 1e-12 higher moves the float64 lr by about 7,000 ULP per epoch (under 80,000 over
    # 12 epochs); the float32 run does not move.
    pytester.makepyfile(test_user=USER_TEST.format(rate=0.99 + 1e-12, maxulp='{"lr": 100_000}'))
    pytester.runpytest("-k", "test_loop").assert_outcomes(passed=1)
    pytester.makepyfile(test_user=USER_TEST.format(rate=0.99 + 1e-12, maxulp='{"lr": 1_000}'))
    failed = pytester.runpytest("-k", "test_loop")
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(["*test_loop.json: lr[[]1[]] is 0.1980000000002*, golden 0.198 (* ULP apart, bound 1000)*"])


DTYPE_TEST = """
import numpy as np

def test_dtype(golden_trace):
    values = np.array([0.1, 1 / 3, 2.5e-8, -0.0, np.inf, np.nan, 6e4]).astype(np.{dtype})
    values = np.nextafter(values, np.{dtype}(np.inf)) if {nudge} else values
    golden_trace.check({{"lr": values}}, maxulp={maxulp})
"""


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "longdouble"])
def test_every_float_dtype_round_trips_bit_for_bit(pytester: pytest.Pytester, dtype: str) -> None:
    pytester.makepyfile(test_user=DTYPE_TEST.format(dtype=dtype, nudge=False, maxulp=0))
    pytester.runpytest("--update-golden").assert_outcomes(passed=1)
    pytester.runpytest().assert_outcomes(passed=1)
    import numpy as np

    stored = json.loads((pytester.path / "golden" / "test_user" / "test_dtype.json").read_text())
    assert stored["lr"]["dtype"] == str(np.dtype(dtype))
    # One step up in the dtype's own spacing: 1 ULP apart, refused at 0, accepted at 1.
    nudged = DTYPE_TEST.format(dtype=dtype, nudge=True, maxulp=0)
    pytester.makepyfile(test_user=nudged)
    failed = pytester.runpytest()
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(["*test_dtype.json: lr[[]0[]] is *, golden * (1 ULP apart, bound 0)*"])
    pytester.makepyfile(test_user=nudged.replace("maxulp=0", "maxulp=1"))
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_refused_dtype_is_named_with_the_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=DTYPE_TEST.format(dtype="complex128", nudge=False, maxulp=0))
    result = pytester.runpytest("--update-golden")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_dtype.json: golden field 'lr' must be an integer or float array, got dtype complex128*"])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"[1, 2, 3]\n", "expected a JSON object of fields, got a list"),
        (b'{"lr": {"dtype": "float64", "sha\xff": 1}}\n', "not UTF-8"),
        (b'{"lr": {"dtype": "float64", "shape": [50], "val', "JSONDecodeError"),
        (b'{"lr": []}\n', "field 'lr' must be an object of dtype, shape and values"),
        (b'{"lr": {"dtype": "float64", "shape": [50], "values": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}\n", "nested deeper than 64"),
    ],
)
def test_a_malformed_golden_file_is_named_and_update_repairs_it(pytester: pytest.Pytester, content: bytes, reason: str) -> None:
    pytester.makepyfile(test_user=USER_TEST.format(rate=0.99, maxulp="0"))
    path = pytester.path / "golden" / "test_user" / "test_schedule.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    broken = pytester.runpytest("-k", "test_schedule")
    broken.assert_outcomes(failed=1)
    broken.stdout.fnmatch_lines([f"*{path}: malformed golden trace: *{reason}*; rewrite it with pytest --update-golden*"])
    repaired = pytester.runpytest("-k", "test_schedule", "--update-golden")
    repaired.assert_outcomes(passed=1)  # in the same run as the repair
    repaired.stdout.fnmatch_lines([f"*{path}: replaced a *"])
    pytester.runpytest("-k", "test_schedule").assert_outcomes(passed=1)


# --- resume_check: a user's loop that checkpoints, run whole and split, compared bit for bit.

RESUME_TEST = """
import pathlib
import numpy as np

def loop(restore_step):
    def train(epochs, checkpoint_dir, resume):
        path, ws, step = pathlib.Path(checkpoint_dir) / "state.npz", [], 0
        if resume:
            with np.load(path) as saved:
                ws, step = list(saved["w"]), int(saved["step"]) if restore_step else 0
        w = ws[-1] if ws else np.float32(5.0)
        for _ in range(len(ws), epochs):
            w, step = np.float32(w - np.float32(0.2 * 0.99**step) * (2 * (w + 1))), step + 1
            ws.append(w)
        np.savez(path, w=np.array(ws), step=step)
        return {"w": np.array(ws), "epochs": np.arange(len(ws))}
    return train

def test_resumes(resume_check):
    resume_check(loop(restore_step=True), epochs=12, split=range(1, 12))

def test_schedule_restarts(resume_check):
    resume_check(loop(restore_step=False), epochs=12, split=5)
"""


def test_resume_check_passes_a_loop_that_resumes_and_names_where_one_does_not(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=RESUME_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*resumed at epoch 5: field 'w' differs first at index 5: * whole, * resumed*"])
