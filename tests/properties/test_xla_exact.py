"""xla-exact is the emulation of record bit for bit: 200 drawn configurations, whatever the profile."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings

from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.modes.emulation import emulate
from tests.properties.strategies import exact_configs


# 200 examples under every profile; seven shapes, so seven XLA compilations.
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exact_configs())
@example(DecayConfig())  # the seed
@example(DecayConfig(initial_learning_rate=0.1, decay_rate=0.96, decay_steps=3, epochs=30))  # plain XLA: 6.286450
@example(DecayConfig(initial_learning_rate=0.0, epochs=30, size=9, dtype="float64", record_every=3))
@example(DecayConfig(initial_learning_rate=1.2, decay_rate=1.5, epochs=30, size=40))  # diverges to inf and NaN
def test_xla_exact_is_the_emulation_bit_for_bit(config: DecayConfig) -> None:
    got, want = run(config, "xla-exact"), emulate(config)
    assert got.identical(want), f"{config}: w {(got.w != want.w).sum()}, loss {(got.loss != want.loss).sum()} values differ"
