"""Plain-text tables for the CLI: aligned columns that read well in a terminal and in a log.

>>> print(table(["mode", "ok"], [["eager", "yes"], ["xla", "no"]]))
mode   ok
-----  ---
eager  yes
xla    no
"""

from __future__ import annotations

from collections.abc import Sequence

from decaybench.verify import VerifyReport

__all__ = ["format_count", "table", "verify_table"]

UINT64_MAX = 2**64 - 1


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, with a rule under the header."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in (header, *rows)]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_count(value: int) -> str:
    """An integer, in scientific notation when long; the uint64 maximum reads ``inf``.

    >>> format_count(27), format_count(27680460), format_count(2**64 - 1)
    ('27', '2.8e+07', 'inf')
    """
    if value >= UINT64_MAX:
        return "inf"
    return str(value) if value < 100_000 else f"{value:.1e}"


def verify_table(report: VerifyReport) -> str:
    """The verification table, one row per mode, and a verdict line."""
    header = [
        "mode",
        "contract",
        "seed lines",
        "golden",
        "bit-identical",
        "ULP w (bound)",
        "ULP loss (bound)",
        "rel.err w",
        "rel.err loss",
        "lr vs tf.keras",
        "traces",
        "repeatable",
        "diverged",
        "ok",
    ]
    rows = []
    for row in report.rows:
        bounded = row.contract != "reference"
        rows.append(
            [
                row.mode if bounded else f"{row.mode} (reference)",
                row.contract,
                row.documented,
                row.golden,
                "yes" if row.bit_identical else "no",
                f"{format_count(row.max_ulp_w)}" + (f" ({format_count(row.bound_w)})" if bounded else ""),
                f"{format_count(row.max_ulp_loss)}" + (f" ({format_count(row.bound_loss)})" if bounded else ""),
                f"{row.oracle_rel_w:.2e}",
                f"{row.oracle_rel_loss:.2e}",
                row.lr_vs_tf_keras,
                row.traces,
                "yes" if row.repeatable else "NO",
                "-" if row.diverged_at is None else f"epoch {row.diverged_at}",
                ("yes" if row.within_bound else "NO") if bounded else "-",
            ]
        )
    verdict = "every mode meets its bound" if report.ok else "some mode misses its bound"
    return table(header, rows) + f"\n\n{verdict}; bounds are per epoch (the largest is shown), compared before any divergence"
