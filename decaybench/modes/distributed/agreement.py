"""Hosts of a real cluster agree before the first epoch, and compare their traces after the last.

Each host publishes what it is about to run, field by field (:func:`fields`: the mode, the
decaybench and TensorFlow versions, every ``DecayConfig`` field), on the coordination service's
key-value store (a :class:`Board`); each reads every other host's and compares. The fields, not a
hash of them, travel, so that a difference is named: the first differing field, in
:func:`fields`' order, and both values (:func:`first_difference`). Every host sees the same
difference, so every host refuses. After the run they compare :meth:`Trace.digest` the same way.

>>> from decaybench.config import DecayConfig
>>> mine = fields(DecayConfig(), "multiworker", tensorflow="2.21.0")
>>> theirs = fields(DecayConfig(initial_learning_rate=0.21), "multiworker", tensorflow="2.21.0")
>>> list(mine)[:4]
['mode', 'decaybench', 'tensorflow', 'initial_learning_rate']
>>> first_difference({0: mine, 1: theirs})
('initial_learning_rate', 0, '0.2', 1, '0.21')
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Protocol

from decaybench import __version__
from decaybench.config import DecayConfig

__all__ = ["Board", "exchange", "fields", "first_difference", "flag_of"]


class Board(Protocol):
    """A key-value store every host reaches (TensorFlow's coordination service on a real cluster)."""

    def set(self, key: str, value: str) -> None: ...

    def get(self, key: str, seconds: float) -> str:
        """The value of ``key``, waiting up to ``seconds`` for a host to set it (raises when it does not)."""
        ...


def fields(config: DecayConfig, mode: str, tensorflow: str) -> dict[str, str]:
    """What must be equal on every host, as text (``repr``: a float's text is its exact value)."""
    values = {"mode": mode, "decaybench": __version__, "tensorflow": tensorflow}
    return values | {field.name: repr(getattr(config, field.name)) for field in dataclasses.fields(config)}


def flag_of(name: str) -> str:
    """The CLI flag of a field, for messages: ``initial_learning_rate`` -> ``--initial-lr``; others as they are."""
    for field in dataclasses.fields(DecayConfig):
        if field.name == name:
            return str(field.metadata.get("flag", name))
    return {"mode": "--mode"}.get(name, name)


def first_difference(published: Mapping[int, Mapping[str, str]]) -> tuple[str, int, str, int, str] | None:
    """``(field, rank a, value on a, rank b, value on b)`` of the first field, in order, on which two hosts differ.

    Host ``a`` is the lowest rank; ``b`` the first host that differs from it. A field one host lacks
    (another decaybench) differs too.
    """
    ranks = sorted(published)
    first = published[ranks[0]]
    names = list(first) + [name for rank in ranks for name in published[rank] if name not in first]
    for name in dict.fromkeys(names):
        for rank in ranks[1:]:
            mine, theirs = first.get(name, "(none)"), published[rank].get(name, "(none)")
            if mine != theirs:
                return name, ranks[0], mine, rank, theirs
    return None


def exchange(board: Board, key: str, rank: int, size: int, values: Mapping[str, str], seconds: float) -> dict[int, dict[str, str]]:
    """Publish ``values`` under ``key``/rank and read every host's; each read waits up to ``seconds``."""
    board.set(f"{key}/{rank}", json.dumps(values))
    published = {rank: dict(values)}
    for other in range(size):
        if other != rank:
            published[other] = json.loads(board.get(f"{key}/{other}", seconds))
    return published
