"""Speed across TensorFlow versions: each env's quick pytest-benchmark run, as a table and a figure.

Each tox env writes ``<env>.bench.json`` with ``decaybench bench --quick --group seed long compile
--format json``: pytest-benchmark's JSON, with every round. For each workload (group and shape)
and mode, the table gives each env's median with its 95% interval and its time relative to the
newest TensorFlow's, ``t(env) / t(newest)`` with its interval (above 1: slower than the newest);
the figure draws the medians and intervals. The intervals are :mod:`decaybench.intervals`'.
Only our modes are compared: the peers and floors do not depend on TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from decaybench.bench.results import Result, results_of
from decaybench.files import atomic_writer
from decaybench.intervals import METHOD, Interval, ratio_interval
from decaybench.tables import format_duration
from tools.markdown import markdown_table

__all__ = ["BENCH_SUFFIX", "FIGURE", "speed_rows", "speed_section", "write_figure"]

BENCH_SUFFIX = ".bench.json"
FIGURE = "figures/compat_speed.png"

Key = tuple[str, str, str]  # (group, shape, mode)


def _key(result: Result) -> Key:
    w = result.workload
    shape = " ".join(f"{k}={v:g}" for k, v in (("epochs", w.epochs), ("size", w.size)) if v)
    return w.group, shape, w.name


def _timed(document: dict[str, Any]) -> dict[Key, Result]:
    return {_key(r): r for r in results_of(document) if r.median is not None and r.workload.kind == "mode" and r.workload.device == "cpu"}


def _median(result: Result | None) -> str:
    if result is None or result.interval is None:
        return "-"
    value, low, high = result.interval
    return f"{format_duration(value)} [{format_duration(low)}, {format_duration(high)}]"


def _relative(interval: Interval | None) -> str:
    """``t(env) / t(newest)``.

    >>> _relative((1.25, 1.1, 1.4)), _relative(None)
    ('1.25x [1.1, 1.4]', '-')
    """
    return "-" if interval is None else f"{interval[0]:.3g}x [{interval[1]:.3g}, {interval[2]:.3g}]"


def speed_rows(names: Sequence[str], documents: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The table's header and rows: per workload and mode, each env's median and ``t(env) / t(newest)``.

    ``names`` and ``documents`` are in env order, oldest TensorFlow first: the last is the newest.
    """
    timed = [_timed(document) for document in documents]
    keys = sorted(
        {key for env in timed for key in env},
        key=lambda k: (("seed", "long", "compile").index(k[0]) if k[0] in ("seed", "long", "compile") else 3, k),
    )
    newest = timed[-1]
    rows = []
    for key in keys:
        cells = [_median(env.get(key)) for env in timed]
        relative = [
            _relative(ratio_interval(env[key].seconds, newest[key].seconds) if key in env and key in newest else None) for env in timed[:-1]
        ]
        rows.append([key[0], key[1], key[2], *cells, *relative])
    header = ["group", "shape", "mode", *(f"{name} median" for name in names), *(f"{name} / {names[-1]}" for name in names[:-1])]
    return header, rows


def speed_section(names: Sequence[str], documents: Sequence[dict[str, Any] | None], figure: str | None) -> list[str]:
    """The page's section: the table, then the figure (``figure``: its path relative to the page)."""
    present = [(name, document) for name, document in zip(names, documents, strict=True) if document]
    if not present:
        return []
    missing = [name for name, document in zip(names, documents, strict=True) if not document]
    header, rows = speed_rows([name for name, _ in present], [document for _, document in present])
    lines = [
        "## Speed per TensorFlow version",
        "",
        "Each env's `decaybench bench --quick --group seed long compile` (pytest-benchmark, every round kept): the median of"
        f" each mode with its 95% interval, and `t(env) / t({present[-1][0]})`, above 1 slower than the newest, with its"
        f" interval ({METHOD}). Each env ran in turn on the same machine; the machine load is in the table above.",
        "",
        markdown_table(header, rows or [["(nothing timed)", *("-" for _ in header[1:])]]),
        "",
    ]
    if missing:
        lines += [f"No benchmark file from: {', '.join(missing)}.", ""]
    if figure:
        lines += [f"![Median per mode and TensorFlow version, with 95% intervals]({figure})", ""]
    return lines


def write_figure(names: Sequence[str], documents: Sequence[dict[str, Any]], path: Path | str) -> None:
    """Bars of each mode's median per env (log scale, 95% intervals as error bars), one panel per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    timed = [_timed(document) for document in documents]
    groups = [g for g in ("seed", "long", "compile") if any(key[0] == g for env in timed for key in env)]
    figure, axes = plt.subplots(len(groups), 1, figsize=(11, 3.2 * max(1, len(groups))), squeeze=False)
    width = 0.8 / max(1, len(names))
    for axis, group in zip(axes[:, 0], groups, strict=True):
        keys = sorted({key for env in timed for key in env if key[0] == group})
        for index, (name, env) in enumerate(zip(names, timed, strict=True)):
            found = [env[key].interval if key in env else None for key in keys]
            values = np.array([np.nan if f is None else f[0] for f in found])
            errors = np.array([[0.0, 0.0] if f is None else [f[0] - f[1], f[2] - f[0]] for f in found]).T
            axis.bar(np.arange(len(keys)) + index * width, values, width, yerr=errors, label=name, capsize=2)
        axis.set_xticks(np.arange(len(keys)) + width * (len(names) - 1) / 2)
        axis.set_xticklabels([f"{mode}\n{shape}" if group == "long" else mode for _, shape, mode in keys], fontsize=7)
        axis.set_yscale("log")
        axis.set_ylabel("seconds per call")
        axis.set_title(f"{group}: median per TensorFlow version (95% interval)")
    axes[0, 0].legend(fontsize=7, ncols=len(names))
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path) as handle:
        figure.savefig(handle, format="png", dpi=110)
    plt.close(figure)
