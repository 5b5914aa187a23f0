"""A real cluster behaves like the local one: every case runs real hosts, each its own process and TF_CONFIG.

Short limits (startup 5 to 10 s, collective 3 s) keep every case within seconds of its hosts'
TensorFlow import; faults are injected with DECAYBENCH_WORKER_FAULT (decaybench/test_hooks.py).
Times are asserted from the moment the test sees the faulty host end (or from the start of the
wait), with slack for 2 loaded cores plus the lateness measured meanwhile (tests/conftest.py, Lateness).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, example, given, settings
from numpy.testing import assert_array_equal

from decaybench import Trace
from decaybench.config import DecayConfig
from decaybench.modes.distributed import agreement, tf_config
from decaybench.modes.emulation import emulate
from decaybench.test_hooks import WORKER_FAULT
from decaybench.validation import InvalidValue
from tests.properties.strategies import hostile_tf_configs
from tests.real_hosts import ROOT, Hosts, Result, free_ports

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


def workers(*addresses: str, chief: Sequence[str] = ()) -> str:
    """A TF_CONFIG of these worker addresses (and a chief job when given) for worker 0, or the chief."""
    cluster = {"chief": list(chief), "worker": list(addresses)} if chief else {"worker": list(addresses)}
    task = {"type": "chief", "index": 0} if chief else {"type": "worker", "index": 0}
    return json.dumps({"cluster": cluster, "task": task})


def refusals(port: int, taken: int) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Bad TF_CONFIG values, the issue's table and others of each class: name -> (value, words its one line holds).

    ``port`` is free on this machine, ``taken`` held by another socket.
    """
    same = f"reach the same server (this machine, port {port})"
    return {
        "malformed JSON": ("{'cluster': ", ("is not valid JSON",)),
        "3,000 nested lists": ("[" * 3000 + "]" * 3000, ("nested deeper than 64 levels",)),
        "100,000 nested objects": ('{"a":' * 100_000 + "1" + "}" * 100_000, ("nested deeper than 64 levels",)),
        "nesting inside the worker list": (workers().replace("[]", "[" * 5000 + "]" * 5000), ("nested deeper than 64 levels",)),
        "unknown task type": (
            '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "ps", "index": 0}}',
            ("task type 'ps' is unknown",),
        ),
        "index out of range": ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 1}}', ("task index 1",)),
        "port 99999": (workers("127.0.0.1:99999"), ("'127.0.0.1:99999' of worker 0: port 99999 is out of range (1 to 65535)",)),
        "port 65536": (workers(f"127.0.0.1:{port}", "127.0.0.1:65536"), ("of worker 1: port 65536 is out of range",)),
        "port 0": (workers("127.0.0.1:0"), ("port 0 is out of range",)),
        "port of 5,000 digits": (workers("127.0.0.1:" + "9" * 5000), ("port 999999999999... has 5000 digits, more than 5",)),
        "port of 7 digits, in range": (workers("127.0.0.1:0023456"), ("port 0023456 has 7 digits, more than 5",)),
        "port ²": (workers("127.0.0.1:²"), ("port '²' is not a number of ASCII digits",)),
        "port ٣ (Arabic-Indic three)": (workers("127.0.0.1:٣"), ("port '٣' is not a number of ASCII digits",)),
        "port +80": (workers("127.0.0.1:+80"), ("port '+80' is not a number of ASCII digits",)),
        "no port": (workers("localhost"), ("has no port",)),
        "bare IPv6": (workers("::1:80"), ("write it in brackets",)),
        "bad IPv6 in brackets": (workers("[::g]:80"), ("host [::g] is not an IPv6 address",)),
        "a space in a hostname": (workers("host b:80"), ("host 'host b' is not a hostname or an IP address",)),
        "a hyphen ending a label": (workers("host-.example:80"), ("host 'host-.example' is not a hostname",)),
        "broken IPv4": (workers("1.2.3.999:80"), ("host '1.2.3.999' is not a valid IPv4 address",)),
        "control characters in a host": (workers("a\nb\x1b[2J:80"), ("host 'a\\nb\\x1b[2J' is not a hostname",)),
        "one address twice": (
            workers(f"127.0.0.1:{port}", f"127.0.0.1:{port}"),
            ("twice", f"worker 0 (127.0.0.1:{port})", f"worker 1 (127.0.0.1:{port})"),
        ),
        "127.0.0.1 and localhost": (
            workers(f"127.0.0.1:{port}", f"localhost:{port}"),
            (same, f"worker 0 (127.0.0.1:{port})", f"worker 1 (localhost:{port})"),
        ),
        "localhost and 127.0.0.2": (
            workers(f"127.0.0.1:{taken}", f"localhost:{port}", f"127.0.0.2:{port}"),
            (same, f"worker 1 (localhost:{port})", f"worker 2 (127.0.0.2:{port})"),
        ),
        "the chief and a worker on one server": (
            workers(f"127.0.0.3:{port}", chief=[f"localhost:{port}"]),
            (same, f"chief 0 (localhost:{port})", f"worker 0 (127.0.0.3:{port})"),
        ),
        "a name that does not resolve": (
            workers(f"127.0.0.1:{port}", "no-such-host.invalid:80"),
            ("worker 1 (no-such-host.invalid:80)", "resolve"),
        ),
        "this host's port in use": (
            workers(f"127.0.0.1:{taken}", f"127.0.0.1:{port}"),
            (f"port {taken} cannot be bound (Address already in use)",),
        ),
        # docs/distributed.md's order: the syntax (3) before any lookup (4), every lookup before this host's port (5)
        "order: a bad port before a name that does not resolve": (
            workers("no-such-host.invalid:80", "127.0.0.1:99999"),
            ("of worker 1: port 99999 is out of range",),
        ),
        "order: a name that does not resolve before this host's port in use": (
            workers(f"127.0.0.1:{taken}", "no-such-host.invalid:80"),
            ("worker 1 (no-such-host.invalid:80) does not resolve",),
        ),
    }


# Each case through the command's main in one fresh process, which reports after each whether TensorFlow is loaded.
BATCH = """
import contextlib, io, json, os, sys
from decaybench import cli
results = {}
for name, raw in json.load(sys.stdin).items():
    os.environ["TF_CONFIG"] = raw
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["run", "--mode", "multiworker", "--startup-timeout", "5"])
    results[name] = [status, out.getvalue(), err.getvalue(), "tensorflow" in sys.modules]
json.dump(results, sys.stdout)
"""


def test_a_bad_tf_config_is_refused_in_one_line_before_tensorflow_loads() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        cases = refusals(free_ports(1)[0], holder.getsockname()[1])
        raws = {name: raw for name, (raw, _) in cases.items()}
        completed = subprocess.run(
            [sys.executable, "-c", BATCH], input=json.dumps(raws), capture_output=True, text=True, cwd=ROOT, timeout=120
        )
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout)
    for name, (_, words) in cases.items():
        status, out, err, tensorflow = results[name]
        assert (status, out) == (2, ""), (name, err)
        assert err.startswith("decaybench: error: TF_CONFIG: ") and err.count("\n") == 1, (name, err)
        assert all(word in err for word in words), (name, words, err)
        assert not tensorflow, f"{name}: refused after TensorFlow loaded"


def test_one_host_spelled_two_ways_is_refused_from_the_command_line(decaybench: Command) -> None:
    port = free_ports(1)[0]
    raw = workers(f"127.0.0.1:{port}", f"localhost:{port}")
    completed = decaybench("run", "--mode", "multiworker", env={**os.environ, "TF_CONFIG": raw}, cwd=ROOT, timeout=60)
    assert (completed.returncode, completed.stdout) == (2, "")
    assert completed.stderr == (
        f"decaybench: error: TF_CONFIG: worker 0 (127.0.0.1:{port}) and worker 1 (localhost:{port}) reach the same server "
        f"(this machine, port {port}): each task needs its own host:port, got {raw!r}\n"
    )


def test_good_addresses_pass_and_a_port_taken_later_is_refused_when_the_host_listens() -> None:
    first, second, third = free_ports(3)
    spec = tf_config.parse(workers(f"127.0.0.1:{first}", f"localhost:{second}", f"[::1]:{third}", f"10.255.255.1:{first}"))
    tf_config.check_addresses(spec, 5.0)  # one port each on this machine; another machine's IP may share a port
    with socket.socket() as holder:  # taken after the check, before the host listens: the later check refuses it
        holder.bind(("127.0.0.1", first))
        holder.listen()
        with pytest.raises(InvalidValue, match=f"TF_CONFIG names this host's address, but port {first} cannot be bound"):
            tf_config.wait_for_peers(spec, 0.1)


@settings(max_examples=max(20, settings.default.max_examples // 5), suppress_health_check=[HealthCheck.too_slow])  # 100 under ci
@given(hostile_tf_configs())
@example('{"cluster": {"worker": ["127.0.0.1:99999"]}, "task": {"type": "worker", "index": 0}}')
@example('{"cluster": {"worker": ["127.0.0.1:²"]}, "task": {"type": "worker", "index": 0}}')
@example('{"cluster": {"worker": ["127.0.0.1:٣"]}, "task": {"type": "worker", "index": 0}}')  # int("٣") == 3
@example("[" * 3000 + "]" * 3000)
def test_any_tf_config_is_a_cluster_of_addresses_or_one_line_naming_tf_config(raw: str) -> None:
    try:
        spec = tf_config.parse(raw)
    except InvalidValue as error:
        assert error.argument == tf_config.ENV and str(error).startswith("TF_CONFIG "), error
        return
    ports = [address.rpartition(":")[2] for _, _, address in spec.tasks]
    assert all(port.isascii() and port.isdigit() and 1 <= int(port) <= 65535 for port in ports), spec.tasks
    assert all(address.isascii() and address.isprintable() for _, _, address in spec.tasks), spec.tasks
    assert len({address for _, _, address in spec.tasks}) == spec.size


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


def test_a_cluster_that_cannot_form_ends_within_its_timeouts_naming_why(hosts: Hosts, lateness: Lateness) -> None:
    # Something else answers at the peer's address (it listens and never speaks gRPC): the wait for the
    # peers passes, TensorFlow's join cannot complete. The chief waits for a worker, a worker for the chief.
    startup, collective = 5, 10
    args = ["--startup-timeout", str(startup), "--collective-timeout", str(collective)]
    with contextlib.ExitStack() as stack:
        clusters = {"alien worker": (0, 1), "alien chief": (1, 0)}
        ends: dict[str, tuple[str, str]] = {}
        for key, (mine, theirs) in clusters.items():
            addresses = hosts.start(2, args, only=[mine], key=key)
            alien = stack.enter_context(socket.socket())
            alien.bind(("127.0.0.1", int(addresses[theirs].rpartition(":")[2])))
            alien.listen(16)
            ends[key] = (addresses[mine], f"worker {theirs} ({addresses[theirs]})")
        listening = {key: answered_at(hosts, key, address) for key, (address, _) in ends.items()}
        for key, (_, alien_name) in ends.items():
            result = hosts.wait(key)
            assert (result.returncode, result.stdout) == (1, ""), result.stderr[-2000:]
            assert one_line(result).startswith(
                f"decaybench: error: multiworker: the cluster did not form within {startup} s: {alien_name} answered at its address "
                "but did not join TensorFlow's cluster"
            )
            began = listening[key]
            assert result.ended - began < startup + collective + SLACK_SECONDS + lateness.between(began, result.ended)


def answered_at(hosts: Hosts, key: str, address: str) -> float:
    """When host ``key`` first answered at its ``address`` (its wait for the peers, then TensorFlow's server)."""
    hosts.wait_until_listening(key, address)
    return time.monotonic()


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
