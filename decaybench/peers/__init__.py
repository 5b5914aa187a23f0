"""Cross-library conformance: our schedule against Keras 2, Keras 3, optax and PyTorch.

Each peer evaluates *its own* library's exponential decay and trains the seed with *its own*
optimizer; :func:`~decaybench.peers.conformance.conformance` compares the runs with the golden
trace and says, from measurements, why they differ. What each library computes, read from its source, is in its
module's docstring: :mod:`decaybench.peers.keras` (tf.keras, Keras 2 and 3),
:mod:`decaybench.peers.optax` and :mod:`decaybench.peers.torch`. The checks and the replay that
explains a difference are in :mod:`decaybench.peers.conformance`; what each library's schedule
does on a step that loss scaling skipped is in :mod:`decaybench.peers.mixed`.

On the seed (measured, pinned in ``tests/test_peers.py``): every peer prints the 15 documented
lines. Keras (2 and 3) prints 38 of the 40 golden lines: its float32 lr moves ``w`` by 1 ULP at
epochs 4-9, visible at epochs 7 and 8. optax and torch print all 40, though their FMA moves ``w``
by 1 ULP at epochs 3-5.

Adding a peer is one module with ``version(name)``, ``schedule(name, schedule, steps)`` and
``train(name, config)`` plus one :class:`Peer` entry in :data:`PEERS`. Nothing here imports an
optional library at module import; a missing one is a :class:`PeerUnavailable` naming the reason.

>>> sorted(PEERS)
['keras2', 'keras3', 'optax', 'tf.keras', 'torch']
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from decaybench.config import DecayConfig
from decaybench.schedule import Schedule
from decaybench.trace import Trace
from decaybench.validation import InvalidType, check_step

__all__ = ["PEERS", "Peer", "PeerUnavailable", "import_library"]


class PeerUnavailable(RuntimeError):
    """A peer's library is missing, too old, or the same as another peer's; ``reason`` says which."""

    def __init__(self, peer: str, reason: str) -> None:
        self.peer = peer
        self.reason = reason
        super().__init__(f"peer {peer!r} is unavailable: {reason}")


def import_library(peer: str, module: str, install: str) -> Any:
    """``import module``, or :class:`PeerUnavailable` saying what to ``install``."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise PeerUnavailable(peer, f"cannot import {module} ({error}); install {install}") from None


@dataclass(frozen=True)
class Peer:
    """One library's own schedule and optimizer.

    Attributes:
        name: the registry key, and the ``mode`` of the traces it produces.
        module: the module under ``decaybench.peers`` with the library's ``version(name)``,
            ``schedule(name, schedule, steps)`` and ``train(name, config)``, imported on first use.
        requires: the library (and version) it needs.
        summary: one line: which schedule and optimizer.
        lr_dtype: the dtype the library computes the learning rate in (float32 unless said).
        lr_arithmetic: how it computes it, the name a difference in ``lr`` is reported under.
    """

    name: str
    module: str
    requires: str
    summary: str
    lr_dtype: str = "float32"
    lr_arithmetic: str = "float32 schedule arithmetic"

    def _library(self) -> ModuleType:
        return importlib.import_module(f"decaybench.peers.{self.module}")

    def version(self) -> str:
        """The library's version; :class:`PeerUnavailable` when it cannot be used."""
        version: str = self._library().version(self.name)
        return version

    def schedule(self, schedule: Schedule, steps: Any) -> np.ndarray:
        """The library's own ``schedule`` at integer ``steps`` (1-D), as float64 of the values it computes.

        Keras and optax compute float32 numbers; torch's lr is a Python float.
        """
        steps = np.atleast_1d(check_step(np.asarray(steps)))
        if steps.dtype.kind != "i" or steps.ndim != 1:
            raise InvalidType("steps", steps, "must be a 1-D array of integers")
        self.version()
        return np.asarray(self._library().schedule(self.name, schedule, steps), dtype=np.float64)

    def train(self, config: DecayConfig | None = None) -> Trace:
        """Train the seed problem of ``config`` (default: the seed) with the library's optimizer.

        The trace's ``lr`` is the learning rate the library applied, as float64.
        """
        config = config if config is not None else DecayConfig()
        self.version()
        trace: Trace = self._library().train(self.name, config)
        return trace


PEERS: dict[str, Peer] = {
    peer.name: peer
    for peer in (
        Peer(
            name="tf.keras",
            module="keras",
            requires="tensorflow (tf.keras: Keras 3 from TF 2.16, Keras 2 before)",
            summary="tf.keras.optimizers.schedules.ExponentialDecay with tf.keras SGD",
        ),
        Peer(
            name="keras2",
            module="keras",
            requires="tf_keras (Keras 2 for TF >= 2.16)",
            summary="tf_keras.optimizers.schedules.ExponentialDecay with tf_keras SGD",
        ),
        Peer(
            name="keras3",
            module="keras",
            requires="keras >= 3, TensorFlow backend",
            summary="keras.optimizers.schedules.ExponentialDecay with keras SGD",
        ),
        Peer(
            name="optax",
            module="optax",
            requires="jax, optax",
            summary="optax.exponential_decay with optax.sgd, one jitted lax.scan over the epochs",
        ),
        Peer(
            name="torch",
            module="torch",
            requires="torch",
            summary="torch.optim.SGD with ExponentialLR (StepLR(step_size=decay_steps) for staircase)",
            lr_dtype="float64",
            lr_arithmetic="float64 running product",
        ),
    )
}
