"""Fuzzing the checkpoint directory: hostile manifests, states and TensorFlow indexes (issue 26).

A resume from any of them exits 2 with one line naming ``--checkpoint-dir``, writes no output and
leaves the directory as it was; TensorFlow's index is read to an epoch or refused, never anything else.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from decaybench.checkpoint.files import index_epoch
from decaybench.checkpoint.manifest import MANIFEST
from decaybench.loops import stop_after
from decaybench.reading import UnreadableInput
from tests.properties.strategies import HOSTILE_SETTINGS, hostile_manifests, hostile_states
from tests.test_hostile_inputs import CONFIG, FLAGS, assert_refused, main, snapshot, state_members, write_state

# The module's checkpoint is only read: each example works on its own copy.
SUPPRESSED = settings(HOSTILE_SETTINGS, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def checkpoint() -> Iterator[Path]:
    """A numpy run of CONFIG stopped after epoch 3, copied for each example."""
    with tempfile.TemporaryDirectory() as base:
        stop_after(CONFIG, "numpy", 3, Path(base) / "run")
        yield Path(base) / "run"


def _refused_resume(checkpoint: Path, damage: object) -> None:
    with tempfile.TemporaryDirectory() as base:
        directory = Path(shutil.copytree(checkpoint, Path(base) / "run"))
        damage(directory)  # type: ignore[operator]
        before = snapshot(directory)
        result = main("run", "--mode", "numpy", *FLAGS, "--checkpoint-dir", str(directory), "--resume", "--output", f"{base}/out")
        assert_refused(*result, "--checkpoint-dir")
        assert snapshot(directory) == before and not Path(base, "out").exists()


@SUPPRESSED
@given(st.data())
def test_a_hostile_manifest_is_refused_in_one_line(checkpoint: Path, data: st.DataObject) -> None:
    text = data.draw(hostile_manifests(json.loads((checkpoint / MANIFEST).read_text())))
    _refused_resume(checkpoint, lambda directory: (directory / MANIFEST).write_bytes(text))


@SUPPRESSED
@given(st.data())
def test_a_hostile_state_is_refused_in_one_line(checkpoint: Path, data: st.DataObject) -> None:
    members = data.draw(hostile_states(state_members(checkpoint), CONFIG.epochs))
    compressed = data.draw(st.booleans())
    _refused_resume(checkpoint, lambda directory: write_state(directory / "state.npz", members, compressed))


@HOSTILE_SETTINGS
@given(st.one_of(st.text(max_size=60), st.from_regex(r'model_checkpoint_path: "?[a-z/]*ckpt-[0-9٣]{0,25}"?\n', fullmatch=True)))
@example('model_checkpoint_path: "ckpt-99999999999999999999"\n')
@example('model_checkpoint_path: "ckpt-٣"\n')
def test_a_tensorflow_index_is_read_to_an_epoch_or_refused(text: str) -> None:
    with tempfile.TemporaryDirectory() as base:
        (Path(base) / "checkpoint").write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            epoch = index_epoch(Path(base))
        except UnreadableInput as error:
            assert error.argument == "checkpoint_dir" and len(str(error).splitlines()) == 1, str(error)
        else:
            assert epoch is not None and re.search(rf"ckpt-0*{epoch}\b", text), (epoch, text)
