"""The golden checks: every documented seed line, byte for byte, and the generated trace."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from decaybench import golden
from decaybench.loops import run

if TYPE_CHECKING:
    from tests.conftest import Command


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
        (lambda path: path.unlink(), "seed_documented.txt: golden file is missing"),
        (lambda path: path.write_text("\n".join(path.read_text().splitlines()[:9]) + "\n"), "seed_documented.txt:9: truncated"),
        (lambda path: path.write_text(path.read_text().replace("w is 1.174400", "w is 1.17")), "seed_documented.txt:2: not a seed line"),
        (
            lambda path: path.write_text(path.read_text().replace("epoch,w is 0.321948", "epoch;w is 0.321948")),
            "seed_documented.txt:3: not a seed line",
        ),
    ],
)
def test_damaged_documented_file_names_file_and_line(decaybench: Command, tmp_path: Path, damage: Any, message: str) -> None:
    path = tmp_path / golden.DOCUMENTED
    shutil.copy(golden.golden_dir() / golden.DOCUMENTED, path)
    damage(path)
    with pytest.raises(golden.GoldenError, match=re.escape(message)) as raised:
        golden.read_documented(tmp_path)
    assert str(path) in str(raised.value)
    status, out, err = decaybench.main("golden", "--dir", str(tmp_path))  # the command says the same, in one line
    assert status == 2 and out == "" and message in err


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


# --- Corrupted golden files: the API and the command name the file and the line, and change nothing.


def _golden_dir(tmp_path: Path) -> Path:
    for name in (golden.DOCUMENTED, golden.TRACE_TEXT, golden.TRACE_JSON):
        (tmp_path / name).write_bytes((golden.golden_dir() / name).read_bytes())
    return tmp_path


def _set_json(field: str, value: Any) -> Any:
    def damage(path: Path) -> None:
        document = json.loads(path.read_text())
        document[field] = value
        path.write_text(json.dumps(document))

    return damage


GOLDEN_DAMAGE: list[tuple[str, str, Any, str]] = [
    ("epoch 0.7", "seed_trace.json", _set_json("epoch", [0.7, *range(1, 40)]), "seed_trace.json:1: malformed golden trace: epoch"),
    ("epoch 10**30", "seed_trace.json", _set_json("epoch", [10**30] * 40), "epoch 1000000000000000000000000000000 out of range"),
    ("epoch true", "seed_trace.json", _set_json("epoch", [True, *range(1, 40)]), "epoch must be a list of integers, found True"),
    ("epochs repeated", "seed_trace.json", _set_json("epoch", [0, 0, *range(2, 40)]), "epoch 0 does not follow epoch 0"),
    ("w past float32", "seed_trace.json", _set_json("w", [1e300] * 40), "w holds 1e+300, not a float32 value"),
    ("w a string", "seed_trace.json", _set_json("w", ["2.6"] * 40), "w holds '2.6', not a number"),
    ("w nested", "seed_trace.json", _set_json("w", [[[2.6]]] * 40), "w holds [2.6], not a number"),
    ("deep nesting", "seed_trace.json", lambda path: path.write_text("[" * 100_000 + "]" * 100_000), "nested too deeply"),
    ("a JSON list", "seed_trace.json", lambda path: path.write_text("[1, 2]"), "expected a JSON object, got a list"),
    (
        "not JSON",
        "seed_trace.json",
        lambda path: path.write_text('{"mode": \n oops'),
        "seed_trace.json:2: malformed golden trace: not JSON",
    ),
    ("lr null", "seed_trace.json", _set_json("lr", None), "lr holds None, not a number"),
    (
        "missing key",
        "seed_trace.json",
        lambda path: path.write_text('{"mode": "eager"}'),
        "missing keys ['config', 'epoch', 'loss', 'lr', 'w']",
    ),
    ("bad config", "seed_trace.json", _set_json("config", {"decay_steps": 10**30}), "config: decay_steps must be at most"),
    ("non-UTF-8 json", "seed_trace.json", lambda path: path.write_bytes(b'{"mode": "\xff"}'), "seed_trace.json:1: not UTF-8 text"),
    (
        "non-UTF-8 text",
        "seed_trace.txt",
        lambda path: path.write_bytes(path.read_bytes().replace(b"2.600000", b"2.6\xe90000")),
        "seed_trace.txt:1: not UTF-8 text",
    ),
    (
        "non-UTF-8 documented",
        "seed_documented.txt",
        lambda path: path.write_bytes(b"\n\n\xff"),
        "seed_documented.txt:3: not UTF-8 text",
    ),
    (
        "epoch 0.7 in text",
        "seed_trace.txt",
        lambda path: path.write_text(path.read_text().replace("After 1 epoch", "After 0.7 epoch")),
        "seed_trace.txt:2: not a seed line",
    ),
    (
        "epoch past int64 in text",
        "seed_trace.txt",
        lambda path: path.write_text(path.read_text().replace("After 1 epoch", f"After {10**30} epoch")),
        "seed_trace.txt:2: epoch 1000000000000000000000000000000 is out of range",
    ),
]


@pytest.mark.parametrize(("case", "name", "damage", "message"), GOLDEN_DAMAGE, ids=[case[0] for case in GOLDEN_DAMAGE])
def test_corrupted_golden_files_name_file_and_line(
    decaybench: Command, tmp_path: Path, case: str, name: str, damage: Any, message: str
) -> None:
    directory = _golden_dir(tmp_path)
    damage(directory / name)
    with pytest.raises(golden.GoldenError, match=r"\.(txt|json):\d+: ") as raised:
        golden.read_documented(directory)
        golden.read_golden_trace(directory)
    assert message in str(raised.value) and str(directory / name) in str(raised.value)
    before = {path.name: path.read_bytes() for path in directory.iterdir()}
    status, out, err = decaybench.main("golden", "--dir", str(directory))
    assert status == 2 and out == "" and message in err
    assert {path.name: path.read_bytes() for path in directory.iterdir()} == before
