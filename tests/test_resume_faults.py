"""Faults: ``decaybench run`` killed with SIGKILL at random moments resumes to the same bytes.

Each trial runs the real command line in a process of its own, checkpointing every few epochs,
each checkpoint held half-written for a moment (files written, not yet named: the test-only
``DECAYBENCH_CHECKPOINT_PAUSE``), and kills it at a random moment after its run began. Then
``--resume`` must finish the run from the latest checkpoint, which must never be corrupt, with
an output equal byte for byte to the uninterrupted run's. Most trials use mode ``numpy``, whose
command starts without TensorFlow; a few use each kind of TensorFlow mode.
"""

from __future__ import annotations

import concurrent.futures
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from decaybench import cli
from decaybench.checkpoint import MANIFEST, latest_epoch
from decaybench.test_hooks import CHECKPOINT_PAUSE

SEED = 20261129
PAUSE = 0.02
EPOCHS = 30
# (mode, trials): 21 trials, six in TensorFlow modes, whose start costs seconds each.
PLAN = [("numpy", 15), ("eager", 1), ("function", 1), ("graph", 1), ("xla", 1), ("xla-exact", 1), ("keras", 1)]
PROCESSES = 4  # trials at a time: they mostly sleep in their checkpoints or load TensorFlow
# Rounds of kills: a trial whose run ended before its kill is killed again, its moment drawn from a
# window half as long, until every trial was killed mid-run and one kill landed in a checkpoint write.
ATTEMPTS = 4


@dataclass(frozen=True)
class Trial:
    mode: str
    every: int
    record_every: int
    output_format: str

    def flags(self) -> list[str]:
        config = ["--epochs", str(EPOCHS), "--record-every", str(self.record_every), "--decay-steps", "3", "--staircase"]
        return ["run", "--mode", self.mode, *config, "--format", self.output_format]


def _mid_write(directory: Path, epoch: int | None) -> bool:
    """Whether the kill left a checkpoint half-written: files of a later checkpoint not yet named, or a temporary."""
    later = [int(path.name[5:-6]) for path in directory.glob("ckpt-*.index") if path.name[5:-6].isdigit()]
    named = -1 if epoch is None else epoch
    return any(number > named for number in later) or any("tmp" in path.name or "temp" in path.name for path in directory.iterdir())


def _killed(trial: Trial, directory: Path, rng: random.Random, output: Path, window: float = 1.0) -> tuple[int, float]:
    """Run ``trial`` in a new process, SIGKILL it at a random moment of its run (``window``: of the usual span); its status and run time."""
    env = {**os.environ, CHECKPOINT_PAUSE: str(PAUSE), "TF_CPP_MIN_LOG_LEVEL": "2"}
    args = [*trial.flags(), "--checkpoint-dir", str(directory), "--checkpoint-every", str(trial.every), "--output", str(output)]
    process = subprocess.Popen([sys.executable, "-m", "decaybench", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    # From the first checkpoint after epoch 0 on (its run is under way, compiled); a few trials
    # from the manifest, before any checkpoint.
    early = rng.random() < 0.15
    while process.poll() is None and time.monotonic() < deadline:
        if (directory / MANIFEST).exists() and (early or (latest_epoch(directory) or 0) > 0):
            break
        time.sleep(0.002)
    started = time.monotonic()
    time.sleep(rng.uniform(0.0, (EPOCHS // trial.every + 1) * PAUSE * 1.2 * window))
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.stderr is not None
    errors = process.stderr.read().decode()
    process.stderr.close()
    assert process.returncode in (0, -signal.SIGKILL), errors
    return process.returncode, time.monotonic() - started


def _resumed(trial: Trial, directory: Path, output: Path, capsys: pytest.CaptureFixture[str]) -> bytes:
    capsys.readouterr()
    if (directory / MANIFEST).exists():
        status = cli.main([*trial.flags(), "--checkpoint-dir", str(directory), "--resume", "--output", str(output)])
    else:  # killed before its run began: there is nothing to resume, and --resume says so
        assert cli.main([*trial.flags(), "--checkpoint-dir", str(directory), "--resume"]) == 2
        status = cli.main([*trial.flags(), "--checkpoint-dir", str(directory), "--output", str(output)])
    captured = capsys.readouterr()
    assert status == 0 and "corrupt" not in captured.err, captured.err
    return output.read_bytes()


def test_sigkill_at_random_moments_then_resume_gives_the_same_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(SEED)
    trials = [
        Trial(mode, rng.choice([1, 2, 4]), rng.choice([1, 3]), rng.choice(["text", "csv", "json"]))
        for mode, count in PLAN
        for _ in range(count)
    ]
    interrupted: list[tuple[str, int]] = []
    during_write = 0
    references: dict[Trial, bytes] = {}
    for number, trial in enumerate(trials):
        if trial not in references:
            assert cli.main([*trial.flags(), "--output", str(tmp_path / f"whole-{number}")]) == 0
            references[trial] = (tmp_path / f"whole-{number}").read_bytes()
    pending, killed_mid_run, window = list(range(len(trials))), set(), 1.0
    for attempt in range(1, ATTEMPTS + 1):
        paths = {number: (tmp_path / f"run-{number}-{attempt}", tmp_path / f"out-{number}-{attempt}") for number in pending}
        runs = [(trials[n], paths[n][0], random.Random(SEED + 1000 * attempt + n), paths[n][1], window) for n in pending]
        with concurrent.futures.ThreadPoolExecutor(PROCESSES) as pool:
            kills = list(pool.map(lambda run: _killed(*run), runs))
        for number, (status, _) in zip(pending, kills, strict=True):
            trial, (directory, output) = trials[number], paths[number]
            if status == 0:  # it finished before the kill
                assert output.read_bytes() == references[trial]
                continue
            assert not output.exists() or output.read_bytes() == references[trial]  # never a partial output
            epoch = latest_epoch(directory) if directory.exists() else None
            interrupted.append((trial.mode, -1 if epoch is None else epoch))
            killed_mid_run.add(number)
            during_write += directory.exists() and _mid_write(directory, epoch)
            assert _resumed(trial, directory, output, capsys) == references[trial], trial
        if len(killed_mid_run) == len(trials) and during_write >= 1:
            break
        # The trials that finished first, killed sooner; or, all killed mid-run but none in a write, all again.
        pending = [number for number in range(len(trials)) if number not in killed_mid_run]
        pending, window = (pending, window / 2) if pending else (list(range(len(trials))), 1.0)
    summary = f"{len(trials)} trials, {len(interrupted)} kills mid-run ({during_write} during a checkpoint write) at epochs " + ", ".join(
        f"{mode}:{epoch}" for mode, epoch in interrupted
    )
    summary += f", in {attempt} of {ATTEMPTS} rounds of kills"
    print(summary)  # pytest -s shows it; -1: killed before its first checkpoint
    assert len(trials) >= 20 and len(killed_mid_run) == len(trials), summary
    assert during_write >= 1, summary
