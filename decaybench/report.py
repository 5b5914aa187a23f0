"""Plain-text tables for the CLI: aligned columns that read well in a terminal and in a log.

The layout and the cell formats live in :mod:`decaybench.tables`; this module holds verify's table.

>>> print(table(["mode", "ok"], [["eager", "yes"], ["xla", "no"]]))
mode   ok
-----  ---
eager  yes
xla    no
"""

from __future__ import annotations

from decaybench.modes import SEED_ORDER
from decaybench.tables import format_count, table
from decaybench.verify import ModeReport, VerifyReport

__all__ = ["format_count", "table", "verify_table"]


def _model(row: ModeReport) -> str:
    """The model a row is held to (in its update order, when not the seed's), and whether it is that
    model bit for bit when another column does not say."""
    model = row.model if row.order == SEED_ORDER else f"{row.model} {row.order}"
    return model if row.model_identical is None else f"{model} ({'yes' if row.model_identical else 'NO'})"


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
        "resume",
        "model",
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
                row.resume,
                _model(row) if bounded else "-",
                "-" if row.diverged_at is None else f"epoch {row.diverged_at}",
                ("yes" if row.within_bound else "NO") if bounded else "-",
            ]
        )
    verdict = "every mode meets its bound" if report.ok else "some mode misses its bound"
    notes = "".join(f"\n{line}" for line in ("", *report.notes)) if report.notes else ""
    return table(header, rows) + f"\n\n{verdict}; bounds are per epoch (the largest is shown), compared before any divergence" + notes
