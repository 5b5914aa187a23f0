"""``decaybench audit TARGET``: the audit of one learning-rate schedule, as a table or JSON.

Exit status 0 when no check fails (warnings allowed), 1 when one fails, 2 on bad input (a target
that cannot be imported or is not a schedule, a bad flag), with one line on stderr.
"""

from __future__ import annotations

import argparse
import json

from decaybench.audit import CHECKS, audit
from decaybench.audit.probes import DEFAULT_STEPS
from decaybench.cli.commands import OUTPUT, TABLE_OR_JSON
from decaybench.cli.parsing import Command, Flag
from decaybench.cli.runtime import PROG, emit, load_tensorflow
from decaybench.files import check_writable
from decaybench.validation import check_positive_int

__all__ = ["AUDIT", "run_audit"]


def run_audit(args: argparse.Namespace) -> int:
    """Check the flags, load TensorFlow, audit, print; 1 when a check fails."""
    check_positive_int("steps", args.steps)
    output = check_writable(args.output) if args.output is not None else None
    load_tensorflow()
    report = audit(args.target, reference=args.reference, steps=args.steps)
    emit(json.dumps(report.to_dict(), indent=2) + "\n" if args.format == "json" else report.table() + "\n", output)
    return 0 if report.ok else 1


AUDIT = Command(
    "audit",
    run_audit,
    help="check any learning-rate schedule on the paths users train through",
    description=(
        "Audit one Keras LearningRateSchedule: TARGET is module:attr (an instance, or a callable returning one) or a .keras "
        f"model whose optimizer's schedule is audited. The checks, in order: {', '.join(CHECKS)}; each passes, fails, warns "
        "or is skipped, naming the first step where values differ, both values and the ULP distance. Exits 0 when no "
        "check fails, 1 when one does."
    ),
    examples=(
        f"{PROG} audit mymodule:schedule",
        f"{PROG} audit mymodule:make_schedule --reference mymodule:formula --format json --output audit.json",
        f"{PROG} audit model.keras --steps 100",
    ),
    flags=(
        Flag("target", {"metavar": "TARGET", "help": "module:attr naming a schedule (or a factory of one), or a .keras model"}),
        Flag(
            "--steps",
            {
                "type": int,
                "default": DEFAULT_STEPS,
                "metavar": "N",
                "help": f"probe the first N steps, besides boundaries and large steps ({DEFAULT_STEPS})",
            },
        ),
        Flag("--reference", {"metavar": "MODULE:FUNC", "help": "the schedule's intended formula: a float64 function of the step"}),
        TABLE_OR_JSON,
        OUTPUT,
    ),
)
