"""The resume check for users' own training loops (the pytest fixture ``resume_check``).

A loop that checkpoints is written as ``train(epochs, checkpoint_dir, resume) -> arrays``: it
trains ``epochs`` epochs, saving its state in ``checkpoint_dir``; with ``resume=True`` it first
restores the latest state there and continues. Its result is an array, a tuple of arrays, a
mapping of names to arrays, or a :class:`~decaybench.trace.Trace`. The check runs it whole, then
split at ``k`` (``train(k, d, False)`` followed by ``train(epochs, d, True)``), and compares the
two results bit for bit (a NaN by its sign and payload, :mod:`decaybench.bits`), naming the first
differing field and index, and a NaN's bits:

>>> import numpy as np, pathlib, tempfile
>>> def loop(restore_step):
...     def train(epochs, checkpoint_dir, resume):
...         path, ws, step = pathlib.Path(checkpoint_dir) / "state.npz", [], 0
...         if resume:
...             with np.load(path) as saved:
...                 ws, step = list(saved["w"]), int(saved["step"]) if restore_step else 0
...         w = ws[-1] if ws else np.float32(5.0)
...         for _ in range(len(ws), epochs):
...             w, step = np.float32(w - np.float32(0.2 * 0.99**step) * (2 * (w + 1))), step + 1
...             ws.append(w)
...         np.savez(path, w=np.array(ws), step=step)
...         return {"w": np.array(ws)}
...     return train
>>> check_resume(loop(restore_step=True), 10, range(1, 10), pathlib.Path(tempfile.mkdtemp()))
>>> check_resume(loop(restore_step=False), 10, 4, pathlib.Path(tempfile.mkdtemp()))  # the schedule restarts
Traceback (most recent call last):
...
decaybench.resume_check.ResumeMismatch: resumed at epoch 4: field 'w' differs first at index 4: -0.501926... whole, -0.5146755 resumed
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from decaybench.bits import same_bits, show
from decaybench.trace import ARRAYS, Trace

__all__ = ["ResumeMismatch", "check_resume", "first_difference"]

Train = Callable[[int, Path, bool], Any]


class ResumeMismatch(AssertionError):
    """A resumed run differs from the whole run; the message names the field, the index and both values."""


def _fields(result: Any) -> dict[str, np.ndarray]:
    if isinstance(result, Trace):
        return {name: getattr(result, name) for name in ARRAYS}
    if isinstance(result, Mapping):
        return {str(name): np.asarray(values) for name, values in result.items()}
    if isinstance(result, tuple):
        return {str(index): np.asarray(values) for index, values in enumerate(result)}
    return {"result": np.asarray(result)}


def first_difference(whole: Any, resumed: Any) -> str | None:
    """Where ``resumed`` first differs from ``whole`` (field, index, both values), or ``None`` when bit for bit equal."""
    a, b = _fields(whole), _fields(resumed)
    if sorted(a) != sorted(b):
        return f"fields {sorted(a)} whole, {sorted(b)} resumed"
    for name in a:
        x, y = a[name], b[name]
        if x.dtype != y.dtype or x.shape != y.shape:
            return f"field {name!r} is {x.dtype}{list(x.shape)} whole, {y.dtype}{list(y.shape)} resumed"
        differs = ~same_bits(x, y)
        if differs.any():
            index = np.unravel_index(int(np.argmax(differs)), x.shape)
            at = index[0] if len(index) == 1 else tuple(int(i) for i in index)
            return f"field {name!r} differs first at index {at}: {show(x[index])} whole, {show(y[index])} resumed"
    return None


def check_resume(train: Train, epochs: int, split: int | Iterable[int], directory: Path) -> None:
    """Run ``train`` whole and split at each ``split`` (checkpoints under ``directory``); raise :class:`ResumeMismatch`."""
    (directory / "whole").mkdir(parents=True, exist_ok=True)
    whole = train(epochs, directory / "whole", False)
    for at in [split] if isinstance(split, int) else list(split):
        if not 0 < at < epochs:
            raise ValueError(f"split must be between 0 and epochs={epochs} (exclusive), got {at}")
        path = directory / f"split-{at}"
        path.mkdir(parents=True, exist_ok=True)
        train(at, path, False)
        problem = first_difference(whole, train(epochs, path, True))
        if problem is not None:
            raise ResumeMismatch(f"resumed at epoch {at}: {problem}")
