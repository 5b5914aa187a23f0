"""``verify --policy``: the modes that take a Keras mixed-precision policy, against the mixed emulation.

Each mode of :data:`decaybench.modes.REGISTRY` whose :attr:`~decaybench.modes.ModeSpec.policy` is
set runs under ``config.policy`` and is compared with
:func:`decaybench.modes.mixed_emulation.emulate_mixed` for the Keras that runs, bit for bit: w, the
loss and the lr of every recorded epoch, and where Keras scales the loss, each epoch's skip, loss
scale and ``iterations``. The report says how many steps were skipped and whether they advanced the
schedule, and :func:`epoch_table` shows the epochs around the skips as the issue's table does:

>>> from decaybench.loss_scaling import KerasFlavour, Scaling
>>> scaling = Scaling([True, False], [16384.0, 16384.0], [0, 1], KerasFlavour("Keras 3.15.1", 3), 1)
>>> trace = Trace([0, 1], [[5.0], [2.6]], [36.0, 36.0], [0.2, 0.2], DecayConfig(epochs=2, policy="mixed_float16"), "fit", scaling)
>>> print(epoch_table({"Keras 3.15.1": trace}))
epoch  Keras 3.15.1: w, iterations, loss scale
-----  ---------------------------------------
0      5.000000, 0, 16384 (skipped)
1      2.600000, 1, 16384
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.modes import REGISTRY
from decaybench.tables import table
from decaybench.trace import Trace

__all__ = ["PolicyReport", "PolicyRow", "epoch_cell", "epoch_table", "policy_table", "verify_policy"]


@dataclass(frozen=True)
class PolicyRow:
    """One mode under the policy: what matches the emulation bit for bit, and what Keras did with skipped steps."""

    mode: str
    keras: str
    w: bool
    loss: bool
    lr: bool
    scaling: bool | None  # skipped, loss_scale and iterations; None: the policy does not scale the loss
    skipped_steps: int
    advances: bool | None  # whether skipped steps advanced the schedule; None: no loss scaling

    @property
    def ok(self) -> bool:
        return self.w and self.loss and self.lr and self.scaling is not False


@dataclass(frozen=True)
class PolicyReport:
    """The rows, and the ``fit`` trace the epoch table shows."""

    config: DecayConfig
    rows: tuple[PolicyRow, ...]
    traces: Mapping[str, Trace] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "ok": self.ok, "modes": [dataclasses.asdict(row) for row in self.rows]}


def verify_policy(config: DecayConfig, modes: tuple[str, ...] | None = None) -> PolicyReport:
    """``modes`` (default: every mode that takes a policy) under ``config.policy``, against the emulation of the Keras that runs."""
    from decaybench.modes.mixed_emulation import emulate_mixed  # with mixed_keras: loads TensorFlow
    from decaybench.modes.mixed_keras import running_keras

    if config.policy is None:
        raise ValueError("verify_policy needs config.policy")
    keras = running_keras()
    rows, traces = [], {}
    # With several steps per epoch, the modes that run them (fit, callback).
    several = config.steps_per_epoch > 1
    taking = [name for name, spec in REGISTRY.items() if spec.policy is not None and (spec.several_steps or not several)]
    for mode in (name for name in taking if modes is None or name in modes):
        trace, emulated = run(config, mode), emulate_mixed(config, mode, keras)
        traces[mode] = trace
        same = {name: bool(np.array_equal(getattr(trace, name), getattr(emulated, name))) for name in ("w", "loss", "lr")}
        scaling = None if emulated.scaling is None else emulated.scaling.same(trace.scaling)
        count = emulated.scaling.skipped_steps if emulated.scaling is not None else 0
        # A per-epoch callback's schedule counts epochs: it moves on whatever the optimizer skipped.
        counts_epochs = REGISTRY[mode].several_steps == "epochs"
        advances = (counts_epochs or keras.advances_on_skip) if emulated.scaling is not None else None
        rows.append(PolicyRow(mode, keras.name, **same, scaling=scaling, skipped_steps=count, advances=advances))
    return PolicyReport(config, tuple(rows), traces)


def _yes(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "NO"


def epoch_table(traces: Mapping[str, Trace], after: int = 2) -> str:
    """Per epoch, each trace's w, ``iterations`` and loss scale ``(skipped)``: the epochs up to ``after``
    past the last skipped one (all epochs without loss scaling, at most 10)."""
    last = max(
        (int(np.flatnonzero(t.scaling.skipped)[-1]) for t in traces.values() if t.scaling is not None and t.scaling.skipped.any()),
        default=-1,
    )
    count = min(max(len(t) for t in traces.values()), last + 1 + after if last >= 0 else 10)
    header = ["epoch", *(f"{name}: w" + (", iterations, loss scale" if t.scaling is not None else "") for name, t in traces.items())]
    first = next(iter(traces.values()))
    return table(header, [[str(int(first.epoch[row])), *(epoch_cell(trace, row) for trace in traces.values())] for row in range(count)])


def epoch_cell(trace: Trace, row: int) -> str:
    """``w, iterations, loss scale (skipped)`` of one recorded epoch (``w`` alone without loss scaling), as the issue's table."""
    cell, scaling = f"{float(trace.w[row, 0]):f}", trace.scaling
    if scaling is None:
        return cell
    return cell + f", {int(scaling.iterations[row])}, {float(scaling.loss_scale[row]):g}" + (" (skipped)" if scaling.skipped[row] else "")


def policy_table(report: PolicyReport) -> str:
    """The rows, a line on the skip semantics, and ``fit``'s epochs around the skips."""
    header = ["mode", "keras", "policy", "w", "loss", "lr", "skipped/scale/iterations", "skipped steps", "skips advance schedule", "ok"]
    rows = [
        [r.mode, r.keras, str(report.config.policy), _yes(r.w), _yes(r.loss), _yes(r.lr), _yes(r.scaling),
         str(r.skipped_steps) if r.advances is not None else "-", _yes(r.advances).lower(), _yes(r.ok)]
        for r in report.rows
    ]  # fmt: skip
    verdict = "every mode is its emulation bit for bit" if report.ok else "a mode differs from its emulation"
    lines = [table(header, rows), "", f"{verdict} (w, loss, lr, and each epoch's skip, loss scale and iterations)"]
    if "fit" in report.traces:
        keras = report.rows[0].keras
        lines += ["", f"mode fit, {keras}:", epoch_table({keras: report.traces["fit"]})]
    return "\n".join(lines)
