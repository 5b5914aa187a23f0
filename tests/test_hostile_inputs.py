"""Hostile and careless input on the newer surfaces: checkpoints, paths, notices, exact_update, NaN bits.

Each class of issue 26's table has a test named for it. A refusal is exit 2 and one line on
stderr naming the flag, with no traceback, no output file, and the checkpoint directory as it was
(every entry's name, type and bytes). Refusals that need no computation come before TensorFlow
loads: those cases run in one fresh process that reports, after each, whether ``tensorflow`` is in
``sys.modules`` (and a FIFO that blocked would time it out).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from decaybench import cli
from decaybench.bits import same_bits
from decaybench.checkpoint.files import digest
from decaybench.checkpoint.manifest import MANIFEST, Manifest, write_manifest
from decaybench.config import DecayConfig
from decaybench.loops import stop_after
from decaybench.pytest_plugin import GoldenTrace
from decaybench.resume_check import ResumeMismatch, check_resume
from decaybench.trace import Trace
from tests.unprivileged import owned_directory, run_cli

ROOT = Path(__file__).resolve().parents[1]
CONFIG = DecayConfig(epochs=7, record_every=3)
FLAGS = ["--epochs", "7", "--record-every", "3"]


def snapshot(directory: Path) -> dict[str, tuple[str, str | None]]:
    """Every entry under ``directory``: its type and, for a regular file, its SHA-256."""
    entries: dict[str, tuple[str, str | None]] = {}
    for path in sorted(directory.rglob("*")):
        mode = path.lstat().st_mode
        content = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(mode) else None
        entries[str(path.relative_to(directory))] = (stat.filemode(mode)[0], content)
    return entries


def numpy_checkpoint(tmp_path: Path, name: str = "run") -> Path:
    """A numpy run of CONFIG stopped after the checkpoint of epoch 3."""
    directory = tmp_path / name
    stop_after(CONFIG, "numpy", 3, directory)
    return directory


def eager_checkpoint(tmp_path: Path, name: str) -> Path:
    """A directory with an eager run's manifest and an index naming ckpt-3 (TensorFlow is not needed to refuse it)."""
    directory = tmp_path / name
    directory.mkdir()
    write_manifest(directory, Manifest.of(CONFIG, "eager"))
    (directory / "checkpoint").write_text('model_checkpoint_path: "ckpt-3"\nall_model_checkpoint_paths: "ckpt-3"\n')
    return directory


def fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


@contextlib.contextmanager
def bound_socket(path: Path) -> Iterator[None]:
    path.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        yield


def main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


def assert_refused(status: int, out: str, err: str, flag: str, *words: str) -> None:
    assert status == 2 and out == "", (status, err)
    assert len(err.splitlines()) == 1 and err.endswith("\n") and "Traceback" not in err, err
    assert err.startswith(f"decaybench: error: {flag}: "), err
    for word in words:
        assert word in err, (word, err)


# --- the cases refused before TensorFlow loads: one fresh process runs them all.

SCRIPT = """
import contextlib, io, json, sys
from decaybench import cli
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(argv)
    results.append([status, out.getvalue(), err.getvalue(), "tensorflow" in sys.modules])
print(json.dumps(results))
"""


def _early_cases(tmp_path: Path) -> dict[str, tuple[list[str], Path | None, str, tuple[str, ...]]]:
    """name: (argv, checkpoint directory that must stay as it was, flag named, words of the line)."""
    cases: dict[str, tuple[list[str], Path | None, str, tuple[str, ...]]] = {}

    def resume(name: str, directory: Path, *words: str, mode: str = "eager") -> None:
        argv = ["run", "--mode", mode, *FLAGS, "--checkpoint-dir", str(directory), "--resume", "--output", str(tmp_path / f"{name}.txt")]
        cases[name] = (argv, directory, "--checkpoint-dir", words)

    # special files inside a checkpoint directory
    fifo((directory := eager_checkpoint(tmp_path, "fifo-manifest")) / MANIFEST)
    resume("fifo manifest", directory, "manifest.json is a FIFO, not a regular file")
    fifo((directory := numpy_checkpoint(tmp_path, "fifo-state")) / "state.npz")
    resume("fifo state.npz", directory, "state.npz is a FIFO", mode="numpy")
    fifo((directory := eager_checkpoint(tmp_path, "fifo-index")) / "checkpoint")
    resume("fifo checkpoint index", directory, "checkpoint is a FIFO")
    fifo((directory := eager_checkpoint(tmp_path, "fifo-ckpt")) / "ckpt-3.index")
    resume("fifo ckpt-3.index", directory, "ckpt-3.index is a FIFO")
    fifo((directory := eager_checkpoint(tmp_path, "fifo-link")) / "target")
    (directory / MANIFEST).unlink()
    (directory / MANIFEST).symlink_to(directory / "target")
    resume("symlink to a fifo", directory, "is a FIFO")  # the FIFO itself is refused first (sorted entries)
    (directory := eager_checkpoint(tmp_path, "chr-state")).joinpath("state.npz").symlink_to("/dev/zero")
    resume("symlink to a device", directory, "state.npz is a character device")
    # wrong file types: a directory where a file is read, on a fresh run as on a resume
    (directory := tmp_path / "dir-index").mkdir()
    (directory / "checkpoint").mkdir()
    cases["directory named checkpoint, fresh run"] = (
        ["run", *FLAGS, "--checkpoint-dir", str(directory), "--output", str(tmp_path / "fresh.txt")],
        directory,
        "--checkpoint-dir",
        ("checkpoint is a directory, not a regular file",),
    )
    (directory := eager_checkpoint(tmp_path, "dir-manifest")).joinpath(MANIFEST).unlink()
    (directory / MANIFEST).mkdir()
    resume("directory named manifest.json", directory, "manifest.json is a directory")
    # an index naming a checkpoint whose files are gone: refused before TensorFlow would find it
    resume(
        "index naming a missing checkpoint", eager_checkpoint(tmp_path, "no-ckpt"), "its index names ckpt-3, and ckpt-3.index is missing"
    )
    # JSON nesting: 100,000 levels, as in the table
    (directory := eager_checkpoint(tmp_path, "deep")).joinpath(MANIFEST).write_text("[" * 100_000 + "]" * 100_000)
    resume("deep manifest", directory, "manifest.json is not valid JSON: nested deeper than 64 levels")
    # conflicting paths: refused before the run fills either
    same = str(tmp_path / "same")
    cases["output is the checkpoint dir"] = (["run", *FLAGS, "--checkpoint-dir", same, "--output", same], None, "--output", ("same path",))
    inside = ["run", *FLAGS, "--checkpoint-dir", same, "--output", f"{same}/trace.txt"]
    cases["output inside the checkpoint dir"] = (inside, None, "--output", ("is inside the checkpoint directory",))
    (tmp_path / "link").symlink_to(same)
    linked = ["run", *FLAGS, "--checkpoint-dir", same, "--output", str(tmp_path / "link")]
    cases["output is the checkpoint dir by a symlink"] = (linked, None, "--output", ("same path",))
    in_golden = ["run", *FLAGS, "--checkpoint-dir", str(tmp_path / "golden" / "run")]
    cases["checkpoint dir inside golden"] = (in_golden, None, "--checkpoint-dir", ("inside the golden directory",))
    cases["output inside golden"] = (["run", "--output", str(tmp_path / "golden" / "x.txt")], None, "--output", ("golden directory",))
    sweep = ["sweep", "--epochs", "7", "--initial-lr", "0.1,0.2", "--decay-rate", "0.9"]
    cases["sweep: output inside the checkpoint dir"] = (
        [*sweep, "--checkpoint-dir", same, "--output", f"{same}/grid.csv"],
        None,
        "--output",
        ("is inside the checkpoint directory",),
    )
    cases["sweep: output is the checkpoint dir"] = (
        [*sweep, "--checkpoint-dir", f"{same}.csv", "--output", f"{same}.csv"],
        None,
        "--output",
        ("same path",),
    )
    in_golden = [*sweep, "--checkpoint-dir", str(tmp_path / "golden" / "sweep")]
    cases["sweep: checkpoint dir inside golden"] = (in_golden, None, "--checkpoint-dir", ("inside the golden directory",))
    cases["sweep: output inside golden"] = ([*sweep, "--output", str(tmp_path / "golden" / "x.csv")], None, "--output", ("golden",))
    # golden files of another type: --update would write into a FIFO in place (and block); the check reads it before the run
    for command, name in ((["golden", "--update"], "seed_trace.txt"), (["golden"], "seed_trace.json")):
        shutil.copytree(ROOT / "golden", directory := tmp_path / f"golden-{len(command)}")
        fifo(directory / name)
        flag = "--dir" if "--update" in command else str(directory / name)
        cases[f"{' '.join(command)}: a FIFO golden file"] = ([*command, "--dir", str(directory)], directory, flag, ("is a FIFO",))
    return cases


@pytest.fixture(scope="module")
def early(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[Any], dict[str, Any], dict[str, Any], str, tuple[str, ...]]]:
    """Each early case: (its result, its directory before, after, the flag, the words), from one fresh process."""
    tmp_path = tmp_path_factory.mktemp("early")
    (tmp_path / "golden").mkdir()
    cases = _early_cases(tmp_path)
    sock = eager_checkpoint(tmp_path, "socket-manifest")
    (sock / MANIFEST).unlink()
    with bound_socket(sock / MANIFEST):
        argv = ["run", *FLAGS, "--checkpoint-dir", str(sock), "--resume"]
        cases["socket manifest"] = (argv, sock, "--checkpoint-dir", ("manifest.json is a socket",))
        # The path collisions last: one that ran (and loaded TensorFlow) would not cloud the other cases.
        cases = {name: cases[name] for name in sorted(cases, key=lambda name: "output" in name or "golden" in name)}
        before = {name: snapshot(case[1]) if case[1] else {} for name, case in cases.items()}
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DECAYBENCH_GOLDEN_DIR": str(tmp_path / "golden"), "TF_CPP_MIN_LOG_LEVEL": "2"}
        payload = json.dumps([case[0] for case in cases.values()])
        done = subprocess.run([sys.executable, "-c", SCRIPT, payload], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        after = {name: snapshot(case[1]) if case[1] else {} for name, case in cases.items()}
    results = json.loads(done.stdout)
    written = (*tmp_path.glob("*.txt"), tmp_path / "same", tmp_path / "same.csv", *(tmp_path / "golden").iterdir())
    left = [path for path in written if os.path.lexists(path)]
    results.append([str(path) for path in left])
    cases["left behind"] = ([], None, "", ())
    return {
        name: (result, before.get(name, {}), after.get(name, {}), case[2], case[3])
        for (name, case), result in zip(cases.items(), results, strict=True)
    }


def _check_early(early: dict[str, Any], *names: str) -> None:
    for name in names:
        (status, out, err, tensorflow), before, after, flag, words = early[name]
        assert_refused(status, out, err, flag, *words)
        assert not tensorflow, f"{name}: refused after TensorFlow loaded"
        assert after == before, name


def test_special_files_in_a_checkpoint_directory_are_refused_without_blocking(early: dict[str, Any]) -> None:
    names = ("fifo manifest", "fifo state.npz", "fifo checkpoint index", "fifo ckpt-3.index", "symlink to a fifo", "symlink to a device")
    _check_early(early, *names, "socket manifest", "golden --update: a FIFO golden file", "golden: a FIFO golden file")


def test_wrong_file_types_are_refused_on_a_fresh_run_and_a_resume(early: dict[str, Any]) -> None:
    _check_early(early, "directory named checkpoint, fresh run", "directory named manifest.json", "index naming a missing checkpoint")


def test_conflicting_paths_are_refused_before_tensorflow_and_before_the_run(early: dict[str, Any]) -> None:
    names = ("output is the checkpoint dir", "output inside the checkpoint dir", "output is the checkpoint dir by a symlink")
    _check_early(early, *names, "checkpoint dir inside golden", "output inside golden")
    sweeps = ("output inside the checkpoint dir", "output is the checkpoint dir", "checkpoint dir inside golden", "output inside golden")
    _check_early(early, *(f"sweep: {name}" for name in sweeps))
    assert early["left behind"][0] == [], "a refused run left files behind"


# --- JSON nesting, in the manifest (the API and the CLI, any kind of nesting)

DEEP = [
    "[" * 100_000 + "]" * 100_000,
    '{"a": ' * 3000 + "1" + "}" * 3000,
    '{"format": "decaybench-checkpoint/1", "config": ' + "[" * 65 + "]" * 65 + "}",
    "[" * 100_000,  # never closed
]


@pytest.mark.parametrize("text", DEEP, ids=["lists", "objects", "inside config", "unclosed"])
def test_json_nesting_in_a_manifest_is_refused_in_one_line(tmp_path: Path, text: str) -> None:
    directory = numpy_checkpoint(tmp_path)
    (directory / MANIFEST).write_text(text)
    before = snapshot(directory)
    result = main("run", "--mode", "numpy", *FLAGS, "--checkpoint-dir", str(directory), "--resume", "--output", str(tmp_path / "o"))
    assert_refused(*result, "--checkpoint-dir", "manifest.json is")
    assert snapshot(directory) == before and not (tmp_path / "o").exists()


# --- malformed state inside a valid container (the digest recomputed, so only the checks can tell)


def write_state(path: Path, members: dict[str, np.ndarray], compressed: bool = False) -> None:
    """``members`` as ``state.npz`` with a digest recomputed over them, as a careful forger would."""
    arrays = {name: value for name, value in members.items() if name != "digest"}
    save = np.savez_compressed if compressed else np.savez
    save(path, **members, **({} if "digest" in members else {"digest": np.frombuffer(digest(arrays), np.uint8)}))


def state_members(directory: Path) -> dict[str, np.ndarray]:
    with np.load(directory / "state.npz") as data:
        return {name: data[name] for name in ("epoch", "w", "rows_w", "rows_loss", "rows_lr")}


MALFORMED: list[tuple[str, Callable[[dict[str, np.ndarray]], None], str]] = [
    ("epoch [[20]]", lambda m: m.update(epoch=np.array([[20]])), "its epoch is int64[1, 1]"),
    ("epoch float", lambda m: m.update(epoch=np.float64(3.0)), "its epoch is float64[]"),
    ("epoch int32", lambda m: m.update(epoch=np.int32(3)), "its epoch is int32[]"),
    ("epoch negative", lambda m: m.update(epoch=np.int64(-1)), "its epoch -1 is negative"),
    ("epoch past the run", lambda m: m.update(epoch=np.int64(2**62)), "outside 0..7"),
    ("w of rank 2", lambda m: m.update(w=m["w"].reshape(1, 1)), "its w is float32[1, 1]"),
    ("w float64", lambda m: m.update(w=m["w"].astype(np.float64)), "its w is float64[1], expected float32[1]"),
    ("w int", lambda m: m.update(w=np.int64([5])), "its w is int64[1]"),
    ("w complex", lambda m: m.update(w=m["w"].astype(np.complex64)), "dtype complex64 is not a state's"),
    ("rows_lr float32", lambda m: m.update(rows_lr=m["rows_lr"].astype(np.float32)), "its rows_lr is float32[1]"),
    ("rows_w short", lambda m: m.update(rows_w=m["rows_w"][:0]), "its rows_w is float32[0, 1]"),
    ("no rows_loss", lambda m: m.pop("rows_loss"), "expected ['digest', 'epoch'"),
    ("an extra member", lambda m: m.update(extra=np.int64(1)), "'extra'"),
    ("object dtype", lambda m: m.update(w=np.array([5.0], dtype=object)), "is unreadable or corrupt"),
]


@pytest.mark.parametrize(("damage", "words"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_state_inside_a_valid_container_is_refused(
    tmp_path: Path, damage: Callable[[dict[str, np.ndarray]], None], words: str
) -> None:
    directory = numpy_checkpoint(tmp_path)
    members = state_members(directory)
    damage(members)
    if any(value.dtype == object for value in members.values()):
        np.savez(directory / "state.npz", **members, allow_pickle=True)
    else:
        write_state(directory / "state.npz", members)
    before = snapshot(directory)
    for extra in (["--resume"], []):  # resumed, and a fresh run that reads the epoch to say the directory is taken
        result = main("run", "--mode", "numpy", *FLAGS, "--checkpoint-dir", str(directory), *extra, "--output", str(tmp_path / "o"))
        assert_refused(*result, "--checkpoint-dir", *([words] if extra else []))
    assert snapshot(directory) == before and not (tmp_path / "o").exists()


def test_a_state_whose_header_claims_more_than_it_holds_is_refused_before_allocating(tmp_path: Path) -> None:
    directory = numpy_checkpoint(tmp_path)
    lying = io.BytesIO()
    np.lib.format.write_array_header_1_0(lying, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)})  # 4 TB
    lying.write(np.float32([5.0]).tobytes())
    with zipfile.ZipFile(directory / "state.npz") as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members["w.npy"] = lying.getvalue()
    with zipfile.ZipFile(directory / "state.npz", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    result = main("run", "--mode", "numpy", *FLAGS, "--checkpoint-dir", str(directory), "--resume")
    assert_refused(*result, "--checkpoint-dir", "state.npz is unreadable or corrupt", "declares [1000000000000] float32")


# --- control characters in notices and errors


ESCAPED = [("run\n1", "run\\n1"), ("run\x1b[2J1", "run\\x1b[2J1"), ("run\u20281", "run\\u20281"), ("run\r1", "run\\r1")]


@pytest.mark.parametrize(("name", "escaped"), ESCAPED)
def test_control_characters_in_notices_stay_on_one_line(tmp_path: Path, name: str, escaped: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    stop_after(CONFIG, "numpy", 3, name)
    status, out, err = main("run", "--mode", "numpy", *FLAGS, "--checkpoint-dir", name, "--resume")
    assert status == 0 and len(out.splitlines()) == 3
    assert err == f"decaybench: resumed at epoch 3 from {escaped}\n", err
    fifo(Path(name) / MANIFEST)
    status, out, err = main("run", "--mode", "numpy", *FLAGS, "--checkpoint-dir", name, "--resume")
    assert_refused(status, out, err, "--checkpoint-dir", f"{escaped}/manifest.json is a FIFO")


def test_tensorflow_start_up_lines_are_replayed_escaped_on_error_and_never_on_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # TensorFlow's import can turn a Ctrl-C into another error (seen: a traceback "direct cause" KeyboardInterrupt, exit 1)
    pytest.importorskip("tensorflow")
    from decaybench.cli import runtime
    from decaybench.modes.distributed import training
    from decaybench.stopping import stop_on_signals

    def fails(interrupt: bool) -> Callable[[], None]:
        def setup_devices() -> None:
            os.write(2, b"C++ start-up\x1b[2J\n")
            if interrupt:
                with contextlib.suppress(KeyboardInterrupt):
                    signal.raise_signal(signal.SIGINT)
            raise ImportError("loading failed")

        return setup_devices

    with stop_on_signals():
        monkeypatch.setattr(training, "setup_devices", fails(interrupt=True))
        with pytest.raises(KeyboardInterrupt):
            runtime.load_tensorflow()
    assert capfd.readouterr().err == ""
    monkeypatch.setattr(training, "setup_devices", fails(interrupt=False))
    with pytest.raises(ImportError):
        runtime.load_tensorflow()
    assert capfd.readouterr().err == "C++ start-up\\x1b[2J\n"


# --- exact_update: what eager TensorFlow refuses, refused naming the argument


def test_exact_update_refuses_non_floating_and_mixed_dtypes_as_eager_does() -> None:
    tf = pytest.importorskip("tensorflow")
    from decaybench.modes.exact import exact_update
    from decaybench.validation import InvalidType

    w32, lr32, g32 = tf.constant([1.0]), tf.constant(0.5), tf.constant([2.0])
    cases = [
        ("w", tf.constant([3]), lr32, tf.constant([2])),  # the table's: integer w, float lr tensor
        ("w", tf.constant([3]), 0.5, tf.constant([2])),
        ("lr", w32, tf.constant(0.5, tf.float64), g32),
        ("lr", w32, tf.constant(1), g32),
        ("g", w32, lr32, tf.constant([2.0], tf.float16)),
        ("g", w32, lr32, "two"),
        ("one", w32, lr32, g32),
    ]
    for argument, w, lr, g in cases:
        one = tf.constant(1.0, tf.float64) if argument == "one" else None
        with pytest.raises(InvalidType) as refused:
            exact_update(w, lr, g, one)
        assert refused.value.argument == argument and len(str(refused.value).splitlines()) == 1, str(refused.value)
        if argument != "one":
            with pytest.raises((TypeError, ValueError, AttributeError, tf.errors.InvalidArgumentError)):
                w - lr * g  # eager TensorFlow refuses it too
    # what eager accepts, exact_update accepts: numbers and NumPy values convert to w's dtype
    assert (
        exact_update(w32, np.float64(0.5), np.array([2.0])).numpy().tolist() == (w32 - np.float64(0.5) * np.array([2.0])).numpy().tolist()
    )
    assert exact_update(tf.Variable([1.0], dtype=tf.float64), 0.25, 2).dtype == tf.float64


# --- NaN payloads: bit for bit is bits

X86_NAN = np.array([0xFFC00000], np.uint32).view(np.float32)  # x86's default NaN: sign set
PAYLOAD_NAN = np.array([0x7FC00001], np.uint32).view(np.float32)


def test_nan_payloads_are_told_apart_where_the_promise_is_bit_for_bit(tmp_path: Path) -> None:
    def loop(nan: np.ndarray) -> Callable[[int, Path, bool], dict[str, np.ndarray]]:
        def train(epochs: int, directory: Path, resume: bool) -> dict[str, np.ndarray]:
            w = np.concatenate([np.float32([1.0, 2.0]), X86_NAN if not resume else nan])
            return {"w": w[: max(epochs, 3)]}

        return train

    check_resume(loop(X86_NAN), 5, 2, tmp_path / "same")
    with pytest.raises(ResumeMismatch, match=r"index 2: nan \(bits 0xffc00000\) whole, nan \(bits 0x7fc00001\) resumed"):
        check_resume(loop(PAYLOAD_NAN), 5, 2, tmp_path / "other")

    trace = Trace([0], [X86_NAN], [1.0], [0.2], DecayConfig(epochs=1), "eager")
    assert trace.identical(Trace([0], [X86_NAN.copy()], [1.0], [0.2], DecayConfig(epochs=1), "numpy"))
    assert not trace.identical(Trace([0], [PAYLOAD_NAN], [1.0], [0.2], DecayConfig(epochs=1), "eager"))
    assert not same_bits(np.float64([0.0]), np.float64([-0.0])).any()

    golden = GoldenTrace(tmp_path / "golden", "nan", update=True, summary=[])
    golden.check({"w": np.concatenate([X86_NAN, PAYLOAD_NAN])})
    stored = golden.path_for().read_text()
    assert '"NaN:0xffc00000"' in stored and '"NaN:0x7fc00001"' in stored
    golden.update = False
    golden.check({"w": np.concatenate([X86_NAN, PAYLOAD_NAN])})  # stored and read back bit for bit
    with pytest.raises(pytest.fail.Exception, match=r"w\[1\] is nan \(bits 0x7fc00000\), golden nan \(bits 0x7fc00001\)"):
        golden.check({"w": np.concatenate([X86_NAN, np.float32([np.nan])])})
    golden.check({"w": np.concatenate([X86_NAN, np.float32([np.nan])])}, maxulp=1)  # a bound: NaNs alike, as documented


# --- permissions, for real: the kernel refuses an unprivileged user


def test_unreadable_and_unwritable_paths_are_refused_as_an_unprivileged_user() -> None:
    with owned_directory() as home:
        directory = home / "run"
        stop_after(CONFIG, "numpy", 3, directory)
        for path in (home, directory, *directory.iterdir()):
            os.chown(path, home.stat().st_uid, home.stat().st_gid)
        (directory / MANIFEST).chmod(0o000)
        before = snapshot(directory)
        unreadable = run_cli("run", "--mode", "numpy", *FLAGS, "--checkpoint-dir", str(directory), "--resume")
        (directory / MANIFEST).chmod(0o644)
        locked = home / "locked"
        locked.mkdir()
        os.chown(locked, home.stat().st_uid, home.stat().st_gid)
        locked.chmod(0o555)
        unwritable = run_cli("run", "--mode", "numpy", *FLAGS, "--output", str(locked / "trace.txt"))
        assert list(locked.iterdir()) == []
        (directory / MANIFEST).chmod(0o000)
        assert snapshot(directory) == before
    assert_refused(unreadable.returncode, unreadable.stdout, unreadable.stderr, "--checkpoint-dir", "cannot be read (Permission denied)")
    assert_refused(unwritable.returncode, unwritable.stdout, unwritable.stderr, "--output", "is not writable")


def test_a_file_swapped_for_a_fifo_between_check_and_open_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The check saw a regular file; by the open, a FIFO took its place (stat reports the file it saw).
    import decaybench.reading as reading

    regular = tmp_path / "regular"
    regular.write_text("{}")
    fifo(tmp_path / "manifest.json")
    real_stat = os.stat
    monkeypatch.setattr(
        reading.os, "stat", lambda path, *args, **kwargs: real_stat(regular) if str(path).endswith(MANIFEST) else real_stat(path)
    )
    with pytest.raises(reading.UnreadableInput, match="is a FIFO, not a regular file \\(it changed while being opened\\)"):
        reading.read_json(tmp_path / MANIFEST, argument="checkpoint_dir")
