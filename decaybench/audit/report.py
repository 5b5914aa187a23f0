"""An audit's result: one :class:`Verdict` per check, in :data:`CHECKS` order, as a table or JSON.

>>> report = AuditReport("m:s", "keras 3.15.0", (Verdict("config", "pass", "bit for bit at 3 steps"),))
>>> print(report.table())
check   verdict  detail
------  -------  ----------------------
config  pass     bit for bit at 3 steps
<BLANKLINE>
m:s under keras 3.15.0: no check fails
>>> report.ok, report.to_dict()["checks"][0]["verdict"]
(True, 'pass')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from decaybench.tables import table

__all__ = ["CHECKS", "VERDICTS", "AuditReport", "Verdict"]

# The checks, in the order of the table and the JSON (issue 25).
CHECKS = (
    "config",
    "serialize",
    "saved-model",
    "compiled",
    "step-precision",
    "resume",
    "initial-epoch",
    "logged-vs-applied",
    "mixed-precision",
    "reference",
)
VERDICTS = ("pass", "fail", "warn", "skip")


@dataclass(frozen=True)
class Verdict:
    """One check's verdict (``pass``, ``fail``, ``warn`` or ``skip``) and what it saw, in one line."""

    check: str
    verdict: str
    detail: str

    def __post_init__(self) -> None:
        if self.check not in CHECKS or self.verdict not in VERDICTS:
            raise ValueError(f"unknown check or verdict: {self.check!r} {self.verdict!r}")


@dataclass(frozen=True)
class AuditReport:
    """The verdicts of one schedule's audit, with the target and the Keras that ran it."""

    target: str
    keras: str
    verdicts: tuple[Verdict, ...]

    @property
    def ok(self) -> bool:
        """No check failed (warnings allowed): the exit status is 0."""
        return all(verdict.verdict != "fail" for verdict in self.verdicts)

    def verdict(self, check: str) -> Verdict:
        """The verdict of ``check``."""
        return next(verdict for verdict in self.verdicts if verdict.check == check)

    def table(self) -> str:
        """The verdicts as a text table, then one line naming the target, the Keras and the outcome."""
        rows = [[verdict.check, verdict.verdict, verdict.detail] for verdict in self.verdicts]
        failed = [verdict.check for verdict in self.verdicts if verdict.verdict == "fail"]
        outcome = f"failed: {', '.join(failed)}" if failed else "no check fails"
        return table(["check", "verdict", "detail"], rows) + f"\n\n{self.target} under {self.keras}: {outcome}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: target, keras, ok, and the checks in order."""
        checks = [{"check": v.check, "verdict": v.verdict, "detail": v.detail} for v in self.verdicts]
        return {"target": self.target, "keras": self.keras, "ok": self.ok, "checks": checks}
