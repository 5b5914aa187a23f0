"""Trace: the seed's line format, the parser, and exact CSV/JSON round trips."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from decaybench.config import DecayConfig
from decaybench.trace import Trace, first_unstable_epoch, format_line, parse_lines


def make_trace(config: DecayConfig, w: np.ndarray, loss: np.ndarray) -> Trace:
    return Trace(epoch=config.recorded(), w=w, loss=loss, lr=np.linspace(0.2, 0.1, len(loss)), config=config, mode="test")


def test_format_is_the_seeds() -> None:
    # The course note: print("After %s epoch,w is %f,loss is %f,lr is %f" % (epoch, w.numpy(), loss, lr))
    assert (
        format_line(1, np.float32(1.1744), np.float32(12.959999), 0.198) == "After 1 epoch,w is 1.174400,loss is 12.959999,lr is 0.198000"
    )


def test_json_round_trip_is_exact() -> None:
    config = DecayConfig(epochs=3, size=2)
    w = np.array([[np.float32(1) / 3, np.nextafter(np.float32(1), np.float32(2))], [1e-45, -0.0], [np.inf, np.nan]], dtype=np.float32)
    trace = make_trace(config, w, np.array([math.pi, 1e38, -np.inf], dtype=np.float32))
    text = trace.to_json()
    document = json.loads(text)
    assert list(document) == ["mode", "config", "epoch", "w", "loss", "lr"]
    back = Trace.from_json(text)
    for name in ("epoch", "w", "loss", "lr"):
        assert_array_equal(getattr(back, name), getattr(trace, name))
        assert getattr(back, name).dtype == getattr(trace, name).dtype
    assert np.signbit(back.w[1, 1]) and back.config == config and back.mode == "test"


def test_csv_round_trip_is_exact() -> None:
    config = DecayConfig(epochs=2, dtype="float64")
    trace = make_trace(config, np.array([[0.1 + 0.2], [1 / 3]]), np.array([2.0**-1074, 7.0]))
    rows = list(csv.reader(io.StringIO(trace.to_csv())))
    assert rows[0] == ["epoch", "w", "loss", "lr"]
    assert_array_equal([float(row[1]) for row in rows[1:]], trace.w[:, 0])
    assert_array_equal([float(row[2]) for row in rows[1:]], trace.loss)


def test_parser_reads_lines_and_elisions_back() -> None:
    text = "\n".join(
        [
            "After 0 epoch,w is 2.600000,loss is 36.000000,lr is 0.200000",
            "...",
            "After 5 epoch,w is -0.691392,loss is 0.248077,lr is 0.190198",
            "...",
        ]
    )
    parsed = parse_lines(text)
    assert parsed.epoch.tolist() == [0, 5]
    assert parsed.elided_after == (0, 5)
    assert parsed.w.tolist() == [2.6, -0.691392] and parsed.loss.tolist() == [36.0, 0.248077]
    assert parsed.by_epoch()[5].startswith("After 5 epoch")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("After 0 epoch,w is 2.600000,loss is 36.000000,lr is 0.200000\nAfter 1 epoch,w is 1.17", 2),
        ("garbage", 1),
        ("After 2 epoch,w is 1.000000,loss is 1.000000,lr is 0.200000\nAfter 1 epoch,w is 1.000000,loss is 1.000000,lr is 0.200000", 2),
        ("After 1 epoch,w is 1.0,loss is 1.000000,lr is 0.200000", 1),
    ],
)
def test_parser_names_source_and_line(text: str, line: int) -> None:
    with pytest.raises(ValueError, match=rf"^golden\.txt:{line}: "):
        parse_lines(text, source="golden.txt")


def test_diverged_at() -> None:
    assert first_unstable_epoch(DecayConfig(initial_learning_rate=0.9, decay_rate=1.1, epochs=50)) == 2  # 0.9 * 1.1**2 = 1.089
    assert first_unstable_epoch(DecayConfig(initial_learning_rate=1.5)) == 0
    assert first_unstable_epoch(DecayConfig(initial_learning_rate=0.9, decay_rate=1.1, epochs=2)) is None
    config = DecayConfig(epochs=3)
    finite = make_trace(config, np.zeros((3, 1)), np.zeros(3))
    assert finite.diverged_at is None
    overflowed = make_trace(config, np.array([[1.0], [np.inf], [np.nan]]), np.zeros(3))
    assert overflowed.diverged_at == 1


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match=r"Trace\.loss has shape"):
        Trace(epoch=[0, 1], w=[[1.0], [2.0]], loss=[1.0], lr=[0.1, 0.2], config=DecayConfig(epochs=2), mode="x")


def test_identical_and_digest_see_every_bit_of_every_array() -> None:
    config = DecayConfig(epochs=3, size=2)
    w = np.array([[1.0, 2.0], [np.nan, 3.0], [4.0, 5.0]], dtype=np.float32)
    trace = make_trace(config, w, np.array([1.0, 2.0, 3.0], dtype=np.float32))
    again = Trace(trace.epoch, trace.w.copy(), trace.loss.copy(), trace.lr.copy(), config, "another mode")
    assert trace.identical(again) and trace.digest() == again.digest()  # NaN equals NaN; the mode is no number
    for name in ("w", "loss", "lr"):
        changed = {field: getattr(trace, field).copy() for field in ("w", "loss", "lr")}
        # inf in the array's own dtype: NumPy 1.x's value-based casting would take nextafter of a
        # float32 scalar and a Python float in float64, a step that rounds back to the same float32.
        last = changed[name].flat[-1]
        changed[name].flat[-1] = np.nextafter(last, last.dtype.type(np.inf))
        other = Trace(trace.epoch, config=config, mode="test", **changed)
        assert not trace.identical(other) and trace.digest() != other.digest(), name
    float64 = DecayConfig(epochs=3, size=2, dtype="float64")
    wider = Trace(trace.epoch, trace.w.astype(np.float64), trace.loss.astype(np.float64), trace.lr, float64, "test")
    assert not trace.identical(wider)  # the same values in another dtype are another run


def test_a_trace_is_immutable_and_leaves_its_inputs_alone() -> None:
    # A Trace's arrays are read-only views (a compiled run's are views of its call's buffers); the
    # arrays it was made from keep their own flags: it never flips a caller's array to read-only.
    epoch, w, loss, lr = np.arange(2), np.zeros((2, 1), np.float32), np.zeros(2, np.float32), np.zeros(2)
    trace = Trace(epoch, w, loss, lr, DecayConfig(epochs=2), "eager")
    for name, given in zip(("epoch", "w", "loss", "lr"), (epoch, w, loss, lr), strict=True):
        assert not getattr(trace, name).flags.writeable, name
        assert given.flags.writeable, name
    with pytest.raises(ValueError, match="read-only"):
        trace.lr[0] = 1.0
