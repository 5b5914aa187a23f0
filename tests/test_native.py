"""decaybench.bench.native: the limit for long traces is the emulation of record, bit for bit, without FMA."""

from __future__ import annotations

import dataclasses
import re

import pytest
from numpy.testing import assert_array_equal

from decaybench.bench.native import native_kernel, native_trace
from decaybench.bench.workload import long_config
from decaybench.config import DecayConfig
from decaybench.modes.emulation import emulate

pytest.importorskip("numba")  # the bench extra


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", [DecayConfig(), long_config(3000)], ids=["seed", "long"])
def test_the_native_loop_is_the_emulation_bit_for_bit(config: DecayConfig, dtype: str) -> None:
    config = dataclasses.replace(config, dtype=dtype)
    expected = emulate(config)
    w, loss, lr = native_trace(config)
    assert_array_equal(w, expected.w[:, 0])
    assert_array_equal(loss, expected.loss)
    assert_array_equal(lr, expected.lr)


def test_the_native_loop_has_no_fused_multiply_add_and_calls_pow() -> None:
    # Contraction would fold `w - lr * g` into one vfnmadd, rounding once: the rows above would differ
    # on CPUs with FMA; here the machine code itself is read, whatever this CPU has.
    native_trace(DecayConfig())  # compiles the float32 version
    native_trace(DecayConfig(dtype="float64"))
    assembly = "\n".join(native_kernel().inspect_asm().values())
    assert len(native_kernel().signatures) == 2
    assert not re.findall(r"\bvf[n]?m(add|sub)\w*", assembly)
    assert re.search(r"\bpow\b", assembly)  # C's pow, called once per epoch


def test_the_native_loop_refuses_what_it_does_not_compute() -> None:
    for config in (DecayConfig(size=2), DecayConfig(record_every=2), DecayConfig(staircase=True), DecayConfig(end_value=0.01)):
        with pytest.raises(ValueError, match="the native loop runs size 1"):
            native_trace(config)
