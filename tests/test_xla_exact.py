"""Mode xla-exact (decaybench/modes/exact.py, _exact_sum.py): XLA bit for bit the eager loop."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import tensorflow as tf

import decaybench
from decaybench._reduction import eigen_sum
from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.modes import REGISTRY
from decaybench.modes._exact_sum import layout, ordered_sum
from decaybench.modes.emulation import emulate
from decaybench.modes.exact import exact_update, tracing_count
from decaybench.sweep import run_sweep
from decaybench.verify import verify
from decaybench.xla_flags import cpu_has_fma
from tests.helpers import varied

if TYPE_CHECKING:
    from tests.conftest import Command

README = Path(__file__).resolve().parents[1] / "README.md"
ISSUE = DecayConfig(initial_learning_rate=0.1, decay_rate=0.96, decay_steps=3, epochs=60)


def test_the_registry_promises_bit_identity() -> None:
    assert REGISTRY["xla-exact"].contract == "exact"


@pytest.mark.parametrize(
    "config",
    [
        DecayConfig(),
        ISSUE,
        DecayConfig(dtype="float64", staircase=True, decay_steps=4, epochs=50, record_every=7),
        DecayConfig(initial_learning_rate=0.45, decay_rate=0.999, w0=-17.3, size=33, epochs=30),
        DecayConfig(dtype="float64", size=100, epochs=20, record_every=3, staircase=True, decay_steps=2),
        DecayConfig(initial_learning_rate=0.9, decay_rate=1.5, epochs=40, size=5),  # diverges to inf, then NaN
    ],
    ids=str,
)
def test_a_run_is_the_eager_run_bit_for_bit(config: DecayConfig) -> None:
    trace = run(config, "xla-exact")
    assert trace.mode == "xla-exact" and trace.config == config
    assert trace.identical(run(config, "eager"))
    assert trace.identical(emulate(config))


def test_plain_xla_differs_where_xla_exact_does_not() -> None:
    # The issue's example: on CPUs with FMA, plain XLA prints 6.286450 at epoch 4, eager 6.286449.
    exact, eager = run(ISSUE, "xla-exact"), run(ISSUE, "eager")
    assert exact.lines()[4] == eager.lines()[4] and "loss is 6.286449," in exact.lines()[4]
    if not cpu_has_fma() or "--xla_cpu_max_isa" in os.environ.get("XLA_FLAGS", ""):
        pytest.skip("no FMA for XLA to contract w - lr*g into on this CPU (or its ISA is capped): plain xla is exact here")
    plain = run(ISSUE, "xla")
    assert not plain.identical(eager) and "loss is 6.286450," in plain.lines()[4]
    assert plain.identical(emulate(ISSUE, fused=True))  # the difference is the fused update, nothing else


def test_it_compiles_once_per_shape() -> None:
    run(DecayConfig(epochs=11, size=3))
    run(DecayConfig(epochs=11, size=3), "xla-exact")
    before = tracing_count()
    run(DecayConfig(epochs=11, size=3, initial_learning_rate=0.3, w0=-2.0, staircase=True), "xla-exact")
    assert tracing_count() == before


@pytest.mark.parametrize(
    ("n", "dtype", "threads"),
    [(2, "float32", 1), (31, "float32", 1), (8200, "float32", 1), (20000, "float64", 1), (108388, "float32", 2), (54195, "float64", 2)],
)
def test_the_loss_is_summed_in_eigens_order(n: int, dtype: str, threads: int) -> None:
    """Across a leaf, the tree (8200, 20000) and the thread split (2 shards, an unaligned one)."""
    squares = np.square(np.random.default_rng(n).normal(0.0, 3.0, n)).astype(dtype)
    plan = layout(n, dtype, threads)
    total = tf.function(lambda values, index: ordered_sum(values, plan, index), jit_compile=True)
    batch = np.stack([squares, squares[::-1]])
    got = total(tf.constant(batch), tf.constant(plan.index)).numpy()
    want = [eigen_sum(row, num_threads=threads) for row in batch]
    assert got.tobytes() == np.array(want, dtype=dtype).tobytes()


def test_a_vector_past_one_leaf_is_exact() -> None:
    config = DecayConfig(size=8200, epochs=3, w0=0.37)
    assert run(config, "xla-exact").identical(emulate(config))


@pytest.mark.parametrize(("dtype", "size", "epochs", "record_every"), [("float32", 1, 40, 1), ("float64", 6, 30, 4)])
def test_a_sweep_is_the_eager_runs_bit_for_bit(dtype: str, size: int, epochs: int, record_every: int) -> None:
    chosen = varied(8, np.random.default_rng(size), dtype=dtype, size=size, epochs=epochs, record_every=record_every)
    for config, trace in zip(chosen, run_sweep(chosen, "xla-exact"), strict=True):
        assert trace.mode == "xla-exact" and trace.config == config
        assert trace.identical(run(config, "eager")), config


def test_exact_update_keeps_the_product_rounded() -> None:
    a = np.float32(1 + 2**-12)
    plain = tf.function(lambda w, lr, g: w - lr * g, jit_compile=True)
    exact = tf.function(lambda w, lr, g: exact_update(w, lr, g), jit_compile=True)
    given = tf.function(lambda w, lr, g, one: exact_update(w, lr, g, one), jit_compile=True)
    want = np.float32(1) - a * a  # numpy rounds the product
    args = (tf.constant(1.0), tf.constant(a), tf.constant(a))
    assert exact(*args).numpy() == want == given(*args, tf.constant(1.0)).numpy()
    assert exact_update(1.0, float(a), tf.constant(a)).numpy() == want  # eagerly too
    assert decaybench.exact_update is exact_update
    if plain(*args).numpy() == want:
        pytest.skip("this CPU's XLA does not contract (no FMA): the difference cannot show")


def test_verify_shows_xla_exact_bit_identical() -> None:
    report = verify(ISSUE, modes=("xla-exact",), reference=False)
    (row,) = report.rows
    assert row.bit_identical and row.max_ulp_w == 0 and row.max_ulp_loss == 0 and report.ok
    assert row.traces in ("1 then 0", "0 then 0")


def test_the_cli_prints_what_eager_prints(decaybench: Command) -> None:
    flags = ["--initial-lr", "0.1", "--decay-rate", "0.96", "--decay-steps", "3", "--epochs", "60"]
    environ = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def printed(mode: str) -> str:
        done = decaybench("run", "--mode", mode, *flags, env=environ)
        assert done.returncode == 0, done.stderr
        return done.stdout

    exact = printed("xla-exact")
    assert exact == printed("eager") and len(exact.splitlines()) >= 15


def _readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    (example,) = [block for block in blocks if "exact_update" in block]
    return example


def test_the_readme_golden_example_passes_and_catches_a_plain_update(pytester: pytest.Pytester) -> None:
    example = _readme_example()
    pytester.makepyfile(test_user=example)
    pytester.runpytest("--update-golden", "-p", "no:randomly").assert_outcomes(passed=1)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)
    plain = example.replace("decaybench.exact_update(w, lrs[i], 2 * (w + 1))", "w - lrs[i] * (2 * (w + 1))")
    assert plain != example
    pytester.makepyfile(test_user=plain)
    failed = pytester.runpytest("-p", "no:randomly")
    if failed.ret == 0:
        pytest.skip("this CPU's XLA does not contract (no FMA): a plain update passes too")
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(["*test_xla_loop_is_the_eager_loop.json: w[[]*[]] is *ULP apart, bound 0*"])
