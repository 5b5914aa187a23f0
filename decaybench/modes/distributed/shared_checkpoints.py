"""Checkpoints of a multiworker run: the chief writes them, every worker reads them.

Every worker holds the same ``w`` and rows (the all-reduce gives each the same update), so one
copy of the state suffices: the chief (rank 0) saves it in the shared ``--checkpoint-dir``, as
TensorFlow's multi-worker guide has only the chief write; a resumed run has every worker load
the chief's latest checkpoint. A worker other than the chief never writes there.

``stop`` (a host asked to stop by SIGTERM, :mod:`decaybench.stopping`) makes the next epoch
boundary a due checkpoint: the chief saves it, and every worker then raises
:class:`~decaybench.stopping.Terminated` saying where to resume.
"""

from __future__ import annotations

from collections.abc import Callable

from decaybench.checkpoint import CheckpointOptions, Checkpoints, State, latest_epoch
from decaybench.config import DecayConfig
from decaybench.stopping import Terminated

__all__ = ["SharedCheckpoints", "open_shared"]


class SharedCheckpoints(Checkpoints):
    """:class:`Checkpoints` of one worker of a multiworker run: written by the chief only."""

    def __init__(
        self,
        options: CheckpointOptions,
        config: DecayConfig,
        mode: str,
        chief: bool,
        stop: Callable[[], bool],
        started: Callable[[int], None],
    ) -> None:
        super().__init__(options, config, mode)
        self.chief, self.stop, self.started = chief, stop, started

    def start(self) -> State:
        # A follower only reads: resuming writes nothing, and a fresh run starts from w0.
        state = super().start() if self.chief or self.options.resume else State.initial(self.config)
        self.started(state.epoch)
        return state

    def due(self, done: int) -> bool:
        return self.stop() or super().due(done)

    def save(self, state: State) -> None:
        if self.chief:
            super().save(state)  # raises Stopped at stop_after, once saved; the others then stop with it
        if self.stop():
            epoch = state.epoch if self.chief else latest_epoch(self.directory)
            raise Terminated(f"checkpoint of epoch {epoch} in {self.directory}: run the same command to resume")


def open_shared(
    options: CheckpointOptions,
    config: DecayConfig,
    mode: str,
    chief: bool,
    stop: Callable[[], bool] = lambda: False,
    started: Callable[[int], None] = lambda epoch: None,
) -> SharedCheckpoints:
    """The checkpoints of one worker (``chief``: rank 0, the only one that writes).

    ``stop()`` asks for a checkpoint at the next boundary and then :class:`Terminated`;
    ``started(epoch)`` hears the epoch the run starts from (the hosts compare it).
    """
    return SharedCheckpoints(options, config, mode, chief, stop, started)
