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
import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from decaybench.bits import same_bits
from decaybench.config import DecayConfig
from decaybench.json_floats import encode_array
from decaybench.loss_scaling import Scaling
from decaybench.metrics import diverged_at, first_unstable_epoch
from decaybench.reading import MAX_DEPTH, depth
from decaybench.validation import INT64_MAX

__all__ = ["SEED_FORMAT", "SeedText", "Trace", "TraceFormatError", "first_unstable_epoch", "format_line", "parse_lines"]

SEED_FORMAT = "After %s epoch,w is %f,loss is %f,lr is %f"
ELISION = "..."
SKIPPED = " (skipped)"  # after the line of an epoch whose update a loss-scaled run skipped
# What a run computed: two traces are the same run when these agree (config and mode aside).
ARRAYS = ("epoch", "w", "loss", "lr")

# What %f can print: digits with six decimals, or nan/inf with a sign.
_NUMBER = r"([-+]?(?:[0-9]+\.[0-9]{6}|nan|inf))"
_LINE = re.compile(rf"After ([0-9]+) epoch,w is {_NUMBER},loss is {_NUMBER},lr is {_NUMBER}(?:{re.escape(SKIPPED)})?", re.ASCII)


def format_line(epoch: int, w: float, loss: float, lr: float) -> str:
    """One line of the seed's output. ``w`` is after the update, ``loss`` before it."""
    return SEED_FORMAT % (int(epoch), float(w), float(loss), float(lr))


def _read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` (the caller's array keeps its own flags); no copy."""
    view = array.view()
    view.flags.writeable = False
    return view


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
        scaling: per recorded epoch, the skipped updates, loss scale and iterations of a run whose
            loss Keras scales (``config.policy`` ``mixed_float16``); ``None`` otherwise.

    Nothing writes through a trace: its arrays are read-only views, so a compiled run's rows can be
    views of the buffer its one call wrote, with no copy (``np.array(trace.w)`` is a writable copy).
    A trace built from arrays shares their memory and leaves their flags alone: whoever keeps
    writing to those arrays changes the trace.

    >>> trace = Trace([0], [[2.6]], [36.0], [0.2], DecayConfig(epochs=1), "eager")
    >>> trace.w.flags.writeable
    False
    """

    epoch: np.ndarray
    w: np.ndarray
    loss: np.ndarray
    lr: np.ndarray
    config: DecayConfig
    mode: str
    scaling: Scaling | None = None

    def __post_init__(self) -> None:
        dtype = np.dtype(self.config.dtype)
        object.__setattr__(self, "epoch", _read_only(np.asarray(self.epoch, dtype=np.int64)))
        object.__setattr__(self, "w", _read_only(np.asarray(self.w, dtype=dtype).reshape(len(self.epoch), -1)))
        object.__setattr__(self, "loss", _read_only(np.asarray(self.loss, dtype=dtype)))
        object.__setattr__(self, "lr", _read_only(np.asarray(self.lr, dtype=np.float64)))
        n = len(self.epoch)
        shapes = {"w": (self.w.shape, (n, self.config.size)), "loss": (self.loss.shape, (n,)), "lr": (self.lr.shape, (n,))}
        if self.scaling is not None:
            shapes["scaling"] = (self.scaling.skipped.shape, (n,))
        for name, (got, want) in shapes.items():
            if got != want:
                raise ValueError(f"Trace.{name} has shape {got}, expected {want}")

    def __len__(self) -> int:
        return len(self.epoch)

    def identical(self, other: Trace) -> bool:
        """Whether ``other`` holds the same numbers: epoch, w, loss and lr, dtype, shape and value.

        Values compare bit for bit (:func:`decaybench.bits.same_bits`): a NaN equals a NaN with the
        same sign and payload, as a repeated run that diverged the same way gives, and ``-0.0``
        differs from ``0.0``; config and mode are not compared.

        >>> trace = Trace([0], [[np.nan]], [1.0], [0.2], DecayConfig(epochs=1), "eager")
        >>> trace.identical(Trace([0], [[np.nan]], [1.0], [0.2], DecayConfig(epochs=1), "numpy"))
        True
        >>> trace.identical(Trace([0], [[-np.nan]], [1.0], [0.2], DecayConfig(epochs=1), "eager"))
        False
        """
        pairs = [(getattr(self, name), getattr(other, name)) for name in ARRAYS]
        return all(a.dtype == b.dtype and a.shape == b.shape and bool(same_bits(a, b).all()) for a, b in pairs)

    def digest(self) -> str:
        """SHA-256 (hex) of every byte of epoch, w, loss and lr, in that order: equal digests, equal bits.

        >>> len(Trace([0], [[2.6]], [36.0], [0.2], DecayConfig(epochs=1), "eager").digest())
        64
        """
        digest = hashlib.sha256()
        for name in ARRAYS:
            digest.update(np.ascontiguousarray(getattr(self, name)).tobytes())
        return digest.hexdigest()

    @functools.cached_property
    def diverged_at(self) -> int | None:
        """The first epoch whose step expands ``|w + 1|`` or whose values are not finite.

        A step expands when ``|1 - 2 lr| > 1``, that is ``lr > 1``; the schedule is monotone, so
        that epoch is found exactly even between recorded epochs. Non-finite values are seen at
        the recorded epochs. ``None`` when neither happens. The rule is :func:`decaybench.metrics.diverged_at`.
        """
        return diverged_at(self.config, self.epoch, self.loss, self.w)

    def lines(self) -> list[str]:
        """The seed's print format, one line per recorded epoch (w is the first element)."""
        lines = [format_line(*row) for row in zip(self.epoch, self.w[:, 0], self.loss, self.lr, strict=True)]
        if self.scaling is not None:
            lines = [line + SKIPPED if skipped else line for line, skipped in zip(lines, self.scaling.skipped.tolist(), strict=True)]
        return lines

    def to_json(self) -> str:
        """``{"mode", "config", "epoch", "w", "loss", "lr"}``; floats round-trip exactly.

        Each float32 value is written as the float64 repr of its exact value, and non-finite
        values as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (strict JSON; the
        codec is :mod:`decaybench.json_floats`).
        """
        w = self.w[:, 0] if self.config.size == 1 else self.w
        document = {
            "mode": self.mode,
            "config": self.config.to_dict(),
            "epoch": self.epoch.tolist(),
            "w": encode_array(w),
            "loss": encode_array(self.loss),
            "lr": encode_array(self.lr),
            **(self.scaling.to_dict() if self.scaling is not None else {}),
        }
        return json.dumps(document, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Trace:
        """Inverse of :meth:`to_json`, bit for bit; anything else is a :class:`TraceFormatError`.

        The reader is strict: the six keys exactly, epochs that are increasing int64 integers (an
        epoch of ``0.7`` is refused, not truncated), and values that are exact in the trace's
        dtype (a float32 trace holds float32 values only).

        >>> Trace.from_json('{"epoch": [0.7]}')
        Traceback (most recent call last):
        ...
        decaybench.trace.TraceFormatError: line 1: missing keys ['config', 'loss', 'lr', 'mode', 'w']
        """
        document = _load_json(text)
        keys = _KEYS + Scaling.KEYS if "loss_scaling" in document else _KEYS
        missing, unknown = sorted(set(keys) - set(document)), sorted(set(document) - set(keys))
        if missing or unknown:
            raise TraceFormatError(f"missing keys {missing}" if missing else f"unknown keys {unknown}")
        if not isinstance(document["mode"], str) or not isinstance(document["config"], dict):
            raise TraceFormatError("mode must be a string and config an object", _line_of(text, "mode"))
        try:
            config = DecayConfig.from_dict(document["config"])
        except (ValueError, TypeError) as error:
            raise TraceFormatError(f"config: {error}", _line_of(text, "config")) from None
        dtype = np.dtype(config.dtype)
        epoch = _epochs(document["epoch"], _line_of(text, "epoch"))
        dtypes = {"w": dtype, "loss": dtype, "lr": np.dtype(np.float64)}  # lr is the float64 reference
        arrays = {name: _floats(name, document[name], dtypes[name], _line_of(text, name)) for name in dtypes}
        try:
            scaling = Scaling.from_dict(document) if keys != _KEYS else None
            return cls(epoch=epoch, **arrays, config=config, mode=document["mode"], scaling=scaling)
        except (ValueError, TypeError, KeyError) as error:
            raise TraceFormatError(str(error), _line_of(text, "w")) from None

    def to_csv(self) -> str:
        """A header ``epoch,w,loss,lr`` (``w[0]``, ``w[1]``, ... when size > 1), exact floats."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        w_names = ["w"] if self.config.size == 1 else [f"w[{i}]" for i in range(self.config.size)]
        scaled = self.scaling is not None
        writer.writerow(["epoch", *w_names, "loss", "lr", *(("skipped", "loss_scale", "iterations") if scaled else ())])
        rows = zip(self.epoch.tolist(), self.w.tolist(), self.loss.tolist(), self.lr.tolist(), strict=True)
        for row, (e, w, loss, lr) in enumerate(rows):
            extra = (self.scaling.skipped[row], float(self.scaling.loss_scale[row]), self.scaling.iterations[row]) if self.scaling else ()
            writer.writerow([e, *map(repr, w), repr(loss), repr(lr), *map(str, extra)])
        return buffer.getvalue()


class TraceFormatError(ValueError):
    """A trace's JSON that :meth:`Trace.from_json` refuses: ``line`` (1-based) and ``reason``."""

    def __init__(self, reason: str, line: int = 1) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}")


_KEYS = ("mode", "config", "epoch", "w", "loss", "lr")
# The spellings json_floats writes for the values JSON has no number for.
_NON_FINITE = ("NaN", "Infinity", "-Infinity")


def _line_of(text: str, key: str) -> int:
    found = text.find(f'"{key}"')
    return text.count("\n", 0, found) + 1 if found >= 0 else 1


def _load_json(text: str) -> dict[str, Any]:
    if depth(text) > MAX_DEPTH:  # checked before the parser recurses
        raise TraceFormatError(f"not JSON: nested too deeply (more than {MAX_DEPTH} levels)")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise TraceFormatError(f"not JSON: {error.msg} (column {error.colno})", error.lineno) from None
    except ValueError as error:  # an integer past Python's digit limit
        raise TraceFormatError(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise TraceFormatError(f"expected a JSON object, got a {type(document).__name__}")
    return document


def _epochs(values: Any, line: int) -> np.ndarray:
    if not isinstance(values, list) or not all(type(value) is int for value in values):
        bad = next((value for value in values if type(value) is not int), values) if isinstance(values, list) else values
        raise TraceFormatError(f"epoch must be a list of integers, found {bad!r}", line)
    for previous, value in zip([-1, *values], values, strict=False):
        if not previous < value <= INT64_MAX:
            reason = "out of range (an int64 >= 0)" if not 0 <= value <= INT64_MAX else f"does not follow epoch {previous}"
            raise TraceFormatError(f"epoch {value} {reason}", line)
    return np.asarray(values, dtype=np.int64)


def _floats(name: str, values: Any, dtype: np.dtype[Any], line: int) -> np.ndarray:
    """``values`` (nested lists of numbers and :data:`_NON_FINITE` names) as float64, each exact in ``dtype``."""

    def convert(item: Any, depth: int) -> Any:
        if isinstance(item, list) and depth < 2:
            return [convert(value, depth + 1) for value in item]
        if isinstance(item, str) and item in _NON_FINITE:
            return float(item)
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise TraceFormatError(f"{name} holds {item!r}, not a number", line)
        try:
            return float(item)
        except OverflowError:
            raise TraceFormatError(f"{name} holds {item!r}, out of range", line) from None

    converted = convert(values, 0)
    try:
        array = np.asarray(converted, dtype=np.float64)
    except ValueError:  # ragged rows
        raise TraceFormatError(f"{name} has rows of different lengths", line) from None
    with np.errstate(over="ignore"):
        inexact = ~((array.astype(dtype).astype(np.float64) == array) | np.isnan(array))
    if inexact.any():
        raise TraceFormatError(f"{name} holds {array[inexact].flat[0].item()!r}, not a {dtype} value", line)
    return array


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
        epoch = int(match.group(1)) if len(match.group(1)) <= 19 else INT64_MAX + 1
        if epoch > INT64_MAX:
            raise ValueError(f"{source}:{number}: epoch {match.group(1)[:40]} is out of range (an int64)")
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
