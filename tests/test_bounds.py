"""decaybench.bounds: one bound per contract, each holding where it is claimed and refusing what it cannot bound."""

from __future__ import annotations

from fractions import Fraction
from typing import get_args

import numpy as np
import pytest

from decaybench import bounds, oracle, verify
from decaybench.bounds import BOUNDS, bound_emulation, fused_update_bound, recorded_bounds, summation_order_bound
from decaybench.config import DecayConfig
from decaybench.modes import REGISTRY, Contract
from decaybench.modes.emulation import emulate
from decaybench.oracle import ulp_distance
from decaybench.trace import Trace

UNBOUNDED = np.iinfo(np.uint64).max


def test_every_contract_has_one_bound_and_every_mode_states_a_contract() -> None:
    assert set(BOUNDS) == set(get_args(Contract))
    assert {spec.contract for spec in REGISTRY.values()} <= set(BOUNDS)


def test_the_names_the_readme_gives_are_the_same_functions() -> None:
    assert oracle.fused_update_bound is bounds.fused_update_bound
    assert verify.summation_order_bound is bounds.summation_order_bound


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(DecayConfig(), id="seed"),
        pytest.param(DecayConfig(w0=-17.3, initial_learning_rate=0.37, decay_rate=0.97, epochs=60), id="far-start"),
        pytest.param(DecayConfig(dtype="float64", w0=9.1), id="float64"),
        pytest.param(DecayConfig(staircase=True, decay_steps=5, decay_rate=0.5, epochs=60), id="staircase"),
    ],
)
def test_the_fused_emulation_is_within_the_fused_update_bound(config: DecayConfig) -> None:
    fused, emulated = emulate(config, fused=True), emulate(config)
    w_bound, loss_bound = fused_update_bound(emulated)
    assert np.all(ulp_distance(fused.w, emulated.w).max(axis=1) <= w_bound)
    assert np.all(ulp_distance(fused.loss, emulated.loss) <= loss_bound)


def bound_in_fractions(emulated: Trace, size: int = 1) -> tuple[list[int], list[int]]:
    """The recursion of :func:`fused_update_bound`'s docstring in exact rational arithmetic.

    No float rounds between the docstring's terms, so a bound computed in floats that drops,
    mistypes or rounds away a term parts from this one; only ``u(v)`` (the dtype's spacing at
    ``v``) and the division into ULPs are read from NumPy.
    """
    dtype = np.dtype(emulated.config.dtype)
    eps, largest = Fraction(float(np.finfo(dtype).eps)) / 2, Fraction(float(np.finfo(dtype).max))

    def u(value: Fraction) -> Fraction:
        return Fraction(float(np.spacing(dtype.type(float(min(abs(value), largest))))))

    def ulps(error: Fraction, value: Fraction) -> int:
        return int(error // u(max(abs(value) - error, Fraction(0))))

    w_prev, bound, w_bounds, loss_bounds = Fraction(float(dtype.type(emulated.config.w0))), Fraction(0), [], []
    for w_next, lr in zip(emulated.w[:, 0].tolist(), emulated.lr.tolist(), strict=True):
        lr_cast, x = Fraction(float(dtype.type(lr))), w_prev + 1
        add = Fraction(0) if -2 <= w_prev <= Fraction(-1, 2) else u(abs(x) + bound)
        dx = bound + add
        error = size * (2 * abs(x) + dx) * dx + size * u(x * x + (2 * abs(x) + dx) * dx) + 2 * (size - 1) * eps * size * x * x
        loss_bounds.append(ulps(error, size * x * x))
        carried = abs(1 - 2 * lr_cast) * bound + 2 * lr_cast * add + u(abs(lr_cast * 2 * x)) / 2
        bound = (carried + u(abs(Fraction(w_next)) + carried + u(abs(Fraction(w_next)) + carried))) * (1 + Fraction(1, 10**6))
        w_bounds.append(ulps(bound, Fraction(w_next)))
        w_prev = Fraction(w_next)
    return w_bounds, loss_bounds


@pytest.mark.parametrize("config", [DecayConfig(), DecayConfig(dtype="float64", w0=9.1, epochs=12)], ids=["seed", "float64"])
def test_the_fused_update_bound_is_its_recursion_in_exact_arithmetic(config: DecayConfig) -> None:
    emulated = emulate(config)
    w_bound, loss_bound = fused_update_bound(emulated)
    w_exact, loss_exact = bound_in_fractions(emulated)
    assert w_bound.tolist() == w_exact and loss_bound.tolist() == loss_exact
    assert w_bound.dtype == loss_bound.dtype == np.uint64 and len(w_bound) == len(loss_bound) == config.epochs


def test_an_overflowing_lr_has_no_finite_fused_update_bound() -> None:
    w_bound, _ = fused_update_bound(emulate(DecayConfig(decay_rate=1e200, epochs=6)))
    assert w_bound[-1] == UNBOUNDED


@pytest.mark.parametrize("config", [DecayConfig(size=3), DecayConfig(record_every=2)])
def test_the_fused_update_bound_needs_the_full_scalar_emulation(config: DecayConfig) -> None:
    with pytest.raises(ValueError, match="record_every=1 and size=1"):
        fused_update_bound(emulate(config))


def test_the_summation_order_bound_is_zero_for_one_term_and_unbounded_when_infinite() -> None:
    one = emulate(DecayConfig())
    assert summation_order_bound(one, 1).max() == 0
    assert summation_order_bound(one, 1000).min() > 0
    overflowing = emulate(DecayConfig(w0=3e38, initial_learning_rate=0.5, decay_rate=1.0, epochs=2))
    assert summation_order_bound(overflowing, 2).max() == UNBOUNDED


def test_exact_is_zero_and_sharded_sum_bounds_only_the_loss() -> None:
    emulated = emulate(DecayConfig())
    for bound in BOUNDS["exact"](emulated, 1000):
        assert bound.dtype == np.uint64 and bound.shape == (40,) and not bound.any()
    w_bound, loss_bound = BOUNDS["sharded-sum"](emulated, 1000)
    assert not w_bound.any()
    np.testing.assert_array_equal(loss_bound, summation_order_bound(emulated, 1000))


@pytest.mark.parametrize("contract", get_args(Contract))
def test_recorded_bounds_are_the_bounds_at_the_recorded_epochs(contract: Contract) -> None:
    config = DecayConfig(size=7, record_every=3, epochs=50)
    full = bound_emulation(config)
    assert full.config == DecayConfig(size=1, record_every=1, epochs=50)
    w_bound, loss_bound = recorded_bounds(contract, config, full)
    want_w, want_loss = BOUNDS[contract](full, 7)
    np.testing.assert_array_equal(w_bound, want_w[config.recorded()])
    np.testing.assert_array_equal(loss_bound, want_loss[config.recorded()])
    with pytest.raises(ValueError, match="bound_emulation"):
        recorded_bounds(contract, config, emulate(config))
