"""The golden_trace fixture and --update-golden, as a user's test suite sees them (pytester)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

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


# --- skipped_step_check: a user's mixed-precision loop, run without and with a forced overflow.

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_skipped_step_example() -> tuple[str, list[int]]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    (example,) = [block for block in blocks if "skipped_step_check(" in block]
    match = re.search(r"epochs=(\d+), overflow_at=(\[[\d, ]*\])", example)
    assert match is not None
    return example, [int(match.group(1)), *ast.literal_eval(match.group(2))]


def _first_shifted_epoch(epochs: int, overflow: list[int]) -> tuple[int, int]:
    """The first epoch, not forced, after a forced one, and how many forced epochs precede it: where waiting and
    moving on first apply different lrs (a strictly decaying schedule)."""
    epoch = min(e for e in range(epochs) if e not in overflow and e > min(overflow))
    return epoch, sum(skip < epoch for skip in overflow)


def test_the_readme_keras3_example_passes_and_fails_under_the_other_semantics(pytester: pytest.Pytester) -> None:
    # Keras 3's LossScaleOptimizer does not count a skipped step (decaybench.peers.mixed): it waits.
    keras = pytest.importorskip("keras")
    if int(keras.__version__.split(".")[0]) < 3:
        pytest.skip(f"keras {keras.__version__} is Keras 2; the example is Keras 3's")
    example, (epochs, *overflow) = _readme_skipped_step_example()
    moves = (
        f"\n\ndef test_moves(skipped_step_check):\n    skipped_step_check(train, epochs={epochs}, overflow_at={overflow}, expect='moves')\n"
    )
    pytester.makepyfile(test_user=example + moves)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    epoch, shift = _first_shifted_epoch(epochs, overflow)
    skipped = ", ".join(str(skip) for skip in sorted(overflow) if skip < epoch)
    result.stdout.fnmatch_lines(
        [
            f"*the schedule waited through a skipped step: epoch {epoch} uses lr *, the uninterrupted lr of epoch {epoch} is * "
            f"(skipped before it: epochs {skipped}); it is the uninterrupted lr of epoch {epoch - shift}"
        ]
    )


TORCH_TEST = """
import torch

OVERFLOW = {overflow}

def loop(step_scheduler_on_skip):
    def train(epochs, overflow):
        w = torch.full((1, 1), 5.0, requires_grad=True)
        optimizer = torch.optim.SGD([w], lr=0.2)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.99)
        scaler, lrs = torch.amp.GradScaler("cpu"), []
        for epoch in range(epochs):
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = torch.square(torch.mm(torch.ones(1, 1), w) + 1).sum()
            scaler.scale(loss).backward()
            if epoch in overflow:
                w.grad = w.grad * float("inf")
            lrs.append(optimizer.param_groups[0]["lr"])
            scale = scaler.get_scale()
            scaler.step(optimizer)
            scaler.update()
            if step_scheduler_on_skip or scaler.get_scale() >= scale:  # a skip halves the scale
                scheduler.step()
        return lrs
    return train

def test_scheduler_stepped_every_epoch(skipped_step_check):
    skipped_step_check(loop(step_scheduler_on_skip=True), epochs=9, overflow_at=OVERFLOW)

def test_scheduler_stepped_after_applied_steps_only(skipped_step_check):
    skipped_step_check(loop(step_scheduler_on_skip=False), epochs=9, overflow_at=OVERFLOW)
"""


def test_a_torch_grad_scaler_loop_with_a_per_epoch_scheduler_is_caught_at_the_right_epoch(pytester: pytest.Pytester) -> None:
    # GradScaler skips optimizer.step() but a scheduler stepped every epoch moves on (pytorch#55585).
    pytest.importorskip("torch")
    overflow = [1, 4, 5]
    pytester.makepyfile(test_user=TORCH_TEST.format(overflow=overflow))
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "-W", "ignore::UserWarning")
    result.assert_outcomes(passed=1, failed=1)
    epoch, shift = _first_shifted_epoch(9, overflow)
    result.stdout.fnmatch_lines(
        [
            "*test_scheduler_stepped_every_epoch*",
            f"the schedule moved on a skipped step: epoch {epoch} uses lr *, the uninterrupted lr of epoch {epoch - shift} "
            f"(epoch {epoch} less {shift} skipped: epochs 1) is *; it is the uninterrupted lr of epoch {epoch}",
        ]
    )


def _schedule_loop(counts_skipped: bool, lr: Any = None) -> Any:
    def train(epochs: int, overflow: frozenset[int]) -> Any:
        step, lrs = 0, []
        for epoch in range(epochs):
            lrs.append(0.2 * 0.99**step if lr is None else lr)
            step += 1 if counts_skipped or epoch not in overflow else 0
        return lrs if lr is None or epochs != 3 else lrs[:-1]

    return train


@pytest.mark.parametrize(
    ("train", "epochs", "overflow", "expect", "message"),
    [
        (_schedule_loop(False), 6, [], "waits", r"overflow_at must name epochs from 0 to 4 .*, got \[\]"),
        (_schedule_loop(False), 6, [5], "waits", r"overflow_at must name epochs from 0 to 4 .*, got \[5\]"),
        (_schedule_loop(False), 6, [-1], "waits", r"got \[-1\]"),
        (_schedule_loop(False), 6, [2], "counts", "expect must be one of waits, moves, got 'counts'"),
        (_schedule_loop(False, lr=0.1), 6, [2], "waits", "the uninterrupted schedule is the same at the epochs compared"),
        (
            _schedule_loop(False, lr=0.1),
            3,
            [1],
            "waits",
            r"train\(3, overflow\) must return 3 learning rates, one an epoch; got float64\[2\]",
        ),
    ],
)
def test_the_skipped_step_check_refuses_what_it_cannot_judge(
    train: Any, epochs: int, overflow: list[int], expect: str, message: str
) -> None:
    from decaybench.skipped_step_check import check_skipped_steps

    with pytest.raises(ValueError, match=message):
        check_skipped_steps(train, epochs, overflow, expect)
