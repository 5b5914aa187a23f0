"""Markdown for the docs pages (``docs/benchmarks.md``, ``docs/compat.md``): tables, and the cells only they show.

>>> print(markdown_table(["fact", "a"], [["x", "1|2"]]))
| fact | a |
|---|---|
| x | 1\\|2 |
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

__all__ = ["format_load", "format_seconds", "markdown_table"]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table: a header, a rule, one line per row; a ``|`` or newline in a cell is escaped.

    >>> print(markdown_table(["a"], [["x\\ny"]]))
    | a |
    |---|
    | x y |
    """
    lines = [_markdown_row(header), "|" + "---|" * len(header)]
    lines += [_markdown_row(row) for row in rows]
    return "\n".join(lines)


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"


def format_seconds(value: Any) -> str:
    """A duration of about a second: seconds to two decimals, milliseconds below 0.1 s; ``-`` when not measured.

    >>> format_seconds(1.23456), format_seconds(0.00195), format_seconds(None)
    ('1.23 s', '1.9 ms', '-')
    """
    if not isinstance(value, numbers.Real):
        return "-"
    seconds = float(value)
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def format_load(value: Any, decimals: int = 1) -> str:
    """The 1-, 5- and 15-minute load averages, as :func:`~decaybench.tables.load_average` gives them; ``-`` when unknown.

    >>> format_load([2.17, 2.65, 3.3]), format_load([2.17, 2.65, 3.3], decimals=2), format_load(None)
    ('2.2, 2.6, 3.3', '2.17, 2.65, 3.30', '-')
    """
    if not isinstance(value, (list, tuple)) or not value:
        return "-"
    return ", ".join(f"{number:.{decimals}f}" for number in value)
