"""``python -m tools.audit_docs``: the audit of Keras's built-in schedules, for ``docs/audit.md`` and the README.

``collect --output FILE.json`` audits every schedule of :data:`SCHEDULES` under the Keras that runs
(``TF_USE_LEGACY_KERAS=1``: tf_keras), each against its documented formula
(:mod:`decaybench.audit.references`); ``build --input FILE.json ... --output docs/audit.md`` writes
the page, one verdict matrix per Keras and every detail. ``make compat`` collects in every tox env,
with and without ``TF_USE_LEGACY_KERAS``. Each row is a command a user can run from the checkout::

    decaybench audit tools.audit_docs:cosine_decay --reference tools.audit_docs:cosine_decay_reference

The configurations put the large steps (2**24 and beyond) inside each schedule's decay, where a
step rounded to float32 shows: a decay over 2**25 steps, or a rate that halves every 2**20 steps.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from decaybench.audit import CHECKS, audit, references
from decaybench.cli.parsing import Command, Flag, build_parser, run_parser
from decaybench.files import write_atomic

__all__ = ["SCHEDULES", "main", "render"]

LONG = 2**25
HALVING = 2**20


def _keras(name: str, **arguments: Any) -> Callable[[], Any]:
    def make() -> Any:
        import tensorflow as tf  # here: listing the schedules loads no TensorFlow

        return getattr(tf.keras.optimizers.schedules, name)(**arguments)

    make.__doc__ = f"keras.optimizers.schedules.{name}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"
    return make


def decaybench_exponential_decay() -> Any:
    """decaybench.ExponentialDecay(initial_learning_rate=0.1, decay_steps=1048576, decay_rate=0.5)"""
    from decaybench.keras_schedule import ExponentialDecay  # loads TensorFlow

    return ExponentialDecay(0.1, decay_steps=HALVING, decay_rate=0.5)


exponential_decay = _keras("ExponentialDecay", initial_learning_rate=0.1, decay_steps=HALVING, decay_rate=0.5)
exponential_decay_reference = partial(references.exponential_decay, initial_learning_rate=0.1, decay_steps=HALVING, decay_rate=0.5)
inverse_time_decay = _keras("InverseTimeDecay", initial_learning_rate=0.1, decay_steps=1000, decay_rate=0.5)
inverse_time_decay_reference = partial(references.inverse_time_decay, initial_learning_rate=0.1, decay_steps=1000, decay_rate=0.5)
polynomial_decay = _keras("PolynomialDecay", initial_learning_rate=0.1, decay_steps=LONG, end_learning_rate=0.001, power=2.0)
polynomial_decay_reference = partial(
    references.polynomial_decay, initial_learning_rate=0.1, decay_steps=LONG, end_learning_rate=0.001, power=2.0
)
cosine_decay = _keras("CosineDecay", initial_learning_rate=0.1, decay_steps=LONG, alpha=0.01)
cosine_decay_reference = partial(references.cosine_decay, initial_learning_rate=0.1, decay_steps=LONG, alpha=0.01)
cosine_decay_warmup = _keras("CosineDecay", initial_learning_rate=0.0, decay_steps=LONG, alpha=0.01, warmup_target=0.1, warmup_steps=1000)
cosine_decay_warmup_reference = partial(
    references.cosine_decay, initial_learning_rate=0.0, decay_steps=LONG, alpha=0.01, warmup_target=0.1, warmup_steps=1000
)
cosine_decay_restarts = _keras("CosineDecayRestarts", initial_learning_rate=0.1, first_decay_steps=1000, t_mul=2.0, m_mul=0.9, alpha=0.01)
cosine_decay_restarts_reference = partial(
    references.cosine_decay_restarts, initial_learning_rate=0.1, first_decay_steps=1000, t_mul=2.0, m_mul=0.9, alpha=0.01
)
piecewise_constant_decay = _keras("PiecewiseConstantDecay", boundaries=[1000, 2**24], values=[0.1, 0.01, 0.001])
piecewise_constant_decay_reference = partial(references.piecewise_constant_decay, boundaries=[1000, 2**24], values=[0.1, 0.01, 0.001])
decaybench_exponential_decay_reference = exponential_decay_reference

# The rows of the table: a label, and the names of the factory and of its reference in this module.
SCHEDULES = {
    "ExponentialDecay": "exponential_decay",
    "InverseTimeDecay": "inverse_time_decay",
    "PolynomialDecay": "polynomial_decay",
    "CosineDecay": "cosine_decay",
    "CosineDecay (warmup)": "cosine_decay_warmup",
    "CosineDecayRestarts": "cosine_decay_restarts",
    "PiecewiseConstantDecay": "piecewise_constant_decay",
    "decaybench.ExponentialDecay": "decaybench_exponential_decay",
}


def _collect(args: argparse.Namespace) -> int:
    rows, keras = [], ""
    for label, name in SCHEDULES.items():
        report = audit(f"tools.audit_docs:{name}", reference=f"tools.audit_docs:{name}_reference")
        keras = report.keras
        rows.append({"schedule": label, "name": name, "configuration": globals()[name].__doc__, **report.to_dict()})
        print(f"{label}: {', '.join(f'{v.check} {v.verdict}' for v in report.verdicts)}", flush=True)
    write_atomic(Path(args.output), json.dumps({"keras": keras, "rows": rows}, indent=1) + "\n")
    return 0


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(collected: Sequence[dict[str, Any]]) -> str:
    """The page: the summary (between markers, for the README block), then each Keras's details."""
    lines = ["| schedule | keras | " + " | ".join(f"`{check}`" for check in CHECKS) + " |", "|---|---|" + "---|" * len(CHECKS)]
    for document in collected:
        for row in document["rows"]:
            verdicts = {entry["check"]: entry["verdict"] for entry in row["checks"]}
            keras = document["keras"].replace("TensorFlow ", "TF ")  # the TF version tells apart the envs that run one Keras
            lines.append(f"| {row['schedule']} | {keras} | " + " | ".join(verdicts[check] for check in CHECKS) + " |")
    page = [
        "# The audit of Keras's built-in schedules",
        "",
        "Generated by `make compat` (`python -m tools.audit_docs`); do not edit. Each schedule is audited by",
        "`decaybench audit` against its documented formula (`decaybench/audit/references.py`), under each Keras.",
        "",
        "<!-- BEGIN summary -->",
        *lines,
        "<!-- END summary -->",
    ]
    for document in collected:
        page += ["", f"## {document['keras']}"]
        for row in document["rows"]:
            page += ["", f"### {row['schedule']}", "", f"`{row['configuration']}`", ""]
            page += [f"    decaybench audit tools.audit_docs:{row['name']} --reference tools.audit_docs:{row['name']}_reference", ""]
            page += ["| check | verdict | detail |", "|---|---|---|"]
            page += [f"| `{entry['check']}` | {entry['verdict']} | {_cell(entry['detail'])} |" for entry in row["checks"]]
    return "\n".join(page) + "\n"


def _build(args: argparse.Namespace) -> int:
    collected = [json.loads(Path(path).read_text(encoding="utf-8")) for path in args.input]
    unique = list({document["keras"]: document for document in collected}.values())  # TF 2.15 has one Keras either way
    write_atomic(Path(args.output), render(unique))
    return 0


COMMANDS = (
    Command(
        "collect",
        _collect,
        help="audit the built-in schedules under the Keras that runs",
        description="Audit the built-in schedules under the Keras that runs; write the reports as JSON.",
        flags=(Flag("--output", {"required": True, "metavar": "FILE"}),),
    ),
    Command(
        "build",
        _build,
        help="write docs/audit.md from collected reports",
        description="Write docs/audit.md from the collected reports, one Keras after the other.",
        flags=(
            Flag("--input", {"required": True, "nargs": "+", "metavar": "FILE"}),
            Flag("--output", {"required": True, "metavar": "FILE"}),
        ),
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.audit_docs collect --output FILE`` or ``build --input FILE ... --output docs/audit.md``."""
    parser = build_parser("python -m tools.audit_docs", (__doc__ or "").split("\n", 1)[0], COMMANDS)
    return run_parser(parser, COMMANDS, argv, errors=(ValueError, OSError))


if __name__ == "__main__":
    raise SystemExit(main())
