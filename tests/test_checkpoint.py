"""decaybench.checkpoint: the manifest, the two stores, and every refusal, before anything is written."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from decaybench import cli
from decaybench.checkpoint import MANIFEST, CheckpointOptions, State, check_options, default_every, latest_epoch, read_manifest
from decaybench.config import DecayConfig
from decaybench.loops import run, stop_after
from decaybench.validation import InvalidValue
from tests.unprivileged import owned_directory, run_cli

CONFIG = DecayConfig(epochs=7, record_every=3)


def _files(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` and its SHA-256: a checkpoint left untouched keeps all of them."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest() for path in directory.rglob("*") if path.is_file()
    }


@pytest.mark.parametrize("every", [1, 3, 7])
@pytest.mark.parametrize("epochs", [1, 7, 40])
def test_the_default_interval_is_ten_checkpoints_a_run(epochs: int, every: int) -> None:
    assert default_every(epochs) == max(1, epochs // 10)
    options = check_options(DecayConfig(epochs=epochs), "numpy", "somewhere-new", every, False)
    assert options == CheckpointOptions(Path("somewhere-new"), every, False)


def test_no_directory_means_no_checkpoint() -> None:
    assert check_options(CONFIG, "eager", None, None, False) is None


@pytest.mark.parametrize("mode", ["numpy", "eager"])
def test_a_state_round_trips_bit_for_bit(tmp_path: Path, mode: str) -> None:
    options = check_options(CONFIG, mode, tmp_path / "run", 2, False)
    assert options is not None
    checkpoints = options.open(CONFIG, mode)
    assert checkpoints.start().epoch == 0 and latest_epoch(tmp_path / "run") == 0
    rows = (np.float32([[2.6], [-0.19]]), np.float32([36.0, 1.74]), np.float64([0.2, 0.19406]))
    checkpoints.save(State(4, np.float32([-0.5]), *rows))
    assert latest_epoch(tmp_path / "run") == 4
    resumed = check_options(CONFIG, mode, tmp_path / "run", None, True)
    assert resumed is not None
    state = resumed.open(CONFIG, mode).start()
    assert state.epoch == 4 and state.w.tobytes() == np.float32([-0.5]).tobytes()
    for got, want in zip((state.rows_w, state.rows_loss, state.rows_lr), rows, strict=True):
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


def test_the_manifest_names_mode_config_and_versions(tmp_path: Path) -> None:
    stop_after(CONFIG, "numpy", 3, tmp_path / "run")
    document = json.loads((tmp_path / "run" / MANIFEST).read_text())
    assert document["mode"] == "numpy" and document["config"]["epochs"] == 7 and document["decaybench"]
    assert "tensorflow" in document
    manifest = read_manifest(tmp_path / "run")
    assert manifest is not None and manifest.config == CONFIG


def test_a_state_that_does_not_fit_the_config_is_refused() -> None:
    state = State.initial(DecayConfig(epochs=7, size=2))
    with pytest.raises(ValueError, match=r"its w is float32\[2\], expected float32\[1\]"):
        state.check(CONFIG)
    with pytest.raises(ValueError, match=r"outside 0\.\.7"):
        State(9, state.w, state.rows_w, state.rows_loss, state.rows_lr).check(CONFIG)


# --- refusals: the API names the argument and both values; the CLI says it in one line, exit 2,
# writes nothing and leaves the checkpoint as it was.


def _made(tmp_path: Path, mode: str = "eager") -> Path:
    directory = tmp_path / "run"
    stop_after(CONFIG, mode, 3, directory)
    return directory


def _truncate(name: str) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        path = next(directory.glob(name))
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])

    return damage


def _flip(name: str) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        path = next(directory.glob(name))
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))

    return damage


def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda directory: (directory / name).write_text(text)


# (mode, damage, the words the one line must hold)
DAMAGE = [
    ("eager", _truncate("ckpt-3.data-*"), "ckpt-3 is unreadable or corrupt"),
    ("eager", _flip("ckpt-3.data-*"), "Checksum does not match"),
    ("eager", _truncate("ckpt-3.index"), "ckpt-3 is unreadable or corrupt"),
    ("eager", _write("checkpoint", "garbage {"), "checkpoint is unreadable or corrupt (it names no checkpoint)"),
    ("eager", _write(MANIFEST, '{"format": "decaybench-checkpoint/1", "mo'), "manifest.json is not valid JSON"),
    ("eager", _write(MANIFEST, "[]"), "manifest.json is unreadable or corrupt"),
    ("numpy", _truncate("state.npz"), "state.npz is unreadable or corrupt"),
    ("numpy", _flip("state.npz"), "state.npz is unreadable or corrupt"),
]


@pytest.mark.parametrize(("mode", "damage", "words"), DAMAGE)
def test_a_corrupt_checkpoint_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: str, damage: Callable[[Path], None], words: str
) -> None:
    directory = _made(tmp_path, mode)
    damage(directory)
    before = _files(directory)
    args = ["run", "--mode", mode, "--epochs", "7", "--record-every", "3", "--checkpoint-dir", str(directory), "--resume"]
    status = cli.main([*args, "--output", str(tmp_path / "out.txt")])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == "", captured.err
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err, captured.err
    assert "--checkpoint-dir" in captured.err and words in captured.err and str(directory) in captured.err
    assert _files(directory) == before and not (tmp_path / "out.txt").exists()


# (flags of the resumed run, the field named, the value there, the value here)
OTHER_RUNS = [
    (["--mode", "function"], "mode", "'eager'", "'function'"),
    (["--epochs", "8"], "epochs", "7", "8"),
    (["--dtype", "float64"], "dtype", "'float32'", "'float64'"),
    (["--size", "2"], "size", "1", "2"),
    (["--decay-rate", "0.5"], "decay_rate", "0.99", "0.5"),
]


@pytest.mark.parametrize(("flags", "field", "there", "here"), OTHER_RUNS)
def test_a_checkpoint_of_another_run_names_the_first_differing_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], field: str, there: str, here: str
) -> None:
    directory = _made(tmp_path)
    before = _files(directory)
    base = {"--mode": "eager", "--epochs": "7", "--record-every": "3"}
    base.update(dict(zip(flags[::2], flags[1::2], strict=True)))
    args = [item for pair in base.items() for item in pair]
    status = cli.main(["run", *args, "--checkpoint-dir", str(directory), "--resume"])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert f"--checkpoint-dir: holds a checkpoint of another run: {field} is {there} there, {here} in this run" in captured.err
    assert _files(directory) == before
    with pytest.raises(InvalidValue, match=f"{field} is {there} there"):
        run(
            DecayConfig(**{**dataclasses.asdict(CONFIG), **({} if field == "mode" else {field: eval(here)})}),
            "function" if field == "mode" else "eager",
            checkpoint_dir=directory,
            resume=True,
        )


def test_resume_needs_a_checkpoint_and_a_fresh_run_needs_a_free_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidValue, match="holds no checkpoint to resume"):
        run(CONFIG, "numpy", checkpoint_dir=empty, resume=True)
    with pytest.raises(InvalidValue, match="does not exist"):
        run(CONFIG, "numpy", checkpoint_dir=tmp_path / "missing", resume=True)
    directory = _made(tmp_path, "numpy")
    before = _files(directory)
    status = cli.main(["run", "--mode", "numpy", "--epochs", "7", "--record-every", "3", "--checkpoint-dir", str(directory)])
    captured = capsys.readouterr()
    assert status == 2 and "holds a checkpoint at epoch 3 already: resume it" in captured.err and captured.out == ""
    assert _files(directory) == before and list(empty.iterdir()) == []


def test_an_unwritable_directory_is_refused_before_any_work(tmp_path: Path) -> None:
    # For real: its owner, unprivileged, may not write a 0555 directory (root would).
    with owned_directory() as locked:
        locked.chmod(0o555)
        done = run_cli("run", "--epochs", "7", "--checkpoint-dir", str(locked / "run"))
        assert list(locked.iterdir()) == []
    assert done.returncode == 2 and done.stdout == "" and "--checkpoint-dir: is not writable" in done.stderr, done.stderr
    file = tmp_path / "a-file"
    file.write_text("not a directory\n")
    with pytest.raises(InvalidValue, match="is not a directory"):
        run(CONFIG, "eager", checkpoint_dir=file)


def test_a_directory_that_cannot_be_made_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["run", "--epochs", "7", "--checkpoint-dir", str(tmp_path / "no" / "such" / "parent")])
    captured = capsys.readouterr()
    assert status == 2 and "needs an existing parent directory" in captured.err and list(tmp_path.iterdir()) == []


def test_a_mode_without_checkpoints_is_refused_naming_it(tmp_path: Path) -> None:
    from decaybench.modes import REGISTRY

    for mode, spec in REGISTRY.items():  # none built in; tests/test_plugin_modes.py declares one
        if spec.checkpoints is None:
            with pytest.raises(InvalidValue, match=f"cannot be used in mode {mode}"):
                run(CONFIG, mode, checkpoint_dir=tmp_path / mode)
