"""Tables and what goes in their cells, for the terminal.

The CLI's tables (``decaybench verify``, ``bench``) are built from these, and so are the docs pages
(with ``tools/markdown.py``): the table layout, the count and duration formats, and the facts of the
machine a number was measured on. It imports nothing of decaybench and no TensorFlow.

>>> print(table(["mode", "ok"], [["eager", "yes"], ["xla", "no"]]))
mode   ok
-----  ---
eager  yes
xla    no
"""

from __future__ import annotations

import numbers
import os
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "UINT64_MAX",
    "cpu",
    "format_count",
    "format_duration",
    "load_average",
    "table",
    "version",
]

UINT64_MAX = 2**64 - 1

# ---- tables -------------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, with a rule under the header."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in (header, *rows)]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


# ---- cells --------------------------------------------------------------------------------------


def format_count(value: int) -> str:
    """An integer, in scientific notation when long; the uint64 maximum reads ``inf``.

    >>> format_count(27), format_count(27680460), format_count(2**64 - 1)
    ('27', '2.8e+07', 'inf')
    """
    if value >= UINT64_MAX:
        return "inf"
    return str(value) if value < 100_000 else f"{value:.1e}"


def format_duration(value: Any) -> str:
    """A duration to three significant digits in s, ms, us or ns; ``-`` when not measured.

    >>> format_duration(2.5), format_duration(1e-4), format_duration(3e-8), format_duration(None)
    ('2.5 s', '100 us', '30 ns', '-')
    """
    if not isinstance(value, numbers.Real):
        return "-"
    seconds = float(value)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


# ---- the machine --------------------------------------------------------------------------------


def cpu() -> dict[str, Any]:
    """``{"model", "fma"}``: the CPU's model name and whether it has FMA (``None`` when unknown).

    Both come from ``/proc/cpuinfo``; elsewhere the model is the platform's processor.
    """
    fallback = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"model": fallback, "fma": None}
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), fallback)
    return {"model": model, "fma": " fma " in info.replace("\n", " ")}


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages (``None`` where the OS has none): how busy the machine was."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def version(distribution: str) -> str | None:
    """The installed version of ``distribution`` (its name on PyPI), ``None`` when it is not installed.

    >>> version("numpy") is not None, version("no-such-distribution")
    (True, None)
    """
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
