"""Mode ``multiworker`` on a real cluster: this process is one host of the cluster ``TF_CONFIG`` describes.

Every host runs the same command; :func:`run_host` makes each behave as the local cluster's
supervisor makes its workers behave:

* **Bounded start.** Joining (``MultiWorkerMirroredStrategy``) and agreeing must end within
  ``Timeouts.startup``; otherwise the host names the peers nothing answers at.
* **Agreement.** Before the first epoch the hosts exchange :func:`agreement.fields` on the
  coordination service's key-value store; a difference is a :class:`HostsDisagree` (exit 2)
  naming the field and both values. After the last epoch they compare trace digests.
* **Faults named.** A failed step becomes a one-line :class:`DistributedError` naming the peer
  at fault (a dead one: nothing answers at its address; a hung one: reachable, but it reported
  no error within a grace period), the fault and the epoch. TensorFlow's own logging and the
  traceback go to a log file (fd 2 is redirected while TensorFlow runs) whose path the line gives.
* **Signals.** TensorFlow runs in a second thread; the main thread waits in short slices, so
  SIGINT and SIGTERM take effect at once, at any stage. A stopped host tells the others why
  (a key they read when their next collective fails).

A host that joined ends its process with ``os._exit`` (:func:`decaybench.modes.distributed.tf_config.leave`):
TensorFlow's teardown can wait for peers that are gone.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import tensorflow as tf
from tensorflow.python.eager import context

from decaybench import stopping
from decaybench.checkpoint import CheckpointOptions
from decaybench.config import DecayConfig
from decaybench.modes.distributed import agreement, tf_config, training
from decaybench.modes.distributed.faults import PEER_ERRORS, DistributedError, Fault, HostsDisagree, summary
from decaybench.modes.distributed.protocol import MULTIWORKER
from decaybench.modes.distributed.shared_checkpoints import open_shared
from decaybench.modes.distributed.tf_config import ClusterSpec
from decaybench.modes.distributed.timeouts import PEER_GRACE_SECONDS, POLL_SECONDS, Timeouts
from decaybench.progress import epoch_bar
from decaybench.stopping import Terminated
from decaybench.trace import Trace

__all__ = ["CoordinationBoard", "Host", "run_host"]

STOP_SECONDS = 0.5  # for a stopped host to tell the others, before it leaves
_JOBS = itertools.count(1)  # runs of this process; every host counts the same


class CoordinationBoard:
    """:class:`agreement.Board` on TensorFlow's coordination service (hosted by the chief)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def set(self, key: str, value: str) -> None:
        context.context().set_config_key_value(key, value)

    def get(self, key: str, seconds: float) -> str:
        value: str = context.context().get_config_key_value(key, max(1, int(seconds * 1000)))
        self.seen.add(key)
        return value

    def barrier(self, name: str, seconds: float) -> None:
        context.context().wait_at_barrier(name, max(1, int(seconds * 1000)))


@contextlib.contextmanager
def _tensorflow_log(path: Path) -> Iterator[None]:
    """fd 2 (TensorFlow's C++ logging) to ``path``; ``sys.stderr`` (decaybench's lines) stays the terminal.

    On success fd 2 comes back; after a failure it stays on the log, since TensorFlow's threads
    may still write there before the process leaves.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "w") as log:
        os.dup2(log.fileno(), 2)
    previous, sys.stderr = sys.stderr, os.fdopen(os.dup(saved), "w", buffering=1)
    yield
    sys.stderr.flush()
    sys.stderr.close()
    sys.stderr = previous
    os.dup2(saved, 2)
    os.close(saved)


class Host:
    """One run of this host: a thread that joins, agrees, trains and compares; the main thread watches it."""

    def __init__(self, spec: ClusterSpec, config: DecayConfig, timeouts: Timeouts, checkpoint: CheckpointOptions | None = None) -> None:
        self.spec, self.config, self.timeouts, self.checkpoint = spec, config, timeouts, checkpoint
        self.stop_requested = False  # SIGTERM with checkpoints: stop at the next epoch boundary
        self.key = f"decaybench/{next(_JOBS)}"
        job, index, _ = spec.tasks[spec.rank]
        self.log = Path(tempfile.gettempdir()) / f"decaybench-multiworker-{job}{index}-{os.getpid()}.log"
        self.board = CoordinationBoard()
        self.phase, self.epoch, self.started = "joining", -1, time.monotonic()
        self.result: Trace | None = None
        self.error: BaseException | None = None
        self.fault = Fault.from_environment(spec.rank)

    # -- the main thread --------------------------------------------------------------------------

    def run(self, progress: bool | None) -> Trace:
        """Run on the cluster and return the trace (every host's, equal); raise DistributedError naming a fault."""
        tf_config.check_addresses(self.spec, self.timeouts.startup)  # again: the API's path, without the CLI's check
        tf_config.mark_joined()
        missing = tf_config.wait_for_peers(self.spec, self.timeouts.startup)
        if missing:
            names = ", ".join(self.spec.name(rank) for rank in missing)
            seconds = self.timeouts.startup
            raise DistributedError(
                f"{MULTIWORKER}: the cluster did not form within {seconds:g} s: nothing answers at {names}", missing[0], "missing"
            )
        thread = threading.Thread(target=self._session, name="decaybench-host", daemon=True)
        with _tensorflow_log(self.log):
            thread.start()
            try:
                self._watch(thread, progress)
            except DistributedError:
                raise
            except BaseException as stop:  # SIGINT or SIGTERM: tell the peers, then go
                self._tell_peers_stopped(stop)
                raise
            if isinstance(self.error, Terminated):  # a checkpoint saved at SIGTERM's boundary
                self._tell_peers_stopped(self.error)
                raise self.error
            if self.error is not None and self.stop_requested:
                raise Terminated(
                    f"the latest checkpoint in {self.checkpoint.directory if self.checkpoint else ''}: run the same command to resume"
                )
            if self.phase == "joining" and type(self.error).__name__ in PEER_ERRORS:  # TensorFlow's join gave up
                raise self._startup_failure(self.error)
            if self.error is not None:
                raise self._diagnose(self.error) from None
        self.log.unlink(missing_ok=True)
        assert self.result is not None
        return self.result

    def _watch(self, thread: threading.Thread, progress: bool | None) -> None:
        limit = self.timeouts.run_seconds(self.config)
        joining = True
        with epoch_bar(self.config.epochs, progress, MULTIWORKER) as bar, contextlib.ExitStack() as training:
            while thread.is_alive():
                thread.join(POLL_SECONDS)
                if joining and self.phase != "joining":
                    joining = False
                    stopping.reclaim()  # joining installed TensorFlow's own SIGTERM handler
                    if self.checkpoint is not None:
                        training.enter_context(stopping.deferred())  # SIGTERM: a checkpoint first
                self.stop_requested = self.stop_requested or stopping.requested()
                elapsed = time.monotonic() - self.started
                if self.phase in ("joining", "agreeing") and elapsed > self.timeouts.startup:
                    raise self._startup_failure()
                if elapsed > limit:
                    raise DistributedError(self._line(f"{self._me()} exceeded the run's time limit of {limit:.0f} s"), None, "time limit")
                if self.epoch + 1 > bar.n:
                    bar.update(self.epoch + 1 - bar.n)

    def _me(self) -> str:
        return self.spec.name(self.spec.rank)

    def _line(self, text: str, seen: str = "") -> str:
        where = f" at epoch {self.epoch}" if self.epoch >= 0 else f" while {self.phase}"
        return f"{MULTIWORKER}: {text}{where}{seen}; TensorFlow's log: {self.log}"

    def _startup_failure(self, error: BaseException | None = None) -> DistributedError:
        """Why the cluster did not form: TensorFlow's join gave up (``error``), or the time ran out."""
        seconds = self.timeouts.startup
        if self.phase == "joining":
            why = f" ({type(error).__name__}: {summary(error).split('. ')[0][:100]})" if error is not None else ""
            late = [rank for rank in self.spec.peers if self.spec.device(rank) in str(error)] or list(self.spec.peers)
            names = ", ".join(self.spec.name(rank) for rank in late) or "a peer"
            return DistributedError(
                f"{MULTIWORKER}: the cluster did not form within {seconds:g} s: {names} answered at its address but did not join "
                f"TensorFlow's cluster{why}; is it a decaybench host with the same TF_CONFIG? TensorFlow's log: {self.log}",
                late[0] if late else None,
                "did not form",
            )
        silent = [rank for rank in self.spec.peers if f"{self.key}/config/{rank}" not in self.board.seen]
        names = ", ".join(self.spec.name(rank) for rank in silent) or "a peer"
        return DistributedError(
            f"{MULTIWORKER}: {names} did not publish its configuration within {seconds:g} s", silent[0] if silent else None, "silent"
        )

    def _tell_peers_stopped(self, stop: BaseException) -> None:
        if self.phase == "joining":  # no board yet, and touching it would join
            return
        signal_name = "SIGINT" if isinstance(stop, KeyboardInterrupt) else "SIGTERM"
        note = f"was stopped by {signal_name}"
        teller = threading.Thread(target=lambda: self.board.set(f"{self.key}/stopped/{self.spec.rank}", note), daemon=True)
        teller.start()
        teller.join(STOP_SECONDS)  # best effort: the chief, which holds the board, may be gone

    # -- diagnosis ----------------------------------------------------------------------------------

    def _diagnose(self, error: BaseException) -> DistributedError:
        if isinstance(error, DistributedError):
            return error
        detail = f"{type(error).__name__}: {summary(error)}"[:200]
        if type(error).__name__ not in PEER_ERRORS:
            return DistributedError(self._line(f"{self._me()} raised {detail}"), self.spec.rank, "raised")
        culprit, fault = self._culprit(type(error).__name__)
        seen = f" ({type(error).__name__} on {self._me()})"
        return DistributedError(self._line(f"{self.spec.name(culprit)} {fault}", seen), culprit, fault)

    def _culprit(self, mine: str) -> tuple[int, str]:
        """The peer at fault: one that said it was stopped, else one nothing answers at (dead), else a silent one (hung)."""
        reports = self._reports(mine)
        stopped = [rank for rank in self.spec.peers if reports.get(rank, "").startswith("was stopped")]
        if stopped:
            return stopped[0], reports[stopped[0]]
        gone = self._gone(time.monotonic() + PEER_GRACE_SECONDS)
        if gone:
            return gone[0], "is gone (nothing answers at its address: it exited or was killed)"
        silent = [rank for rank in self.spec.peers if rank not in reports]
        if silent:
            return silent[0], f"hangs (it answers at its address, but reported no error for {PEER_GRACE_SECONDS:g} s)"
        return self.spec.peers[0], reports[self.spec.peers[0]]

    def _gone(self, deadline: float) -> list[int]:
        """The peers nothing answers at, probed until ``deadline``: a peer still exiting stops answering within it."""
        while True:
            gone = [rank for rank in self.spec.peers if not tf_config.reachable(self.spec.tasks[rank][2])]
            if gone or time.monotonic() >= deadline:
                return gone
            time.sleep(POLL_SECONDS)

    def _reports(self, mine: str) -> dict[int, str]:
        """What the peers say happened to them (``stopped`` or ``fault`` keys), waiting PEER_GRACE_SECONDS in all."""
        reports: dict[int, str] = {}
        ends = time.monotonic() + PEER_GRACE_SECONDS
        with contextlib.suppress(Exception):  # the board lives in the chief: gone with it
            self.board.set(f"{self.key}/fault/{self.spec.rank}", f"raised {mine}")
            for rank in self.spec.peers:
                for kind in ("stopped", "fault"):
                    with contextlib.suppress(Exception):
                        reports[rank] = self.board.get(f"{self.key}/{kind}/{rank}", max(0.05, (ends - time.monotonic()) / 2))
                        break
        return reports

    # -- the session thread -------------------------------------------------------------------------

    def _session(self) -> None:
        try:
            training.bound_join(self._remaining_startup())
            strategy = training.joined_strategy(self.timeouts.collective)
            self.phase = "agreeing"
            self._agree()
            checkpoints = None
            if self.checkpoint is not None:
                stop = lambda: self.stop_requested or stopping.requested()  # noqa: E731
                checkpoints = open_shared(self.checkpoint, self.config, MULTIWORKER, self.spec.is_chief, stop, self._agree_start)
            self.phase = "training"
            trace = training.train(strategy, self.config, MULTIWORKER, self._on_epoch, checkpoints)
            self.phase = "comparing"
            self._compare(trace)
            self.result = trace
        except BaseException as error:  # the main thread names it
            self.error = error
            with contextlib.suppress(OSError), open(self.log, "a") as log:
                traceback.print_exception(error, file=log)

    def _on_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self.fault is not None and self.fault.where == f"epoch{epoch}":
            fault, self.fault = self.fault, None
            fault.strike()

    def _remaining_startup(self) -> float:
        return max(POLL_SECONDS, self.timeouts.startup - (time.monotonic() - self.started))

    def _agree(self) -> None:
        mine = agreement.fields(self.config, MULTIWORKER, tf.__version__)
        seconds = self._remaining_startup()
        published = agreement.exchange(self.board, f"{self.key}/config", self.spec.rank, self.spec.size, mine, seconds)
        self.board.barrier(f"{self.key}/agreed", seconds)  # nobody leaves before every host has read
        difference = agreement.first_difference(published)
        if difference is not None:
            self._leave_together(f"{self.key}/refused", seconds)
            name, first, value, other, theirs = difference
            flag = agreement.flag_of(name)
            raise HostsDisagree(
                f"{MULTIWORKER}: the hosts disagree on {name}{f' ({flag})' if flag != name else ''}: "
                f"{value} on {self.spec.name(first)}, {theirs} on {self.spec.name(other)}",
                other,
                f"{name} differs",
            )

    def _agree_start(self, epoch: int) -> None:
        """The hosts start from the same epoch: they all see the same checkpoint directory."""
        seconds = self.timeouts.collective or self.timeouts.stall
        published = agreement.exchange(self.board, f"{self.key}/start", self.spec.rank, self.spec.size, {"epoch": str(epoch)}, seconds)
        difference = agreement.first_difference(published)
        if difference is not None:
            _, first, value, other, theirs = difference
            raise HostsDisagree(
                f"{MULTIWORKER}: the hosts start from different epochs: {value} on {self.spec.name(first)}, {theirs} on "
                f"{self.spec.name(other)} (does every host see the same --checkpoint-dir?)",
                other,
                "start differs",
            )

    def _leave_together(self, key: str, seconds: float) -> None:
        """The chief, which holds the board, leaves last: a peer still waiting on a barrier's answer would see it gone."""
        if not self.spec.is_chief:
            # Best effort: the chief may read the key and exit before this call's answer comes back
            # (UnavailableError "Socket closed" after the insert). This host has decided already;
            # the chief's exit changes nothing.
            with contextlib.suppress(Exception):
                self.board.set(f"{key}/{self.spec.rank}", "left")
            return
        for rank in self.spec.peers:
            with contextlib.suppress(Exception):  # a peer that died meanwhile: nothing to wait for
                self.board.get(f"{key}/{rank}", seconds)

    def _compare(self, trace: Trace) -> None:
        seconds = self.timeouts.collective or self.timeouts.stall
        published = agreement.exchange(
            self.board, f"{self.key}/digest", self.spec.rank, self.spec.size, {"digest": trace.digest()}, seconds
        )
        self.board.barrier(f"{self.key}/done", seconds)
        self._leave_together(f"{self.key}/left", seconds)
        if agreement.first_difference(published) is not None:
            digests = ", ".join(f"{self.spec.name(rank)}: {values['digest'][:12]}" for rank, values in sorted(published.items()))
            raise DistributedError(f"{MULTIWORKER}: the hosts hold different traces ({digests})", None, "traces differ")


def run_host(
    config: DecayConfig, progress: bool | None, timeouts: Timeouts, spec: ClusterSpec, checkpoint: CheckpointOptions | None = None
) -> Trace:
    """Run ``config`` as this host of the cluster ``spec`` (``TF_CONFIG``'s); the chief writes the checkpoints."""
    return Host(spec, config, timeouts, checkpoint).run(progress)
