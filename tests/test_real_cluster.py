"""A real cluster behaves like the local one: every case runs real hosts, each its own process and TF_CONFIG.

Short limits (startup 5 to 10 s, collective 3 s) keep every case within seconds of its hosts'
TensorFlow import; faults are injected with DECAYBENCH_WORKER_FAULT (decaybench/test_hooks.py).
Times are asserted from the moment the test sees the faulty host end (or from the start of the
wait), with slack for 2 loaded cores plus the lateness measured meanwhile (tests/conftest.py, Lateness).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from numpy.testing import assert_array_equal

from decaybench import Trace
from decaybench.config import DecayConfig
from decaybench.modes.distributed import agreement, tf_config
from decaybench.modes.emulation import emulate
from decaybench.test_hooks import WORKER_FAULT
from decaybench.validation import InvalidValue
from tests.real_hosts import ROOT, Hosts, Result

if TYPE_CHECKING:
    from tests.conftest import Command, Lateness

SLACK_SECONDS = 5.0
COLLECTIVE = 3.0
LONG = ["--epochs", "20000", "--collective-timeout", str(COLLECTIVE), "--startup-timeout", "60"]


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    cluster = Hosts()
    try:
        yield cluster
    finally:
        cluster.close()


def one_line(result: Result) -> str:
    lines = result.lines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return lines[0]


# ---- TF_CONFIG, checked before TensorFlow loads -----------------------------------------------------

BAD = {
    "malformed JSON": ("{'cluster': ", "is not valid JSON"),
    "unknown task type": ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "ps", "index": 0}}', "task type 'ps' is unknown"),
    "index out of range": (
        '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 1}}',
        "task index 1 is out of range",
    ),
    "duplicate addresses": (
        '{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}',
        "lists one address twice, worker 0 (127.0.0.1:1) and worker 1 (127.0.0.1:1)",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_tf_config_is_refused_in_one_line(decaybench: Command, case: str) -> None:
    raw, problem = BAD[case]
    with pytest.raises(InvalidValue, match="TF_CONFIG"):
        tf_config.parse(raw)
    completed = decaybench("run", "--mode", "multiworker", env={**os.environ, "TF_CONFIG": raw}, cwd=ROOT, timeout=60)
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.count("\n") == 1 and completed.stderr.startswith("decaybench: error: TF_CONFIG: "), completed.stderr
    assert problem in completed.stderr


def test_a_chief_task_comes_first() -> None:
    spec = tf_config.parse('{"cluster": {"chief": ["c:1"], "worker": ["w:2", "w:3"]}, "task": {"type": "worker", "index": 1}}')
    assert (spec.rank, spec.size, spec.name(0), spec.name(2)) == (2, 3, "chief 0 (c:1)", "worker 1 (w:3)")


@pytest.mark.parametrize("command", ["verify", "plot"])
def test_one_machine_commands_refuse_tf_config_in_one_line(decaybench: Command, command: str, tmp_path: Path) -> None:
    raw = tf_config_for(["127.0.0.1:9"], 0)
    completed = decaybench(command, "--output", str(tmp_path / "out"), env={**os.environ, "TF_CONFIG": raw}, cwd=ROOT, timeout=60)
    assert (completed.returncode, completed.stdout) == (2, "")
    assert completed.stderr == (
        f"decaybench: error: TF_CONFIG: is set, but {command} runs on this machine only: unset it "
        f"(multiworker then starts local workers), got {raw!r}\n"
    )
    assert list(tmp_path.iterdir()) == []


def tf_config_for(addresses: list[str], index: int) -> str:
    return json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})


# ---- a healthy cluster: agreement, outputs ------------------------------------------------------------


def test_three_hosts_agree_and_the_chief_writes_unless_told(hosts: Hosts, tmp_path: Path) -> None:
    outputs = [tmp_path / f"host{index}.json" for index in range(3)]
    hosts.start(
        3,
        ["--size", "7", "--epochs", "5", "--format", "json", "--startup-timeout", "90"],
        per_host={0: ["--output", str(outputs[0])], 1: ["--output", str(outputs[1]), "--output-all"], 2: ["--output", str(outputs[2])]},
    )
    results = hosts.wait_all()
    assert [result.returncode for result in results.values()] == [0, 0, 0], [r.stderr[-2000:] for r in results.values()]
    assert outputs[0].read_text() == outputs[1].read_text() and not outputs[2].exists()  # host 2 was not told
    assert "worker 2 (127.0.0.1:" in one_line(results[2]) and "the chief writes it" in results[2].stderr
    trace = Trace.from_json(outputs[0].read_text())
    config = DecayConfig(size=7, epochs=5)
    assert_array_equal(trace.w, emulate(config).w)  # w is exact for any number of replicas


def test_hosts_that_disagree_all_exit_2_naming_the_field(hosts: Hosts) -> None:
    addresses = hosts.start(2, ["--size", "3", "--epochs", "3", "--startup-timeout", "90"], per_host={1: ["--initial-lr", "0.21"]})
    for result in hosts.wait_all().values():
        assert result.returncode == 2 and result.stdout == ""
        line = one_line(result)
        assert line == (
            f"decaybench: error: multiworker: the hosts disagree on initial_learning_rate (--initial-lr): "
            f"0.2 on worker 0 ({addresses[0]}), 0.21 on worker 1 ({addresses[1]})"
        )


def test_the_first_differing_field_is_named_and_versions_count() -> None:
    mine = agreement.fields(DecayConfig(epochs=40), "multiworker", "2.21.0")
    assert agreement.first_difference({0: mine, 1: agreement.fields(DecayConfig(epochs=41, size=11), "multiworker", "2.21.0")}) == (
        "epochs",
        0,
        "40",
        1,
        "41",
    )
    assert agreement.first_difference({0: mine, 1: agreement.fields(DecayConfig(epochs=40), "multiworker", "2.20.0")})[0] == "tensorflow"
    assert agreement.flag_of("epochs") == "--epochs"


# ---- faults -----------------------------------------------------------------------------------------------


def test_a_missing_host_ends_the_start_and_signals_end_the_wait(hosts: Hosts, lateness: Lateness) -> None:
    # Three lone hosts, each of a 2-host cluster whose other host never starts, waiting at once.
    missing = hosts.start(2, ["--startup-timeout", "5"], only=[0], key="missing")
    term = hosts.start(2, ["--startup-timeout", "120"], only=[0], key="SIGTERM")
    interrupt = hosts.start(2, ["--startup-timeout", "120"], only=[0], key="SIGINT")
    hosts.wait_until_listening("missing", missing[0])
    waiting = time.monotonic()
    for key, addresses in (("SIGTERM", term), ("SIGINT", interrupt)):
        hosts.wait_until_listening(key, addresses[0])
    for key, signum in (("SIGTERM", signal.SIGTERM), ("SIGINT", signal.SIGINT)):
        sent = time.monotonic()
        hosts.processes[key].send_signal(signum)
        result = hosts.wait(key)
        assert result.returncode == (143 if signum == signal.SIGTERM else 130)
        assert one_line(result) == ("decaybench: terminated by SIGTERM" if signum == signal.SIGTERM else "decaybench: interrupted")
        assert result.ended - sent < SLACK_SECONDS + lateness.between(sent, result.ended)
    result = hosts.wait("missing")
    assert result.returncode == 1 and result.stdout == ""
    assert (
        one_line(result)
        == f"decaybench: error: multiworker: the cluster did not form within 5 s: nothing answers at worker 1 ({missing[1]})"
    )
    assert result.ended - waiting < 5 + SLACK_SECONDS + lateness.between(waiting, result.ended)


def dead_or_hung(hosts: Hosts, kind: str) -> tuple[Result, Result, list[str]]:
    addresses = hosts.start(2, LONG, env={1: {WORKER_FAULT: f"{kind}:1:epoch20"}})
    if kind == "hang":
        survivor = hosts.wait(0)
        hosts.processes[1].kill()
        return survivor, hosts.wait(1), addresses
    culprit = hosts.wait(1)
    return hosts.wait(0), culprit, addresses


def test_a_dead_peer_ends_the_survivor_naming_it(hosts: Hosts, lateness: Lateness) -> None:
    survivor, culprit, addresses = dead_or_hung(hosts, "kill")
    assert culprit.returncode == -signal.SIGKILL
    assert survivor.returncode == 1 and survivor.stdout == ""
    line = one_line(survivor)
    assert line.startswith(f"decaybench: error: multiworker: worker 1 ({addresses[1]}) is gone (nothing answers at its address"), line
    assert " at epoch 20 " in line or " at epoch 19 " in line or " at epoch 21 " in line, line
    log = Path(line.rsplit("TensorFlow's log: ", 1)[1])
    assert "Traceback" in log.read_text()  # TensorFlow's traceback is in the log, not on the terminal
    assert survivor.ended - culprit.ended < COLLECTIVE + SLACK_SECONDS + lateness.between(culprit.ended, survivor.ended)


def test_a_hung_peer_ends_the_survivor_naming_it(hosts: Hosts) -> None:
    survivor, _, addresses = dead_or_hung(hosts, "hang")
    assert survivor.returncode == 1
    line = one_line(survivor)
    assert line.startswith(f"decaybench: error: multiworker: worker 1 ({addresses[1]}) hangs"), line
    assert "DeadlineExceededError on worker 0" in line and "at epoch 20" in line


def test_sigterm_mid_run_exits_143_and_its_peer_names_it(hosts: Hosts, tmp_path: Path, lateness: Lateness) -> None:
    outputs = [tmp_path / f"host{index}.csv" for index in range(2)]
    addresses = hosts.start(
        2,
        [*LONG, "--output-all"],
        per_host={i: ["--output", str(outputs[i])] for i in range(2)},
        env={1: {WORKER_FAULT: "term:1:epoch20"}},
    )
    stopped = hosts.wait(1)
    peer = hosts.wait(0)
    assert stopped.returncode == 143 and one_line(stopped) == "decaybench: terminated by SIGTERM"
    assert peer.returncode == 1
    assert one_line(peer).startswith(f"decaybench: error: multiworker: worker 1 ({addresses[1]}) was stopped by SIGTERM at epoch 2")
    assert peer.ended - stopped.ended < COLLECTIVE + SLACK_SECONDS + lateness.between(stopped.ended, peer.ended)
    assert list(tmp_path.iterdir()) == []  # no output, not even a temporary file
