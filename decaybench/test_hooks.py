"""Hooks for tests only: environment variables that make decaybench misbehave on purpose.

Only the test suite sets them (tests/test_distributed.py, test_recovery.py, test_real_cluster.py,
test_resume_faults.py); a user never needs them. Every module that honours one asks this module.

``DECAYBENCH_WORKER_FAULT=<kind>:<worker>:<where>``
    Worker (or real-cluster host) of rank ``<worker>`` misbehaves once, at ``<where>``: ``start``
    (before importing TensorFlow), ``join`` (after importing it, before joining the cluster) or
    ``epoch<N>`` (before the step of epoch N). ``<kind>`` is ``hang`` (the Python thread sleeps
    for ever, TensorFlow's threads stay alive), ``kill`` (SIGKILL to itself), ``exit`` (exit
    status 3 at once) or ``term`` (SIGTERM to itself, as a scheduler stops a job). Example:
    ``hang:1:epoch3``. Read by each worker and host when it starts; parsed and carried out by
    :class:`decaybench.modes.distributed.faults.Fault`.

``DECAYBENCH_CHECKPOINT_PAUSE=<seconds>``
    Every checkpoint save sleeps ``<seconds>`` with its files written but not yet named, so that a
    test can kill the process while a checkpoint is half-written. Unset, empty or 0: no pause.

>>> WORKER_FAULT, CHECKPOINT_PAUSE
('DECAYBENCH_WORKER_FAULT', 'DECAYBENCH_CHECKPOINT_PAUSE')
"""

from __future__ import annotations

import os
import time

__all__ = ["CHECKPOINT_PAUSE", "WORKER_FAULT", "checkpoint_pause", "checkpoint_pause_seconds", "worker_fault"]

WORKER_FAULT = "DECAYBENCH_WORKER_FAULT"
CHECKPOINT_PAUSE = "DECAYBENCH_CHECKPOINT_PAUSE"


def worker_fault() -> str:
    """The fault a test asked of the workers, as written (``""``: none)."""
    return os.environ.get(WORKER_FAULT, "")


def checkpoint_pause_seconds() -> float:
    """How long a checkpoint save holds half-written (0: not at all)."""
    return float(os.environ.get(CHECKPOINT_PAUSE, "0") or 0)


def checkpoint_pause() -> None:
    """Hold a checkpoint half-written for :func:`checkpoint_pause_seconds`, if a test asked."""
    seconds = checkpoint_pause_seconds()
    if seconds > 0:
        time.sleep(seconds)
