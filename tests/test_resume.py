"""Resume: a run stopped after any epoch and resumed is, bit for bit, the run that never stopped.

Every resumable mode, every split epoch k of a 7-epoch run, recording every epoch and every third.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from decaybench import cli
from decaybench.config import DecayConfig
from decaybench.loops import MODES, run, run_split, stop_after
from decaybench.modes import REGISTRY
from decaybench.modes._scaffold import chunks

# The single-process modes and mirrored (multiworker's recovery is tests/test_distributed.py's).
RESUMABLE = [mode for mode in MODES if REGISTRY[mode].checkpoints is not None and mode != "multiworker"]
# model.fit is slow to build: one record_every for it (3, whose rows skip epochs).
CASES = [(mode, every) for mode in RESUMABLE for every in (1, 3) if not (mode in ("fit", "callback") and every == 1)]
EPOCHS = 7


def test_every_single_process_mode_resumes() -> None:
    assert {"eager", "function", "graph", "xla", "xla-exact", "keras", "fit", "callback", "numpy", "mirrored"} <= set(RESUMABLE)


@pytest.mark.parametrize(("mode", "record_every"), CASES)
def test_stopped_after_any_epoch_and_resumed_is_the_uninterrupted_run(tmp_path: Path, mode: str, record_every: int) -> None:
    config = DecayConfig(epochs=EPOCHS, record_every=record_every)
    whole = run(config, mode)
    for split in range(1, EPOCHS + 1):
        resumed = run_split(config, mode, split, tmp_path / f"split-{split}")
        assert resumed.identical(whole), (mode, split)
        assert resumed.epoch.tolist() == whole.epoch.tolist()


@pytest.mark.parametrize("mode", ["eager", "xla", "numpy"])
def test_a_resumed_run_may_save_at_another_interval(tmp_path: Path, mode: str) -> None:
    config = DecayConfig(epochs=EPOCHS, record_every=2, size=3, dtype="float64")
    stop_after(config, mode, 3, tmp_path / "run")
    resumed = run(config, mode, checkpoint_dir=tmp_path / "run", checkpoint_every=2, resume=True)
    assert resumed.identical(run(config, mode))


@pytest.mark.parametrize("mode", ["graph", "xla", "xla-exact"])
@pytest.mark.parametrize("record_every", [1, 3])
def test_a_long_compiled_run_in_chunks_is_the_one_call_run(monkeypatch: pytest.MonkeyPatch, mode: str, record_every: int) -> None:
    config = DecayConfig(epochs=11, record_every=record_every, size=5)
    whole = run(config, mode)
    monkeypatch.setattr(chunks, "CHUNK_SECONDS", 1e-12)  # one epoch per chunk, whatever record_every (0 or 1 row each)
    assert chunks.chunk_length(config, chunks.step_cost(mode)) == 1
    assert run(config, mode).identical(whole)


def test_a_finished_run_resumes_to_its_trace(tmp_path: Path) -> None:
    config = DecayConfig(epochs=EPOCHS)
    first = run(config, "eager", checkpoint_dir=tmp_path / "run")
    files = sorted(path.name for path in (tmp_path / "run").iterdir())
    assert "ckpt-7.index" in files
    again = run(config, "eager", checkpoint_dir=tmp_path / "run", resume=True)
    assert again.identical(first) and sorted(path.name for path in (tmp_path / "run").iterdir()) == files


def test_a_run_killed_before_its_first_checkpoint_resumes_from_epoch_0(tmp_path: Path) -> None:
    from decaybench.checkpoint import Manifest
    from decaybench.checkpoint.manifest import write_manifest

    config = DecayConfig(epochs=EPOCHS)
    (tmp_path / "run").mkdir()
    write_manifest(tmp_path / "run", Manifest.of(config, "xla"))
    assert run(config, "xla", checkpoint_dir=tmp_path / "run", resume=True).identical(run(config, "xla"))


@pytest.mark.parametrize("output_format", ["text", "csv", "json"])
def test_the_cli_resumes_to_the_uninterrupted_output_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output_format: str
) -> None:
    flags = ["--mode", "xla-exact", "--epochs", "9", "--record-every", "2", "--format", output_format]
    assert cli.main(["run", *flags, "--output", str(tmp_path / "whole")]) == 0
    stop_after(DecayConfig(epochs=9, record_every=2), "xla-exact", 4, tmp_path / "run")
    capsys.readouterr()
    status = cli.main(["run", *flags, "--checkpoint-dir", str(tmp_path / "run"), "--resume", "--output", str(tmp_path / "resumed")])
    captured = capsys.readouterr()
    assert status == 0 and captured.err == f"decaybench: resumed at epoch 4 from {tmp_path / 'run'}\n"
    assert (tmp_path / "resumed").read_bytes() == (tmp_path / "whole").read_bytes()


# --- peers: each library's own way to resume, and the two classic mistakes it catches.

PEER_CONFIG = DecayConfig(epochs=9, record_every=2)


@pytest.mark.parametrize("peer", ["tf.keras", "keras2", "keras3", "optax", "torch"])
def test_every_peer_resumes_its_own_way_bit_for_bit(peer: str) -> None:
    from decaybench.peers.resume import resume_check

    verdict = resume_check(peer, PEER_CONFIG, 4)
    if verdict == "-":
        pytest.skip(f"{peer} is not installed")
    assert verdict == "yes"


@pytest.mark.parametrize(("mistake", "restored_at"), [("lr restarts", 0), ("lr decayed twice", 8)])
def test_the_classic_mistakes_are_caught_by_the_resume_check(mistake: str, restored_at: int) -> None:
    from decaybench.peers import PEERS
    from decaybench.peers.resume import resume_check, resumed

    assert resume_check("tf.keras", PEER_CONFIG, 4, mistake) == "NO: lr differs from epoch 4"
    trace = resumed("tf.keras", PEER_CONFIG, 4, mistake)
    # The first resumed epoch applies the rate of step 0 (restarted) or of step 8 (decayed twice), not 4.
    assert trace.lr[trace.epoch == 4][0] == PEERS["tf.keras"].schedule(PEER_CONFIG.schedule, [restored_at])[0]


# --- the README's example of the resume_check fixture, as written there.


def _readme_train(epochs: int, checkpoint_dir: Path, resume: bool) -> dict[str, np.ndarray]:
    import tensorflow as tf

    import decaybench

    w, step = tf.Variable(5.0), tf.Variable(0, dtype=tf.int64)
    ws = tf.Variable(tf.zeros([0]), shape=tf.TensorShape(None))  # the trajectory so far
    checkpoint = tf.train.Checkpoint(w=w, step=step, ws=ws)
    manager = tf.train.CheckpointManager(checkpoint, str(checkpoint_dir), max_to_keep=2)
    if resume:
        checkpoint.restore(manager.latest_checkpoint)
    while step < epochs:
        lr = decaybench.exponential_decay(int(step), 0.2, 1, 0.99)
        with tf.GradientTape() as tape:
            loss = tf.square(w + 1)
        w.assign_sub(lr * tape.gradient(loss, w))
        step.assign_add(1)
        ws.assign(tf.concat([ws, [w]], 0))
    manager.save()
    return {"w": ws.numpy()}


def test_the_readme_resume_check_example(resume_check: Any) -> None:
    resume_check(_readme_train, epochs=20, split=[5, 13])
    assert _readme_train(3, Path(tempfile.mkdtemp()), False)["w"].tolist() == run(DecayConfig(epochs=3)).w[:, 0].tolist()
