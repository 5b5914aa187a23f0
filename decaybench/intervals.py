"""95% confidence intervals from benchmark rounds: a percentile bootstrap with a fixed seed.

A benchmark times a call in rounds; its estimate is the median of the rounds. For the median of
``a`` and for the ratio of two medians ``median(a) / median(b)`` (two runs timed independently),
the interval is the percentile bootstrap::

    for r in 1..R:   a* = resample(a), b* = resample(b)      # with replacement, same sizes
                     t_r = median(a*) / median(b*)
    interval = (quantile(t, 0.025), quantile(t, 0.975))

with ``R = 2000`` resamples of each sample set, drawn by ``numpy.random.default_rng(crc32(rounds))``:
the same rounds always give the same interval, and two sets resample independently. With few
rounds the interval is wide (the median of 5 resampled rounds can be any of them): never
narrower than the data allow.

A verdict compares the whole interval with a threshold: *met* when all of it clears the
threshold, *missed* when all of it falls short, *inconclusive* when it straddles the threshold.

>>> median_interval([1.0, 1.0, 1.0])
(1.0, 1.0, 1.0)
>>> ratio_interval([2.0, 2.0], [1.0, 1.0])
(2.0, 2.0, 2.0)
>>> verdict((1.2, 1.5), 1.0), verdict((0.5, 0.9), 1.0), verdict((0.9, 1.1), 1.0)
('met', 'missed', 'inconclusive')
>>> verdict((0.1, 0.2), 0.3, higher_is_better=False), verdict(None, 1.0)
('met', 'not run')
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence

import numpy as np

__all__ = ["CONFIDENCE", "METHOD", "RESAMPLES", "Interval", "median_interval", "ratio_interval", "verdict"]

CONFIDENCE = 0.95
RESAMPLES = 2000
METHOD = f"percentile bootstrap over the rounds ({RESAMPLES} resamples, seeded by the rounds' CRC-32)"
# Resamples drawn at once: bounds the memory for runs of thousands of rounds.
_BATCH = 100

# (estimate, low, high)
Interval = tuple[float, float, float]


@functools.lru_cache(maxsize=1024)
def _medians(samples: tuple[float, ...]) -> np.ndarray:
    """The medians of :data:`RESAMPLES` resamples of ``samples`` (with replacement, same size).

    The k-th smallest of a resample of the sorted data is the data at the k-th smallest resampled
    index: partitioning indices is all a median needs.
    """
    data = np.sort(np.asarray(samples, dtype=np.float64))
    size = data.size
    if size == 0:
        raise ValueError("samples must not be empty")
    rng = np.random.default_rng(zlib.crc32(np.asarray(samples, dtype=np.float64).tobytes()))
    middle = [(size - 1) // 2, size // 2]
    batches = []
    for _ in range(RESAMPLES // _BATCH):
        picks = np.partition(rng.integers(0, size, size=(_BATCH, size), dtype=np.int32), middle, axis=1)
        batches.append((data[picks[:, middle[0]]] + data[picks[:, middle[1]]]) / 2)
    return np.concatenate(batches)


def _bounds(values: np.ndarray) -> tuple[float, float]:
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def median_interval(samples: Sequence[float]) -> Interval:
    """The median of ``samples`` and its 95% bootstrap interval."""
    low, high = _bounds(_medians(tuple(samples)))
    return float(np.median(samples)), low, high


def ratio_interval(numerator: Sequence[float], denominator: Sequence[float]) -> Interval:
    """``median(numerator) / median(denominator)`` and its 95% bootstrap interval.

    With ``numerator`` the rounds of a reference and ``denominator`` those of an implementation,
    this is how many times faster the implementation is.
    """
    ratios = _medians(tuple(numerator)) / _medians(tuple(denominator))
    low, high = _bounds(ratios)
    return float(np.median(numerator) / np.median(denominator)), low, high


def verdict(interval: tuple[float, float] | None, threshold: float, higher_is_better: bool = True) -> str:
    """``met``, ``missed`` or ``inconclusive``: the whole ``(low, high)`` against ``threshold``.

    Lower is better for times: then the interval must lie at or below the threshold to be met.
    ``None`` (nothing measured) is ``not run``.
    """
    if interval is None:
        return "not run"
    low, high = interval
    if not higher_is_better:
        low, high, threshold = -high, -low, -threshold
    if low >= threshold:
        return "met"
    if high < threshold:
        return "missed"
    return "inconclusive"
