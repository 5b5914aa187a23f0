"""The golden checks: every documented seed line, byte for byte, and the generated trace."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from decaybench import golden
from decaybench.loops import run


@pytest.fixture(scope="module")
def eager_trace():  # type: ignore[no-untyped-def]
    return run()


# sha256 of the course note's 15 documented lines and three "..." elisions, in order, each ending in
# "\n". Derived from the shared copy of the note (../shared/seed/000_01497f6b28858d5a.txt: the lines
# from "运行结果" on that start with "After " or are "..."), not from golden/: the golden file and the
# code cannot change together without this constant changing too.
COURSE_NOTE_SHA256 = "0f9b3a866ba0c9435f04b85b13e99bd1cb9a3330891c82698380bd979f35f570"
SEED_NOTE = "000_01497f6b28858d5a.txt"


def _course_note() -> Path | None:
    """The shared copy of the course note: ``$DECAYBENCH_SEED_NOTE``, else ``shared/seed/`` beside any parent."""
    override = os.environ.get("DECAYBENCH_SEED_NOTE")
    if override:
        return Path(override)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "seed" / SEED_NOTE
        if candidate.is_file():
            return candidate
    return None


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("".join(f"{line}\n" for line in lines).encode("utf-8")).hexdigest()


def test_documented_file_is_the_course_notes_lines() -> None:
    documented = golden.read_documented()
    assert documented.epoch.tolist() == [0, 1, 2, 3, 4, 5, 16, 17, 18, 19, 20, 21, 28, 29, 39]
    assert documented.elided_after == (5, 21, 29)
    text = (golden.golden_dir() / golden.DOCUMENTED).read_text(encoding="utf-8")
    assert _digest(text.splitlines()) == COURSE_NOTE_SHA256


def test_the_pinned_hash_is_the_shared_course_notes() -> None:
    # A second check where the workplace's copy of the note is present; the assertion above stands alone.
    note = _course_note()
    if note is None or not note.is_file():
        pytest.skip(f"no shared copy of the course note (shared/seed/{SEED_NOTE} beside the checkout, or $DECAYBENCH_SEED_NOTE)")
    results = note.read_text(encoding="utf-8").split("运行结果", 1)[1].splitlines()
    lines = [line for line in results if line.startswith("After ") or line == "..."]
    assert _digest(lines) == COURSE_NOTE_SHA256


def test_every_documented_line_byte_for_byte(eager_trace) -> None:  # type: ignore[no-untyped-def]
    checks = golden.check_documented(eager_trace)
    assert len(checks) == 15
    for check in checks:
        assert check.actual == check.expected, f"epoch {check.epoch}"


def test_generated_golden_trace_matches_documented_lines() -> None:
    stored = golden.read_golden_trace()
    assert len(stored) == 40 and stored.mode == "eager" and stored.config.is_seed
    assert all(check.ok for check in golden.check_documented(stored))


def test_generated_golden_trace_is_this_run_bit_for_bit(eager_trace, request: pytest.FixtureRequest) -> None:  # type: ignore[no-untyped-def]
    if request.config.getoption("update_golden"):  # pytest --update-golden, like decaybench golden --update
        for line in golden.update_golden(eager_trace):
            print(line)
    stored = golden.read_golden_trace()
    for name in ("epoch", "w", "loss", "lr"):
        assert_array_equal(getattr(stored, name), getattr(eager_trace, name))


def test_update_is_idempotent_and_summarised(tmp_path: Path, eager_trace) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(golden.golden_dir() / golden.DOCUMENTED, tmp_path)
    first = golden.update_golden(eager_trace, tmp_path)
    assert [line.split(": ")[1].split(",")[0] for line in first] == ["created", "created"]
    assert all(line.endswith("unchanged") for line in golden.update_golden(eager_trace, tmp_path))
    assert (tmp_path / golden.TRACE_TEXT).read_text() == (golden.golden_dir() / golden.TRACE_TEXT).read_text()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda path: path.unlink(), "golden file is missing"),
        (lambda path: path.write_text("\n".join(path.read_text().splitlines()[:9]) + "\n"), "truncated"),
        (lambda path: path.write_text(path.read_text().replace("epoch,w is 0.321948", "epoch;w is 0.321948")), r":3: not a seed line"),
    ],
)
def test_damaged_documented_file_names_file_and_line(tmp_path: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / golden.DOCUMENTED
    shutil.copy(golden.golden_dir() / golden.DOCUMENTED, path)
    damage(path)
    with pytest.raises(golden.GoldenError, match=message) as raised:
        golden.read_documented(tmp_path)
    assert str(path) in str(raised.value)


def test_refuses_to_write_a_trace_that_misses_the_seed(tmp_path: Path) -> None:
    from decaybench.config import DecayConfig

    with pytest.raises(golden.GoldenError, match="refusing to write golden files: epoch 0"):
        golden.update_golden(run(DecayConfig(w0=4.0)), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_drift_check_compares_the_stored_trace_bit_for_bit(tmp_path: Path) -> None:
    stored = golden.read_golden_trace()
    documented = golden.read_documented()
    drift = golden.check_drift(stored, documented)
    assert drift.ok and drift.summary()[0] == "documented lines reproduced: 15/15"
    assert drift.summary()[1].endswith("seed_trace.json: matches this run bit for bit")
    nudged = dataclasses.replace(stored, w=np.nextafter(stored.w, np.inf))
    drift = golden.check_drift(nudged, documented)
    assert drift.drifted and not drift.ok and drift.summary()[1].endswith("differs from this run")
