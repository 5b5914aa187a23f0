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
