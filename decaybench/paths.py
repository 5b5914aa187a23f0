"""The paths one command writes, checked apart before any work: no target inside another, none in ``golden/``.

``run --checkpoint-dir same --output same`` would run to the end and only then find that its
output is the directory it checkpointed to; an output inside the checkpoint directory would be
taken for a stray file on resume; a checkpoint or an output inside the golden directory would
rewrite what only ``decaybench golden --update`` may write. :func:`check_apart` refuses these
up front, comparing real paths (symlinks resolved, missing components taken as given)::

    a and b collide  <=>  real(a) == real(b)  or  real(a) in parents(real(b))  or  real(b) in parents(real(a))

>>> check_apart({"checkpoint_dir": "run1", "output": "run1/trace.txt"})
Traceback (most recent call last):
...
decaybench.validation.InvalidValue: output is inside the checkpoint directory 'run1', got 'run1/trace.txt'
>>> check_apart({"output": "trace.txt", "checkpoint_dir": "run1"})
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from decaybench.golden import golden_dir
from decaybench.validation import InvalidValue

__all__ = ["check_apart"]

# How a refusal names the other path.
_WHAT = {"output": "the output", "checkpoint_dir": "the checkpoint directory", "dir": "the golden directory"}


def _relation(path: Path, other: Path) -> str | None:
    if path == other:
        return "is the same path as"
    if other in path.parents:
        return "is inside"
    if path in other.parents:
        return "contains"
    return None


def check_apart(targets: Mapping[str, Any]) -> None:
    """Refuse two of ``targets`` (argument name: path or ``None``) that overlap, or one inside the golden directory.

    The refusal is an :class:`~decaybench.validation.InvalidValue` naming the later argument, its
    value, and the other path.
    """
    given = {name: value for name, value in targets.items() if value is not None and str(value)}
    real = {name: Path(os.path.realpath(value)) for name, value in given.items()}
    names = list(given)
    for index, name in enumerate(names):
        for other in names[:index]:
            relation = _relation(real[name], real[other])
            if relation is not None:
                raise InvalidValue(name, str(given[name]), f"{relation} {_WHAT.get(other, other)} {str(given[other])!r}")
    golden = Path(os.path.realpath(golden_dir()))
    for name in names:
        if name != "dir" and (real[name] == golden or golden in real[name].parents):
            raise InvalidValue(name, str(given[name]), f"is inside the golden directory {str(golden)!r}, which only golden --update writes")
