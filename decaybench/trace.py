"""``Trace``: what a run produced, and the seed's text format in both directions.

A trace holds, for each recorded epoch ``e``: ``w`` after the update of epoch ``e``, the loss
before it, and ``lr(e)`` from the float64 schedule, exactly as the seed prints them:

>>> format_line(0, np.float32(2.6), np.float32(36.0), 0.2)
'After 0 epoch,w is 2.600000,loss is 36.000000,lr is 0.200000'
>>> text = parse_lines(["After 0 epoch,w is 2.600000,loss is 36.000000,lr is 0.200000", "..."])
>>> text.epoch.tolist(), text.elided_after
([0], (0,))
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from decaybench.config import DecayConfig
from decaybench.schedule import exponential_decay

__all__ = ["SEED_FORMAT", "SeedText", "Trace", "first_unstable_epoch", "format_line", "parse_lines"]

SEED_FORMAT = "After %s epoch,w is %f,loss is %f,lr is %f"
ELISION = "..."

# What %f can print: digits with six decimals, or nan/inf with a sign.
_NUMBER = r"([-+]?(?:[0-9]+\.[0-9]{6}|nan|inf))"
_LINE = re.compile(rf"After ([0-9]{{1,18}}) epoch,w is {_NUMBER},loss is {_NUMBER},lr is {_NUMBER}", re.ASCII)


def format_line(epoch: int, w: float, loss: float, lr: float) -> str:
    """One line of the seed's output. ``w`` is after the update, ``loss`` before it."""
    return SEED_FORMAT % (int(epoch), float(w), float(loss), float(lr))


@dataclass(frozen=True, eq=False)
class Trace:
    """The recorded trajectory of one run.

    Attributes:
        epoch: int64, shape (n,): the recorded epochs, increasing.
        w: ``config.dtype``, shape (n, size): w after that epoch's update.
        loss: ``config.dtype``, shape (n,): ``sum((w + 1)**2)`` before the update.
        lr: float64, shape (n,): the reference schedule at that epoch.
        config: the run's :class:`DecayConfig`.
        mode: the name of the mode that produced it.
    """

    epoch: np.ndarray
    w: np.ndarray
    loss: np.ndarray
    lr: np.ndarray
    config: DecayConfig
    mode: str

    def __post_init__(self) -> None:
        dtype = np.dtype(self.config.dtype)
        object.__setattr__(self, "epoch", np.asarray(self.epoch, dtype=np.int64))
        object.__setattr__(self, "w", np.asarray(self.w, dtype=dtype).reshape(len(self.epoch), -1))
        object.__setattr__(self, "loss", np.asarray(self.loss, dtype=dtype))
        object.__setattr__(self, "lr", np.asarray(self.lr, dtype=np.float64))
        n = len(self.epoch)
        shapes = {"w": (self.w.shape, (n, self.config.size)), "loss": (self.loss.shape, (n,)), "lr": (self.lr.shape, (n,))}
        for name, (got, want) in shapes.items():
            if got != want:
                raise ValueError(f"Trace.{name} has shape {got}, expected {want}")

    def __len__(self) -> int:
        return len(self.epoch)

    @functools.cached_property
    def diverged_at(self) -> int | None:
        """The first epoch whose step expands ``|w + 1|`` or whose values are not finite.

        A step expands when ``|1 - 2 lr| > 1``, that is ``lr > 1``; the schedule is monotone, so
        that epoch is found exactly even between recorded epochs. Non-finite values are seen at
        the recorded epochs. ``None`` when neither happens.
        """
        candidates = []
        unstable = first_unstable_epoch(self.config)
        if unstable is not None:
            candidates.append(unstable)
        finite = np.isfinite(self.loss) & np.isfinite(self.w).all(axis=1)
        if not finite.all():
            candidates.append(int(self.epoch[np.argmin(finite)]))
        return min(candidates) if candidates else None

    def lines(self) -> list[str]:
        """The seed's print format, one line per recorded epoch (w is the first element)."""
        return [format_line(*row) for row in zip(self.epoch, self.w[:, 0], self.loss, self.lr, strict=True)]

    def to_json(self) -> str:
        """``{"mode", "config", "epoch", "w", "loss", "lr"}``; floats round-trip exactly.

        Each float32 value is written as the float64 repr of its exact value, and non-finite
        values as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (strict JSON).
        """
        w = self.w[:, 0] if self.config.size == 1 else self.w
        document = {
            "mode": self.mode,
            "config": self.config.to_dict(),
            "epoch": self.epoch.tolist(),
            "w": _json_floats(w),
            "loss": _json_floats(self.loss),
            "lr": _json_floats(self.lr),
        }
        return json.dumps(document, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Trace:
        """Inverse of :meth:`to_json`, bit for bit."""
        document = json.loads(text)
        config = DecayConfig.from_dict(document["config"])
        return cls(
            epoch=document["epoch"],
            w=_from_json_floats(document["w"]),
            loss=_from_json_floats(document["loss"]),
            lr=_from_json_floats(document["lr"]),
            config=config,
            mode=document["mode"],
        )

    def to_csv(self) -> str:
        """A header ``epoch,w,loss,lr`` (``w[0]``, ``w[1]``, ... when size > 1), exact floats."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        w_names = ["w"] if self.config.size == 1 else [f"w[{i}]" for i in range(self.config.size)]
        writer.writerow(["epoch", *w_names, "loss", "lr"])
        for e, w, loss, lr in zip(self.epoch.tolist(), self.w.tolist(), self.loss.tolist(), self.lr.tolist(), strict=True):
            writer.writerow([e, *map(repr, w), repr(loss), repr(lr)])
        return buffer.getvalue()


def first_unstable_epoch(config: DecayConfig) -> int | None:
    """The first epoch whose lr, in the run's dtype, exceeds 1 (``|1 - 2 lr| > 1``); ``None`` if none.

    The schedule is monotone in the epoch, so bisection finds it with O(log epochs) evaluations.

    >>> first_unstable_epoch(DecayConfig(initial_learning_rate=0.5, decay_rate=2.0))
    2
    >>> first_unstable_epoch(DecayConfig()) is None
    True
    """

    def unstable(epoch: int) -> bool:
        lr = exponential_decay(epoch, config.initial_learning_rate, config.decay_steps, config.decay_rate, config.staircase)
        # The lr the run applies, in its dtype: 1 + 2**-52 is 1.0 in float32, a step that
        # keeps |w + 1| exactly (found by hypothesis).
        with np.errstate(over="ignore"):
            return bool(np.asarray(lr, dtype=config.dtype) > 1.0)

    last = config.epochs - 1
    if not unstable(last if config.decay_rate >= 1.0 else 0):
        return None
    low, high = 0, (last if config.decay_rate >= 1.0 else 0)
    while low < high:
        middle = (low + high) // 2
        if unstable(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _json_floats(values: np.ndarray) -> Any:
    return [_json_floats(row) for row in values] if values.ndim > 1 else [_json_float(v) for v in values.tolist()]


def _json_float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _from_json_floats(values: list[Any]) -> np.ndarray:
    def convert(item: Any) -> Any:
        return [convert(x) for x in item] if isinstance(item, list) else float(item)

    return np.asarray(convert(values), dtype=np.float64)


@dataclass(frozen=True)
class SeedText:
    """Lines in the seed's print format, as parsed back.

    Attributes:
        epoch: int64, the epochs in the order they appear.
        w, loss, lr: float64, the printed (six-decimal) values.
        lines: the matched lines, verbatim.
        elided_after: for each ``...`` line, the epoch printed before it (-1 if none).
    """

    epoch: np.ndarray
    w: np.ndarray
    loss: np.ndarray
    lr: np.ndarray
    lines: tuple[str, ...]
    elided_after: tuple[int, ...]

    def by_epoch(self) -> dict[int, str]:
        """Map each epoch to its line."""
        return dict(zip(self.epoch.tolist(), self.lines, strict=True))


def parse_lines(lines: Iterable[str] | str, source: str = "<text>") -> SeedText:
    """Parse the seed's format back; ``...`` lines are elisions, blank lines are skipped.

    Raises:
        ValueError: naming ``source`` and the line number, for a line that is neither a seed
            line nor ``...``, and for epochs that do not increase.
    """
    if isinstance(lines, str):
        lines = lines.splitlines()
    epochs: list[int] = []
    values: list[tuple[float, float, float]] = []
    kept: list[str] = []
    elided: list[int] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if line.strip() == ELISION:
            elided.append(epochs[-1] if epochs else -1)
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise ValueError(f"{source}:{number}: not a seed line: {line[:80]!r}")
        epoch = int(match.group(1))
        if epochs and epoch <= epochs[-1]:
            raise ValueError(f"{source}:{number}: epoch {epoch} does not follow epoch {epochs[-1]}")
        epochs.append(epoch)
        values.append((float(match.group(2)), float(match.group(3)), float(match.group(4))))
        kept.append(line)
    columns = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    return SeedText(
        epoch=np.asarray(epochs, dtype=np.int64),
        w=columns[:, 0],
        loss=columns[:, 1],
        lr=columns[:, 2],
        lines=tuple(kept),
        elided_after=tuple(elided),
    )
