"""The supervisor-worker protocol: messages, jobs and the trace file, without starting a worker."""

from __future__ import annotations

from pathlib import Path

from decaybench.config import DecayConfig
from decaybench.modes.distributed import protocol
from decaybench.modes.emulation import emulate


def test_messages_round_trip_and_chatter_is_no_message() -> None:
    assert protocol.parse(protocol.message(protocol.STAGE, protocol.READY)) == ("stage", ["ready"])
    assert protocol.parse(protocol.message(protocol.DONE, 2, "ab12")) == ("done", ["2", "ab12"])
    assert protocol.parse(protocol.message(protocol.ERROR, 2, "ValueError", "a b  c")) == ("error", ["2", "ValueError", "a b  c"])
    assert protocol.parse("oneDNN custom operations are on") is None


def test_a_job_round_trips_through_its_line() -> None:
    job = protocol.Job(7, DecayConfig(staircase=True, decay_steps=5, size=3), Path("/tmp/run7.npz"))
    line = job.line()
    assert line.endswith("\n") and line.count("\n") == 1
    assert protocol.Job.from_line(line) == job


def test_the_trace_file_round_trips_bit_for_bit(tmp_path: Path) -> None:
    config = DecayConfig(epochs=5, size=3)
    trace = emulate(config)
    path = tmp_path / "run1.npz"
    protocol.save_trace(trace, path)
    back = protocol.load_trace(path, config, "multiworker")
    assert back.identical(trace) and back.digest() == trace.digest() and back.mode == "multiworker"
    assert [p.name for p in tmp_path.iterdir()] == ["run1.npz"]


def test_the_worker_command_names_the_worker_module_and_every_flag() -> None:
    command = protocol.worker_command(protocol.MULTIWORKER, 1, 1234, 2, 10.0)
    assert command[1:3] == ["-m", "decaybench.modes.distributed.local_worker"]
    assert command[3:] == [
        "--role",
        "multiworker",
        "--index",
        "1",
        "--parent-pid",
        "1234",
        "--intra-op-threads",
        "2",
        "--collective-seconds",
        "10.0",
    ]
