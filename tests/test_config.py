"""DecayConfig: the seed's defaults, validation naming the argument and value, dict round trip."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.schedule import Schedule
from decaybench.validation import ArgumentError, InvalidType, InvalidValue

HUGE_EPOCHS = 10**13  # 10**13 rows of 24 bytes: far beyond any machine's memory
INT64_MAX = 2**63 - 1


def test_defaults_are_the_seed() -> None:
    config = DecayConfig()
    # LR_BASE, LR_DECAY, LR_STEP, epochs and w = 5 from the course note.
    assert (config.initial_learning_rate, config.decay_rate, config.decay_steps, config.epochs, config.w0) == (0.2, 0.99, 1, 40, 5.0)
    assert (config.staircase, config.dtype, config.size, config.record_every) == (False, "float32", 1, 1)
    assert config.is_seed


@pytest.mark.parametrize(
    ("argument", "value", "error"),
    [
        ("epochs", 0, InvalidValue),
        ("epochs", -1, InvalidValue),
        ("epochs", 2.5, InvalidType),
        ("w0", math.nan, InvalidValue),
        ("w0", math.inf, InvalidValue),
        ("size", 0, InvalidValue),
        ("size", -4, InvalidValue),
        ("dtype", "float8", InvalidValue),  # float16 and bfloat16 are dtypes since issue 24
        ("record_every", 0, InvalidValue),
        ("decay_steps", True, InvalidType),
    ],
)
def test_bad_fields_name_argument_and_value(argument: str, value: object, error: type[Exception]) -> None:
    with pytest.raises(error) as raised:
        DecayConfig(**{argument: value})
    assert raised.value.argument == argument  # type: ignore[attr-defined]
    assert argument in str(raised.value) and repr(value) in str(raised.value)


# (API argument, bad value): each must be refused by DecayConfig / run with the argument and value named
# (the cases of test_bad_fields_name_argument_and_value, which also checks the error's class, are not repeated).
API_CASES: list[tuple[str, Any]] = [
    ("decay_rate", 0.0),
    ("decay_rate", -0.5),
    ("decay_rate", math.nan),
    ("decay_rate", math.inf),
    ("decay_rate", "fast"),
    ("decay_rate", None),
    ("decay_steps", 0),
    ("decay_steps", -2),
    ("decay_steps", 1.5),
    ("decay_steps", "3"),
    ("initial_learning_rate", -0.1),
    ("initial_learning_rate", math.nan),
    ("initial_learning_rate", math.inf),
    ("epochs", -3),
    ("epochs", HUGE_EPOCHS),
    ("w0", -math.inf),
    ("size", -1),
    ("size", 2.0),
    ("dtype", "int32"),
    ("staircase", "yes"),
    ("steps_per_epoch", 0),
    ("steps_per_epoch", -2),
    ("transition_begin", -1),
    ("transition_begin", 2.5),
    ("transition_begin", True),
    ("end_value", math.nan),
    ("end_value", -1.0),
    ("end_value", math.inf),
    ("mode", "warp"),
    # Integers past int64, which no mode can count to: refused by validation, never an OverflowError later.
    ("epochs", 2**63),
    ("epochs", np.uint64(2**63)),
    ("decay_steps", 10**30),
    ("record_every", 10**30),
    ("size", 2**63),
    ("steps_per_epoch", 2**64),
    ("transition_begin", 2**63),
    # Numbers past float64: infinite, so refused by each rule (not an OverflowError from float()).
    ("decay_rate", 10**400),
    ("initial_learning_rate", 10**400),
    ("w0", -(10**400)),
    ("end_value", 10**400),
    # In int64, but more memory than any machine has.
    ("epochs", INT64_MAX),
    ("size", 2**40),
]


@pytest.mark.parametrize(("argument", "value"), API_CASES)
def test_api_refuses_bad_input_naming_argument_and_value(argument: str, value: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as raised:
        if argument == "mode":
            run(DecayConfig(epochs=1), mode=value)
        else:
            run(DecayConfig(**{argument: value}))
    assert isinstance(raised.value, ArgumentError) and raised.value.argument == argument
    assert argument in str(raised.value) and repr(value) in str(raised.value)


def test_frozen_and_round_trips() -> None:
    config = DecayConfig(staircase=True, decay_steps=4, dtype="float64", size=3)
    with pytest.raises(AttributeError):
        config.epochs = 3  # type: ignore[misc]
    assert DecayConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown keys"):
        DecayConfig.from_dict({**config.to_dict(), "momentum": 0.9})


@pytest.mark.parametrize(("epochs", "every"), [(1, 1), (40, 1), (40, 7), (40, 39), (40, 40), (41, 10), (10**9, 3)])
def test_recorded_epochs_keep_first_and_last(epochs: int, every: int) -> None:
    config = DecayConfig(epochs=epochs, record_every=every)
    assert config.recorded_count == (len(config.recorded()) if epochs < 10**6 else config.recorded_count)
    if epochs < 10**6:
        kept = config.recorded().tolist()
        assert kept[0] == 0 and kept[-1] == epochs - 1
        assert set(kept) == set(range(0, epochs, every)) | {epochs - 1}


def test_recorded_epochs_are_read_only_and_shared_up_to_their_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    # One column per (epochs, record_every), shared by every run's trace: nothing may write into it.
    column = DecayConfig(epochs=4103, record_every=5).recorded()
    assert not column.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        column[0] = 1
    assert DecayConfig(epochs=4103, record_every=5, decay_rate=0.5, dtype="float64").recorded() is column
    # Past the bound a column is built per call (and dies with its trace), equal and still read-only.
    monkeypatch.setattr("decaybench.config.SHARED_EPOCHS", 100)
    long = DecayConfig(epochs=4103, record_every=5)
    assert long.recorded() is not long.recorded() and not long.recorded().flags.writeable
    np.testing.assert_array_equal(long.recorded(), column)


def test_schedule_is_the_four_schedule_fields() -> None:
    config = DecayConfig(initial_learning_rate=0.5, decay_rate=0.9, decay_steps=4, staircase=True, epochs=7)
    assert config.schedule == Schedule(initial_learning_rate=0.5, decay_steps=4, decay_rate=0.9, staircase=True)


def test_fields_are_checked_in_field_order() -> None:
    # decay_rate comes before decay_steps in DecayConfig: with both wrong, the error names decay_rate.
    with pytest.raises(InvalidValue) as raised:
        DecayConfig(decay_rate=0.0, decay_steps=0)
    assert raised.value.argument == "decay_rate"


def test_every_field_declares_its_flag() -> None:
    import dataclasses

    for field in dataclasses.fields(DecayConfig):
        assert field.metadata["flag"].startswith("--") and field.metadata["help"] and field.metadata["check"], field.name
