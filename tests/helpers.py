"""Helpers shared by test modules and the processes they start (this is not a test module).

The configurations a sweep is checked on, and a fingerprint of a trace's bits.
"""

from __future__ import annotations

import hashlib

import numpy as np

from decaybench.config import DecayConfig
from decaybench.trace import Trace


def varied(count: int, rng: np.random.Generator, **shape: object) -> list[DecayConfig]:
    """Configurations differing in every field a sweep may vary; edge cases first."""
    edges = [
        DecayConfig(initial_learning_rate=0.0, **shape),  # lr 0: multiply_no_nan keeps 0
        DecayConfig(initial_learning_rate=0.9, decay_rate=1.5, **shape),  # diverges
        DecayConfig(staircase=True, decay_steps=10**6, w0=-3.25, **shape),
        DecayConfig(**shape),
    ]
    drawn = [
        DecayConfig(
            initial_learning_rate=float(rng.uniform(0.0, 0.6)),
            decay_rate=float(rng.uniform(0.5, 1.1)),
            decay_steps=int(rng.integers(1, 9)),
            staircase=bool(rng.integers(2)),
            w0=float(rng.normal(0.0, 20.0)),
            **shape,
        )
        for _ in range(count - len(edges))
    ]
    return edges + drawn


def fingerprint(trace: Trace) -> str:
    """A hash of every bit of the trace's arrays (the JSON of 900,000 floats is slow to compare)."""
    digest = hashlib.sha256()
    for name in ("epoch", "w", "loss", "lr"):
        digest.update(np.ascontiguousarray(getattr(trace, name)).tobytes())
    return digest.hexdigest()
