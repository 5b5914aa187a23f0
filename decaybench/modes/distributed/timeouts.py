"""How long a distributed run may wait for what (:class:`Timeouts`), and the options of a command's runs.

The local cluster's supervisor (:mod:`decaybench.modes.distributed.local_supervisor`) and a host
of a real cluster (:mod:`decaybench.modes.distributed.real_host`) obey the same :class:`Timeouts`
and poll every :data:`POLL_SECONDS`. :func:`cluster_options` sets them,
and ``max_restarts``, for the runs inside a ``with`` block (a context variable: the CLI sets them
from ``--startup-timeout``, ``--collective-timeout`` and ``--max-restarts``); outside one, the
defaults hold.

>>> current().timeouts == TIMEOUTS, current().max_restarts
(True, 3)
>>> with cluster_options(Timeouts(startup=5.0), max_restarts=0):
...     current().timeouts.startup, current().max_restarts
(5.0, 0)
>>> ClusterOptions(max_restarts=-1)
Traceback (most recent call last):
...
decaybench.validation.InvalidValue: max_restarts must be an int >= 0, got -1
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from decaybench.config import DecayConfig
from decaybench.validation import InvalidType, InvalidValue

__all__ = [
    "COLLECTIVE_SECONDS",
    "GRACE_SECONDS",
    "MAX_RESTARTS",
    "PEER_GRACE_SECONDS",
    "POLL_SECONDS",
    "TIMEOUTS",
    "ClusterOptions",
    "Timeouts",
    "cluster_options",
    "current",
]

# How long a distributed run may wait for what, in seconds. CI runs on 2 loaded cores, where
# importing TensorFlow in two processes at once took up to 15 s.
STARTUP_SECONDS = 60.0  # from spawning until every worker has joined the cluster
STALL_SECONDS = 30.0  # between two progress lines of a worker within a run
COLLECTIVE_SECONDS = 10.0  # a collective waiting for a peer aborts (CommunicationOptions)
TOTAL_SECONDS = 120.0  # a whole run, startup included, plus EPOCH_SECONDS per epoch
EPOCH_SECONDS = 0.05  # ~15x a seed step over localhost gRPC (3.3 ms measured)
ELEMENT_SECONDS = 1e-7  # per element and epoch: ~5x a step's measured 22 ns per float32 element
MAX_RESTARTS = 3  # a supervised run with checkpoints restarts the cluster this often at most
POLL_SECONDS = 0.05  # how often a supervisor or a host looks at its workers or its session
GRACE_SECONDS = 0.5  # local cluster: after a first fault, how long the other workers may take to report theirs
# Real cluster: after a failed step, how long a live peer may take to report its own error on the
# coordination service (a network round trip or two), before it is taken to hang.
PEER_GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class Timeouts:
    """The limits of a distributed run, in seconds (defaults: the module constants).

    On the local cluster a dead worker ends the run within ``POLL_SECONDS + GRACE_SECONDS``; a
    hung one within ``collective`` (a peer's collective aborts) or ``stall`` (no progress line),
    plus ``GRACE_SECONDS``; one that never joins within ``startup``; and no run lasts longer than
    :meth:`run_seconds`. A host of a real cluster waits ``PEER_GRACE_SECONDS`` instead of
    ``GRACE_SECONDS``. ``collective=0`` lets collectives wait for ever (only ``stall`` notices).
    """

    startup: float = STARTUP_SECONDS
    stall: float = STALL_SECONDS
    collective: float = COLLECTIVE_SECONDS
    total: float = TOTAL_SECONDS
    per_epoch: float = EPOCH_SECONDS
    per_element_epoch: float = ELEMENT_SECONDS

    def run_seconds(self, config: DecayConfig) -> float:
        """The wall-clock limit of one run: ``total + epochs * (per_epoch + size * per_element_epoch)``."""
        return self.total + config.epochs * (self.per_epoch + config.size * self.per_element_epoch)


TIMEOUTS = Timeouts()


def _check_seconds(name: str, value: object, zero: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidType(name, value, "must be a number of seconds")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise InvalidValue(name, value, "must be finite and >= 0" if zero else "must be finite and > 0")


@dataclass(frozen=True)
class ClusterOptions:
    """The timeouts of distributed runs, and how often a supervised run with checkpoints may restart."""

    timeouts: Timeouts = TIMEOUTS
    max_restarts: int = MAX_RESTARTS

    def __post_init__(self) -> None:
        _check_seconds("startup_timeout", self.timeouts.startup, zero=False)
        _check_seconds("collective_timeout", self.timeouts.collective, zero=True)
        if isinstance(self.max_restarts, bool) or not isinstance(self.max_restarts, int):
            raise InvalidType("max_restarts", self.max_restarts, "must be an int >= 0")
        if self.max_restarts < 0:
            raise InvalidValue("max_restarts", self.max_restarts, "must be an int >= 0")


DEFAULTS = ClusterOptions()
_OPTIONS: ContextVar[ClusterOptions | None] = ContextVar("decaybench_cluster_options", default=None)


@contextlib.contextmanager
def cluster_options(timeouts: Timeouts = TIMEOUTS, max_restarts: int = MAX_RESTARTS) -> Iterator[ClusterOptions]:
    """Within the block, distributed runs use these options (checked first: InvalidValue names the bad one)."""
    options = ClusterOptions(timeouts, max_restarts)
    token = _OPTIONS.set(options)
    try:
        yield options
    finally:
        _OPTIONS.reset(token)


def current() -> ClusterOptions:
    """The options of the innermost :func:`cluster_options` block, else the defaults."""
    return _OPTIONS.get() or DEFAULTS
