"""Group ``checkpoint``: what saving the state costs, at the default interval (:mod:`decaybench.checkpoint`).

Each mode runs the same configuration twice: plainly, and with ``checkpoint_dir`` into a new
directory, saving every ``max(1, epochs // 10)`` epochs (11 checkpoints with the one of epoch 0).
The difference of the two medians, divided by the epochs, is the per-epoch overhead.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from decaybench.bench.workload import SMALL, Call, Workload
from decaybench.config import DecayConfig
from decaybench.loops import run

__all__ = ["CHECKPOINT_EPOCHS", "checkpoint_group"]

# Epochs per run: each mode's run lasts tens of milliseconds or more, so eleven checkpoints show.
CHECKPOINT_EPOCHS = {"eager": 2_000, "xla": 200_000, "numpy": 20_000}
# Modes whose run here takes a second or more a call (eager ~1.5 s, numpy ~1 s): ``--quick`` leaves them out.
SLOW_MODES = frozenset({"eager", "numpy"})


class _Checkpointed:
    """``run(config, mode)`` checkpointed into a new directory per call, under one parent made by the
    builder and removed when the workload lets go of it: both outside the clock."""

    def __init__(self, config: DecayConfig, mode: str) -> None:
        self.config, self.mode = config, mode
        self.parent = tempfile.mkdtemp(prefix="decaybench-bench-")
        self.calls = itertools.count()

    def __call__(self) -> Any:
        return run(self.config, self.mode, checkpoint_dir=f"{self.parent}/run{next(self.calls)}")

    def __del__(self) -> None:
        shutil.rmtree(self.parent, ignore_errors=True)


def _checkpointed(config: DecayConfig, mode: str) -> Callable[[], Call]:
    return lambda: _Checkpointed(config, mode)


def _plain(config: DecayConfig, mode: str) -> Callable[[], Call]:
    def build() -> Call:
        return lambda: run(config, mode)

    return build


def checkpoint_group(device: str) -> list[Workload]:
    """Per mode: the run, and the same run checkpointed at the default interval (CPU only)."""
    rows = []
    for mode, epochs in CHECKPOINT_EPOCHS.items():
        config = DecayConfig(epochs=epochs, record_every=max(1, epochs // 1000))
        shape: dict[str, Any] = {"epochs": epochs, "size": 1, "steps": epochs, "mode": mode, "host_only": True, "slow": mode in SLOW_MODES}
        tiny = DecayConfig(epochs=SMALL)
        small = (_plain(tiny, mode), _checkpointed(tiny, mode)) if mode in SLOW_MODES else (None, None)
        rows.append(Workload("checkpoint", mode, "baseline", device, _plain(config, mode), note="no checkpoint", small=small[0], **shape))
        rows.append(
            Workload(
                "checkpoint",
                f"{mode} checkpointed",
                "mode",
                device,
                _checkpointed(config, mode),
                note=f"every {max(1, epochs // 10):,} epochs",
                small=small[1],
                **shape,
            )
        )
    return rows
