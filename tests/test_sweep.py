"""run_sweep: one compiled call over many configurations, bit for bit the single xla runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.modes._scaffold import chunks
from decaybench.sweep import run_sweep
from decaybench.validation import InvalidType, InvalidValue
from tests.helpers import varied
from tests.properties.strategies import LOOP_SETTINGS, configs


def assert_same(sweep: list, configs_: list[DecayConfig]) -> None:
    assert len(sweep) == len(configs_)
    for config, trace in zip(configs_, sweep, strict=True):
        single = run(config, "xla")
        assert trace.config == config and trace.mode == "xla"
        assert_array_equal(trace.epoch, single.epoch)
        for name in ("w", "loss", "lr"):
            got, want = getattr(trace, name), getattr(single, name)
            assert got.dtype == want.dtype and got.shape == want.shape
            assert_array_equal(got, want, err_msg=f"{name} of {config}")
        assert trace.to_json() == single.to_json()  # NaN and infinities too


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("size", "epochs", "record_every"), [(1, 40, 1), (1, 97, 7), (6, 30, 1), (33, 25, 4)])
def test_a_sweep_is_its_single_runs_bit_for_bit(dtype: str, size: int, epochs: int, record_every: int) -> None:
    rng = np.random.default_rng(size * 1000 + epochs)
    chosen = varied(24, rng, dtype=dtype, size=size, epochs=epochs, record_every=record_every)
    assert_same(run_sweep(chosen), chosen)


@LOOP_SETTINGS
@given(st.data())
def test_any_sweep_is_its_single_runs(data: st.DataObject) -> None:
    first = data.draw(configs(max_epochs=50, max_size=5))
    others = data.draw(st.lists(configs(max_epochs=50, max_size=5), min_size=0, max_size=4))
    shape = {name: getattr(first, name) for name in ("epochs", "dtype", "size", "record_every")}
    chosen = [first, *(dataclasses.replace(other, **shape) for other in others)]
    assert_same(run_sweep(chosen), chosen)


def test_a_sweep_in_chunks_of_epochs_is_the_one_call_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    batch = varied(6, np.random.default_rng(11), epochs=11, record_every=3, size=2)
    whole = run_sweep(batch, "xla-exact")
    monkeypatch.setattr(chunks, "CHUNK_SECONDS", 1e-12)  # one epoch a call: 0 or 1 row each
    for chunked, trace in zip(run_sweep(batch, "xla-exact"), whole, strict=True):
        assert chunked.identical(trace)


def test_one_config_is_a_sweep_too() -> None:
    assert_same(run_sweep([DecayConfig()]), [DecayConfig()])
    assert_same(run_sweep((DecayConfig(epochs=3),)), [DecayConfig(epochs=3)])


@pytest.mark.parametrize("field", ["epochs", "dtype", "size", "record_every"])
def test_configs_of_different_shapes_are_refused(field: str) -> None:
    other = {"epochs": 41, "dtype": "float64", "size": 2, "record_every": 3}[field]
    with pytest.raises(InvalidValue, match=rf"configs\[2\]\.{field} must equal configs\[0\]\.{field}") as error:
        run_sweep([DecayConfig(), DecayConfig(w0=1.0), DecayConfig(**{field: other})])
    assert error.value.argument == f"configs[2].{field}" and error.value.value == other


@pytest.mark.parametrize("mode", ["graph", "eager", "warp"])
def test_modes_other_than_xla_are_refused_with_the_reason(mode: str) -> None:
    with pytest.raises(InvalidValue, match="mode must be xla or xla-exact: only XLA's vector pow is the C library's pow"):
        run_sweep([DecayConfig()], mode)


@pytest.mark.parametrize(
    ("configs_", "error", "argument"),
    [
        ([], InvalidValue, "configs"),
        (DecayConfig(), InvalidType, "configs"),
        ("xla", InvalidType, "configs"),
        (None, InvalidType, "configs"),
        ([DecayConfig(), {"epochs": 40}], InvalidType, "configs[1]"),
    ],
)
def test_bad_configs_are_refused_naming_the_argument(configs_: object, error: type, argument: str) -> None:
    with pytest.raises(error) as raised:
        run_sweep(configs_)  # type: ignore[arg-type]
    assert raised.value.argument == argument
