"""Robustness: every bad input refused clearly, through the API and the CLI; no partial files."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from decaybench import cli
from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.schedule import exponential_decay
from decaybench.validation import ArgumentError
from tests.unprivileged import owned_directory, run_cli

HUGE_EPOCHS = 10**13  # 10**13 rows of 24 bytes: far beyond any machine's memory
INT64_MAX = 2**63 - 1

# (API argument, bad value): each must be refused by DecayConfig / run with the argument and value named.
API_CASES: list[tuple[str, Any]] = [
    ("decay_rate", 0.0),
    ("decay_rate", -0.5),
    ("decay_rate", math.nan),
    ("decay_rate", math.inf),
    ("decay_rate", "fast"),
    ("decay_rate", None),
    ("decay_steps", 0),
    ("decay_steps", -2),
    ("decay_steps", 1.5),
    ("decay_steps", True),
    ("decay_steps", "3"),
    ("initial_learning_rate", -0.1),
    ("initial_learning_rate", math.nan),
    ("initial_learning_rate", math.inf),
    ("epochs", -3),
    ("epochs", 2.5),
    ("epochs", HUGE_EPOCHS),
    ("w0", math.nan),
    ("w0", math.inf),
    ("w0", -math.inf),
    ("size", 0),
    ("size", -1),
    ("size", 2.0),
    ("dtype", "float16"),
    ("dtype", "int32"),
    ("staircase", "yes"),
    ("record_every", 0),
    ("steps_per_epoch", 0),
    ("steps_per_epoch", -2),
    ("transition_begin", -1),
    ("transition_begin", 2.5),
    ("transition_begin", True),
    ("end_value", math.nan),
    ("end_value", -1.0),
    ("end_value", math.inf),
    ("mode", "warp"),
    # Integers past int64, which no mode can count to: refused by validation, never an OverflowError later.
    ("epochs", 2**63),
    ("epochs", np.uint64(2**63)),
    ("decay_steps", 10**30),
    ("record_every", 10**30),
    ("size", 2**63),
    ("steps_per_epoch", 2**64),
    ("transition_begin", 2**63),
    # Numbers past float64: infinite, so refused by each rule (not an OverflowError from float()).
    ("decay_rate", 10**400),
    ("initial_learning_rate", 10**400),
    ("w0", -(10**400)),
    ("end_value", 10**400),
    # In int64, but more memory than any machine has.
    ("epochs", INT64_MAX),
    ("size", 2**40),
]


@pytest.mark.parametrize(("argument", "value"), API_CASES)
def test_api_refuses_bad_input_naming_argument_and_value(argument: str, value: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as raised:
        if argument == "mode":
            run(DecayConfig(epochs=1), mode=value)
        else:
            run(DecayConfig(**{argument: value}))
    assert isinstance(raised.value, ArgumentError) and raised.value.argument == argument
    assert argument in str(raised.value) and repr(value) in str(raised.value)


def test_too_many_epochs_are_refused_with_the_bytes_needed_before_running() -> None:
    # 10**13 rows: three trace copies of 24 bytes and the Recorder's 800 bytes of NumPy objects each (decaybench.memory).
    with pytest.raises(ValueError, match=r"needs 10,760,000,000,000,000 bytes .* record_every \(--record-every\)"):
        run(DecayConfig(epochs=HUGE_EPOCHS))
    # The same run, recorded every 10**9 epochs, fits: it is refused for nothing but memory.
    assert DecayConfig(epochs=HUGE_EPOCHS, record_every=10**9).trace_bytes < 10**6


# (CLI arguments, the flag the one-line error must name, the value it must show).
CLI_CASES: list[tuple[list[str], str, str]] = [
    (["run", "--decay-rate", "0"], "--decay-rate", "0"),
    (["run", "--decay-rate", "-1"], "--decay-rate", "-1"),
    (["run", "--decay-rate", "nan"], "--decay-rate", "nan"),
    (["run", "--decay-rate", "inf"], "--decay-rate", "inf"),
    (["run", "--decay-rate", "fast"], "--decay-rate", "fast"),
    (["run", "--decay-steps", "0"], "--decay-steps", "0"),
    (["run", "--decay-steps", "-2"], "--decay-steps", "-2"),
    (["run", "--decay-steps", "1.5"], "--decay-steps", "1.5"),
    (["run", "--decay-steps", "True"], "--decay-steps", "True"),
    (["run", "--initial-lr", "-0.1"], "--initial-lr", "-0.1"),
    (["run", "--initial-lr", "nan"], "--initial-lr", "nan"),
    (["run", "--initial-lr", "inf"], "--initial-lr", "inf"),
    (["run", "--epochs", "-3"], "--epochs", "-3"),
    (["run", "--epochs", "2.5"], "--epochs", "2.5"),
    (["run", "--epochs", str(HUGE_EPOCHS)], "--epochs", str(HUGE_EPOCHS)),
    (["run", "--w0", "nan"], "--w0", "nan"),
    (["run", "--w0", "inf"], "--w0", "inf"),
    (["run", "--size", "0"], "--size", "0"),
    (["run", "--size", "-1"], "--size", "-1"),
    (["run", "--record-every", "0"], "--record-every", "0"),
    (["run", "--mode", "warp"], "--mode", "warp"),
    (["run", "--dtype", "float16"], "--dtype", "float16"),
    (["run", "--format", "xml"], "--format", "xml"),
    (["verify", "--format", "csv"], "--format", "csv"),
    (["verify", "--decay-rate", "0"], "--decay-rate", "0"),
    (["run", "--transition-begin", "-1"], "--transition-begin", "-1"),
    (["run", "--transition-begin", "2.5"], "--transition-begin", "2.5"),
    (["run", "--transition-begin", "true"], "--transition-begin", "true"),
    (["run", "--end-value", "nan"], "--end-value", "nan"),
    (["run", "--end-value", "-1"], "--end-value", "-1"),
    (["run", "--end-value", "inf"], "--end-value", "inf"),
    (["run", "--steps-per-epoch", "0"], "--steps-per-epoch", "0"),
    (["run", "--steps-per-epoch", "-2"], "--steps-per-epoch", "-2"),
    (["run", "--mode", "xla", "--steps-per-epoch", "2"], "--steps-per-epoch", "2"),
    (["frobnicate"], "COMMAND", "frobnicate"),
    # Integers past int64: refused before TensorFlow sees them (it would raise an out-of-range error).
    (["run", "--mode", "graph", "--decay-steps", str(10**30)], "--decay-steps", str(10**30)),
    (["run", "--mode", "numpy", "--epochs", str(10**30), "--record-every", str(10**30)], "--epochs", str(10**30)),
    (["run", "--mode", "xla", "--record-every", str(10**30)], "--record-every", str(10**30)),
    (["run", "--mode", "xla", "--epochs", str(2**63)], "--epochs", str(2**63)),
    (["run", "--size", str(2**63)], "--size", str(2**63)),
    (["run", "--transition-begin", str(2**63)], "--transition-begin", str(2**63)),
    (["run", "--mode", "fit", "--steps-per-epoch", str(2**64)], "--steps-per-epoch", str(2**64)),
    (["verify", "--decay-steps", str(2**63)], "--decay-steps", str(2**63)),
    (["plot", "--epochs", str(10**19)], "--epochs", str(10**19)),
    (["run", "--decay-rate", "1e400"], "--decay-rate", "inf"),
    # The memory check counts what each path allocates: the numpy mode's per-epoch schedule,
    # verify's oracle (one mpmath row per epoch, whatever record_every), wide rows, plot.
    (["run", "--mode", "numpy", "--epochs", "10000000000", "--record-every", "1000000000"], "--epochs", "needs 800,000,000,"),
    (["verify", "--epochs", "1000000000000"], "--epochs", "1000000000000"),
    (["verify", "--epochs", "1000000000000", "--record-every", "1000000000000"], "--epochs", "run fewer epochs"),
    (["run", "--mode", "xla", "--size", "100000000000"], "--size", "use a smaller size"),
    (["run", "--mode", "graph", "--epochs", str(INT64_MAX)], "--epochs", "record fewer with record_every"),
    (["plot", "--epochs", "10000000000000"], "--epochs", "to plot modes"),
    # Empty paths name their flag, rather than meaning stdout or the default directory.
    (["run", "--output", ""], "--output", "the path is empty"),
    (["verify", "--output", ""], "--output", "the path is empty"),
    (["bench", "--output", ""], "--output", "the path is empty"),
    (["golden", "--update", "--dir", ""], "--dir", "the path is empty"),
    (["golden", "--dir", ""], "--dir", "the path is empty"),
    # Control characters in argv stay on one line, escaped.
    (["run", "--bogus\nflag"], "--bogus\\nflag", "unrecognized arguments"),
    (["run", "--mode", "warp\nspeed"], "--mode", "warp\\nspeed"),
    (["golden", "--dir", "no\nsuch\rdir"], "no\\nsuch\\rdir", "golden file is missing"),
    # Checkpoints (more in tests/test_checkpoint.py: a directory of another run, corrupt, unwritable).
    (["run", "--resume"], "--resume", "needs a checkpoint directory"),
    (["run", "--checkpoint-every", "3"], "--checkpoint-every", "needs a checkpoint directory"),
    (["run", "--checkpoint-dir", "never-made", "--checkpoint-every", "0"], "--checkpoint-every", "0"),
    (["run", "--checkpoint-dir", "never-made", "--checkpoint-every", "-2"], "--checkpoint-every", "-2"),
    (["run", "--checkpoint-dir", "no-such-run", "--resume"], "--checkpoint-dir", "no-such-run"),
]


@pytest.mark.parametrize(("args", "flag", "value"), CLI_CASES)
def test_cli_refuses_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], flag: str, value: str
) -> None:
    output = tmp_path / "out"
    has_output = "--output" in args or args[0] not in ("run", "verify", "plot")
    status = cli.main(args if has_output else [*args, "--output", str(output)])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert flag in captured.err and value in captured.err and "Traceback" not in captured.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["missing-dir/out.txt", "."])
def test_cli_refuses_an_output_it_cannot_write(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    status = cli.main(["run", "--epochs", "2", "--output", str(tmp_path / where)])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == "" and len(captured.err.strip().splitlines()) == 1 and "--output" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda path: path.unlink(), "seed_documented.txt: golden file is missing"),
        (lambda path: path.write_text("\n".join(path.read_text().splitlines()[:9]) + "\n"), "seed_documented.txt:9: truncated"),
        (lambda path: path.write_text(path.read_text().replace("w is 1.174400", "w is 1.17")), "seed_documented.txt:2: not a seed line"),
    ],
)
def test_cli_names_the_golden_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: Any, message: str) -> None:
    from decaybench.golden import DOCUMENTED, golden_dir

    (tmp_path / DOCUMENTED).write_text((golden_dir() / DOCUMENTED).read_text())
    damage(tmp_path / DOCUMENTED)
    status = cli.main(["golden", "--dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == "" and message in captured.err and len(captured.err.strip().splitlines()) == 1


def test_a_diverging_run_says_so_on_stderr_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["run", "--initial-lr", "0.9", "--decay-rate", "1.05", "--epochs", "30"])
    captured = capsys.readouterr()
    assert status == 0
    assert len(captured.out.splitlines()) == 30
    assert captured.err.strip().splitlines()[-1] == "decaybench: diverged at epoch 3"


def test_reference_refuses_bad_steps_naming_them() -> None:
    with pytest.raises(ValueError, match=r"step must be >= 0, got -7"):
        exponential_decay(-7, 0.2, 1, 0.99)


# --- The reference and the Keras class agree on every input either accepts (or both refuse it, naming the step).

SCHEDULE = (0.2, 1, 0.99)
STEPS: list[Any] = [
    0,
    7,
    0.1,
    7.3,
    math.inf,
    INT64_MAX,
    np.uint64(INT64_MAX),
    np.uint64(2**63),
    np.uint64(2**64 - 1),
    2**63,
    10**30,
    np.float16(3.5),
    np.float32(1e30),
    np.longdouble(2.25),
    np.array([1, 2, 2**40], dtype=np.uint64),
    np.array([3, 2**63], dtype=np.uint64),
    np.array([0.5, np.inf]),
    -1,
    math.nan,
    True,
]


def _outcome(compute: Any) -> Any:
    try:
        value = compute()
    except (ValueError, TypeError) as error:
        assert isinstance(error, ArgumentError) and error.argument == "step", error
        return ("refused", str(error))
    return np.asarray(value, dtype=np.float64).tolist()


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("step", STEPS, ids=repr)
def test_reference_and_keras_class_agree_or_both_refuse(step: Any, staircase: bool) -> None:
    from decaybench.schedule import ExponentialDecay

    keras = ExponentialDecay(*SCHEDULE, staircase=staircase, dtype="float64")
    reference = _outcome(lambda: exponential_decay(step, *SCHEDULE, staircase=staircase))
    assert _outcome(lambda: keras(step).numpy()) == reference
    if isinstance(reference, tuple):
        assert "must be >= 0" in reference[1] or "largest int64" in reference[1] or "must be an int" in reference[1]
        assert "-9223372036854775808" not in reference[1]  # a uint64 step is never reported as negative


def test_huge_steps_give_the_documented_limits() -> None:
    assert exponential_decay(math.inf, 0.2, 1, 0.99, staircase=True) == 0.0
    assert exponential_decay(math.inf, 0.2, 3, 1.01, staircase=True) == math.inf
    assert exponential_decay(math.inf, 0.2, 3, 1.0, staircase=True) == 0.2
    assert exponential_decay(np.uint64(INT64_MAX), 0.2, 1, 0.99) == 0.0


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda: exponential_decay(np.arange(3), 0.1, 10**30, 0.96, staircase=True), "decay_steps"),
        (lambda: exponential_decay(3, 0.1, 3, 0.96, transition_begin=2**63), "transition_begin"),
        (lambda: exponential_decay(3, 10**400, 3, 0.96), "initial_learning_rate"),
        (lambda: DecayConfig(decay_rate=10**400), "decay_rate"),
        (lambda: DecayConfig(w0=10**400), "w0"),
    ],
)
def test_api_overflow_is_a_named_invalid_value(make: Any, argument: str) -> None:
    with pytest.raises(ValueError) as raised:
        make()
    assert isinstance(raised.value, ArgumentError) and raised.value.argument == argument


def test_keras_class_refuses_past_int64_at_construction() -> None:
    from decaybench.schedule import ExponentialDecay

    for arguments in [(0.2, 10**30, 0.99), (0.2, 2**63, 0.99)]:
        with pytest.raises(ValueError, match="decay_steps must be at most 9223372036854775807"):
            ExponentialDecay(*arguments)
    with pytest.raises(ValueError, match="transition_begin must be at most"):
        ExponentialDecay(0.2, 1, 0.99, transition_begin=2**63)


# --- The memory check, through the API: refused before any work, with the bytes needed.


def test_numpy_mode_counts_its_per_epoch_arrays() -> None:
    from decaybench.memory import footprint

    sparse = DecayConfig(epochs=10**10, record_every=10**9)
    with pytest.raises(ValueError, match=r"epochs needs 800,000,000,\d{3} bytes to run mode numpy"):
        run(sparse, "numpy")
    # The same configuration keeps 12 rows in a compiled mode: it is refused in numpy for its per-epoch arrays alone.
    assert footprint(sparse, ["xla"]).total < 10**4


def test_verify_plot_and_sweep_are_refused_before_any_work() -> None:
    from decaybench.plot import run_modes
    from decaybench.sweep import run_sweep
    from decaybench.verify import verify

    huge = DecayConfig(epochs=10**12, record_every=10**12)
    with pytest.raises(ValueError, match=r"epochs needs .* bytes to verify .*run fewer epochs, got 1000000000000"):
        verify(huge)
    with pytest.raises(ValueError, match=r"epochs needs .* bytes to plot mode numpy"):
        run_modes(huge, ["numpy"])
    with pytest.raises(ValueError, match=r"configs needs .* bytes for their traces"):
        run_sweep([DecayConfig(epochs=10**10)] * 10)


# --- Outputs: only regular files and missing paths are replaced.


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(args)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and len(captured.err.strip().splitlines()) <= 1, captured.err
    return status, captured.out, captured.err


def test_output_to_dev_full_is_the_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    status, out, err = _cli(["run", "--epochs", "2", "--output", "/dev/full"], capsys)
    assert status == 2 and out == "" and "--output: cannot write '/dev/full': No space left on device" in err


def test_output_to_a_character_device_is_written_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    for target in ("/dev/null", str(link)):
        status, _, err = _cli(["run", "--epochs", "2", "--output", target], capsys)
        assert status == 0, err
    assert Path("/dev/null").is_char_device() and link.is_symlink()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["null"]


def test_output_to_a_fifo_is_written_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import stat
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    status, _, err = _cli(["run", "--epochs", "2", "--output", str(fifo)], capsys)
    reader.join(timeout=60)
    assert status == 0, err
    assert received[0].startswith("After 0 epoch,w is 2.600000") and stat.S_ISFIFO(fifo.stat().st_mode)


def test_output_to_a_socket_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket
    import stat

    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        status, out, err = _cli(["run", "--epochs", "2", "--output", str(path)], capsys)
    assert status == 2 and out == "" and f"--output: cannot write {str(path)!r}" in err
    assert stat.S_ISSOCK(path.stat().st_mode)


def test_output_through_a_symlink_writes_the_target_and_keeps_the_link(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "real.txt").write_text("old\n")
    (tmp_path / "link").symlink_to("real.txt")
    (tmp_path / "dangling").symlink_to("created.txt")
    for name in ("link", "dangling"):
        status, _, err = _cli(["run", "--epochs", "2", "--output", str(tmp_path / name)], capsys)
        assert status == 0, err
    assert (tmp_path / "link").is_symlink() and (tmp_path / "dangling").is_symlink()
    assert (tmp_path / "real.txt").read_text().startswith("After 0 epoch") and (tmp_path / "created.txt").read_text().count("\n") == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["created.txt", "dangling", "link", "real.txt"]


# --- Golden files: corrupted, half-updated, or in a directory that cannot be written.


def _golden_dir(tmp_path: Path) -> Path:
    from decaybench.golden import DOCUMENTED, TRACE_JSON, TRACE_TEXT, golden_dir

    for name in (DOCUMENTED, TRACE_TEXT, TRACE_JSON):
        (tmp_path / name).write_bytes((golden_dir() / name).read_bytes())
    return tmp_path


def _set_json(field: str, value: Any) -> Any:
    def damage(path: Path) -> None:
        import json

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
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, name: str, damage: Any, message: str
) -> None:
    from decaybench.golden import GoldenError, read_documented, read_golden_trace

    directory = _golden_dir(tmp_path)
    damage(directory / name)
    with pytest.raises(GoldenError, match=r"\.(txt|json):\d+: ") as raised:
        read_documented(directory)
        read_golden_trace(directory)
    assert message in str(raised.value) and str(directory / name) in str(raised.value)
    before = {path.name: path.read_bytes() for path in directory.iterdir()}
    status, out, err = _cli(["golden", "--dir", str(directory)], capsys)
    assert status == 2 and out == "" and message in err
    assert {path.name: path.read_bytes() for path in directory.iterdir()} == before


@pytest.mark.parametrize("broken", ["seed_trace.json", "seed_trace.txt"])
def test_golden_update_over_an_unreadable_file_rewrites_the_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str], broken: str) -> None:
    from decaybench.golden import golden_dir, read_golden_trace

    directory = _golden_dir(tmp_path)
    (directory / broken).write_bytes(b"\xff\xfe not UTF-8\n")
    status, out, err = _cli(["golden", "--update", "--dir", str(directory)], capsys)
    assert status == 0, err
    assert (
        "the old golden trace is invalid, treated as absent" in out and f"{directory / broken}: replaced a file that was not UTF-8" in out
    )
    assert read_golden_trace(directory).identical(read_golden_trace(golden_dir()))


def test_golden_update_checks_both_files_before_writing_either(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = _golden_dir(tmp_path)
    (directory / "seed_trace.txt").write_text("an old text twin\n")
    (directory / "seed_trace.json").unlink()
    (directory / "seed_trace.json").mkdir()  # cannot be replaced by a file
    status, out, err = _cli(["golden", "--update", "--dir", str(directory)], capsys)
    assert status == 2 and out == "" and "--dir: cannot write" in err and "seed_trace.json" in err and "it is a directory" in err
    assert (directory / "seed_trace.txt").read_text() == "an old text twin\n"


def test_golden_update_in_a_read_only_directory_names_dir() -> None:
    # For real: its owner, unprivileged, may not write a 0555 directory (root would).
    with owned_directory() as directory:
        _golden_dir(directory)
        directory.chmod(0o555)
        before = {path.name: path.read_bytes() for path in directory.iterdir()}
        done = run_cli("golden", "--update", "--dir", str(directory))
        assert {path.name: path.read_bytes() for path in directory.iterdir()} == before
    err = done.stderr
    assert (
        done.returncode == 2 and done.stdout == "" and err.startswith("decaybench: error: --dir: cannot write") and "is not writable" in err
    )


# --- Ctrl-C ends a long compiled run within about a second of work (decaybench.modes.chunks).

# The real command line, in a process of its own; it says on stdout when its third chunk has
# returned (traced, compiled, computing), so that the SIGINT lands in the middle of the work.
ANNOUNCED_RUN = """
import sys
from decaybench.cli import commands, main

real_load = commands.load_tensorflow

def load_then_announce(*args):
    real_load(*args)  # TensorFlow's start-up logging held back as usual, then the runner wrapped
    from decaybench.modes import compiled

    real = compiled.run_chunked

    def announcing(config, mode, chunk, progress, checkpoint):
        calls = []

        def counted(*chunk_args):
            result = chunk(*chunk_args)
            calls.append(1)
            if len(calls) == 3:  # every row count compiled (XLA: 1 row, then 0), the loop running
                print("COMPUTING", flush=True)
            return result

        return real(config, mode, counted, progress, checkpoint)

    compiled.run_chunked = announcing

commands.load_tensorflow = load_then_announce
sys.exit(main(sys.argv[1:]))
"""


# TensorFlow's C++ log lines. TF 2.15's XLA logs through absl whatever TF_CPP_MIN_LOG_LEVEL: its
# first compile writes "WARNING: All log messages before absl::InitializeLog()...", an "I0000 ...
# Compiled cluster using XLA!" line and an "E external/... SetPriority unimplemented" line (measured
# at levels 2 and 3; TF 2.16 and later write none). They are TensorFlow's, not decaybench's.
TF_CPP_LOG = re.compile(
    r"WARNING: All log messages before absl::InitializeLog"  # absl's preamble
    r"|[IWEF]\d{4} \d\d:\d\d:\d\d"  # absl: I0000 00:00:1795978846.119953 ...
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "  # TensorFlow: 2026-11-29 19:00:46.123356: E ...
)


@pytest.mark.parametrize("mode", ["graph", "xla"])
def test_ctrl_c_ends_a_long_compiled_run_quickly(tmp_path: Path, mode: str) -> None:
    import os
    import select
    import signal
    import subprocess
    import sys
    import time

    output = tmp_path / "trace.txt"
    huge = str(10**12)  # days of work; two recorded rows, so the memory check lets it start
    argv = ["run", "--mode", mode, "--epochs", huge, "--record-every", huge, "--output", str(output)]
    process = subprocess.Popen(
        [sys.executable, "-c", ANNOUNCED_RUN, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    try:
        assert process.stdout is not None
        started, _, _ = select.select([process.stdout], [], [], 180)
        assert started and process.stdout.readline().strip() == "COMPUTING", "no third chunk in 180 s: the loop is not chunked"
        time.sleep(0.5)  # well inside the loop
        assert process.stderr is not None and process.poll() is None
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        # The run stops at the end of its chunk (~0.25 s of work) and says so; the process then takes
        # a second or two more to exit, TensorFlow's own teardown, which no chunking shortens.
        said = ""
        while not said and time.monotonic() - sent < 10:
            ready, _, _ = select.select([process.stderr], [], [], 10 - (time.monotonic() - sent))
            line = process.stderr.readline() if ready else ""
            said = line if not TF_CPP_LOG.match(line) else ""
            if not line:
                break
        elapsed = time.monotonic() - sent
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    err = "".join(line for line in err.splitlines(keepends=True) if not TF_CPP_LOG.match(line))
    assert said == "decaybench: interrupted\n" and err == "", said + err
    assert elapsed < 2.0, f"{mode} took {elapsed:.2f} s to stop"
    assert process.returncode == 130 and out == ""
    assert list(tmp_path.iterdir()) == []
