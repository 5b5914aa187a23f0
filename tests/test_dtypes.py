"""float16 and bfloat16: TensorFlow's kernels per operation, the CLI, the golden plugin, refusals.

Each operation against :mod:`decaybench.rounding` and :mod:`decaybench._reduction`; the CLI in a
real process; the refusals in this one.
"""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from decaybench._reduction import eigen_sum
from decaybench.bounds import bound_emulation, summation_order_bound
from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.modes import REGISTRY, ModeSpec
from decaybench.modes.distributed.training import shard_bounds
from decaybench.modes.emulation import emulate
from decaybench.oracle import ulp_distance
from decaybench.rounding import from_float64, kernel
from decaybench.trace import Trace
from decaybench.validation import InvalidValue
from decaybench.verify import verify
from tests.properties.test_half_dtypes import independent

HALF = ("float16", "bfloat16")
OPS = {"add": (np.add, tf.add), "subtract": (np.subtract, tf.subtract), "multiply": (np.multiply, tf.multiply)}


def _bits(values: np.ndarray) -> np.ndarray:
    """uint16 bits, every NaN as one pattern (its sign and payload are not what is compared)."""
    bits = np.asarray(values).view(np.uint16).copy()
    bits[np.isnan(np.asarray(values).astype(np.float32))] = 0x7FFF
    return bits


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("op", OPS)
def test_each_operation_is_float32_under_ftz_rounded_once(dtype: str, op: str) -> None:
    rng = np.random.default_rng(24)
    a, b = (rng.integers(0, 2**16, 200_000, dtype=np.uint16).view(dtype) for _ in range(2))
    if dtype == "bfloat16":  # products that are float32 subnormals rounding up to bfloat16's smallest normal
        a[:2000] = np.float32(2.0**-62 * (1 - 2**-8))
        b[:2000] = (np.float32(2.0**-64) * (1 + np.arange(2000, dtype=np.float32) * 2**-18)).astype(dtype)
    numpy_op, tf_op = OPS[op]
    with np.errstate(all="ignore"):
        want = kernel(numpy_op, a, b)
    got = tf_op(tf.constant(a), tf.constant(b)).numpy()
    np.testing.assert_array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("dtype", HALF)
def test_a_float64_is_rounded_through_float32_by_cast_and_by_a_python_float(dtype: str) -> None:
    with np.errstate(invalid="ignore"):  # NaN patterns, dropped below
        grid = np.arange(1, 2**15, 7, dtype=np.uint16).view(dtype).astype(np.float64)
    grid = grid[np.isfinite(grid) & (grid < 65504)]  # finite, below float16's largest; bfloat16 subnormals included
    above = np.nextafter(grid.astype(dtype), np.array(np.inf, dtype)).astype(np.float64)
    midpoints = (grid + above) / 2  # half-way in the dtype; nudged so that float32 rounds back onto it
    probes = np.concatenate([midpoints * (1 + 2.0**-40), midpoints * (1 - 2.0**-40)])
    probes = probes[np.isfinite(probes)]
    want = from_float64(probes, dtype)
    assert (want != probes.astype(dtype)).any()  # rounding once would differ: the probes can fail
    np.testing.assert_array_equal(_bits(tf.cast(tf.constant(probes), dtype).numpy()), _bits(want))
    one = tf.ones([], dtype)
    for value, expected in zip(probes[::97], want[::97], strict=True):  # eager's `python_float * tensor`
        assert _bits((float(value) * one).numpy()) == _bits(expected)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("size", [9, 33, 1601, 2001, 70_001])
def test_reduce_sum_is_eigen_sum(dtype: str, size: int) -> None:
    # 1601 = 8 * 200 + 1: float16's leaf size; 70,001: two threads for float16 (2 cores or more)
    rng = np.random.default_rng(size)
    x = (rng.random(size) * 0.5).astype(dtype)  # float16: the sum stays finite
    np.testing.assert_array_equal(_bits(tf.reduce_sum(tf.constant(x)).numpy()), _bits(eigen_sum(x)))


def test_a_mode_takes_only_its_spec_dtypes() -> None:
    plain = ModeSpec("plain", "decaybench.modes.eager:run_eager", "a mode from another distribution")
    assert plain.dtypes == ("float32", "float64")
    with mock.patch.dict(REGISTRY._modes(), {"plain": plain}):
        with pytest.raises(InvalidValue, match=r"dtype cannot be used in mode plain: its ModeSpec.dtypes lists no other .*'float16'"):
            run(DecayConfig(dtype="float16", epochs=2), "plain")
        assert run(DecayConfig(epochs=2), "plain").identical(run(DecayConfig(epochs=2), "eager"))


@pytest.mark.parametrize("dtype", HALF)
def test_mirrored_is_the_sharded_emulation_bit_for_bit(dtype: str) -> None:
    config = DecayConfig(dtype=dtype, size=9, epochs=10)
    assert run(config, "mirrored").identical(emulate(config, shards=shard_bounds(9, 2)))


def test_the_cli_runs_both_dtypes_in_a_real_process(decaybench) -> None:
    overflow = DecayConfig(dtype="float16", w0=60000.0, initial_learning_rate=2.0, decay_rate=1.01, epochs=12)
    result = decaybench("run", "--dtype", "float16", "--w0", "60000", "--initial-lr", "2", "--decay-rate", "1.01", "--epochs", "12",
                        "--mode", "xla-exact", "--format", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    trace = Trace.from_json(result.stdout)
    # JSON writes a NaN without its sign or payload: compare with what it writes of the emulation.
    written = Trace.from_json(independent(overflow).to_json())
    assert trace.identical(written) and np.isnan(trace.w[-1, 0]) and "diverged at epoch" in result.stderr
    text = decaybench("run", "--dtype", "bfloat16", "--mode", "numpy", "--epochs", "5")  # a process without TensorFlow
    seed = independent(DecayConfig(dtype="bfloat16", epochs=5))
    printed = [
        "After %s epoch,w is %f,loss is %f,lr is %f" % (e, w, loss, lr)  # noqa: UP031  # the seed's own print
        for e, w, loss, lr in zip(seed.epoch, seed.w[:, 0], seed.loss, seed.lr, strict=True)
    ]
    assert text.returncode == 0 and text.stdout.splitlines() == printed
    assert json.loads(result.stdout)["config"]["dtype"] == "float16"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--dtype", "bfloat16", "--mode", "multiworker"], ["--dtype", "bfloat16", "multiworker", "CollectiveBcastSend"]),
        (["--dtype", "float16", "--w0", "65505"], ["--w0", "65505", "65504"]),
        (["--dtype", "float16", "--w0=-1e5"], ["--w0", "65504"]),
    ],
)
def test_refusals_exit_2_with_one_line(decaybench, tmp_path, args: list[str], words: list[str]) -> None:
    output = tmp_path / "out.json"
    status, out, err = decaybench.main("run", *args, "--output", str(output))
    assert status == 2 and out == "" and not output.exists()
    assert len(err.strip().splitlines()) == 1 and all(word in err for word in words), err


HALF_GOLDEN_TEST = """
from decaybench import DecayConfig
from decaybench.modes.emulation import emulate
from decaybench.oracle import ulp_distance

def test_loop(golden_trace):
    golden_trace.check(emulate(DecayConfig(epochs=12, dtype="{dtype}", w0={w0}, initial_learning_rate=2.0)))
"""


@pytest.mark.parametrize(("dtype", "w0"), [("float16", 60000.0), ("bfloat16", 1e38)])  # the loss overflows, w becomes NaN
def test_the_golden_plugin_keeps_a_half_trace_bit_for_bit(pytester: pytest.Pytester, dtype: str, w0: float) -> None:
    pytester.makepyfile(test_user=HALF_GOLDEN_TEST.format(dtype=dtype, w0=w0))
    pytester.runpytest("--update-golden").assert_outcomes(passed=1)
    pytester.runpytest().assert_outcomes(passed=1)
    stored = json.loads((pytester.path / "golden" / "test_user" / "test_loop.json").read_text())
    assert stored["w"]["dtype"] == dtype
    pytester.makepyfile(test_user=HALF_GOLDEN_TEST.format(dtype=dtype, w0=5.5))  # another trajectory: fails, naming w
    pytester.runpytest().stdout.fnmatch_lines(["*test_loop.json: w[[]0*ULP apart, bound 0*"])


@pytest.mark.parametrize(("dtype", "size"), [("float16", 300), ("bfloat16", 33)])
def test_xla_rounds_each_16_bit_operation_and_sums_in_its_own_order(dtype: str, size: int) -> None:
    """The finding pinned: plain XLA's w is the emulation's (no contraction across a 16-bit rounding),
    its loss of a vector is summed in another order, within any order's bound."""
    config = DecayConfig(dtype=dtype, size=size, epochs=30, w0=-3.0 if dtype == "float16" else 200.0, initial_learning_rate=0.3)
    got, want = run(config, "xla"), emulate(config)
    np.testing.assert_array_equal(got.w, want.w)
    assert (got.loss != want.loss).any()
    assert (ulp_distance(got.loss, want.loss) <= summation_order_bound(bound_emulation(config), size)).all()


@pytest.mark.parametrize("dtype", HALF)
def test_the_keras_paths_are_the_emulation_bit_for_bit(dtype: str) -> None:
    # bfloat16 under tf_keras runs with floatx float32 (it has no bfloat16 floatx): measured bit for bit too.
    config = DecayConfig(dtype=dtype, size=3, epochs=8)
    want = emulate(config)
    for mode in ("keras", "fit", "callback"):
        assert run(config, mode).identical(want), mode


GRAPPLER_OFF = """
import json
import tensorflow as tf
tf.config.optimizer.set_experimental_options({"arithmetic_optimization": False})
from decaybench import DecayConfig
from decaybench.loops import run
from tests.properties.test_half_dtypes import independent
found = {}
for size in (1, 5):
    # lr 0 and 2 (w + 1) past 65504: w - lr*(x*2) is NaN, w - (lr*2)*x and w - (lr*x)*2 keep w.
    config = DecayConfig(initial_learning_rate=0.0, decay_rate=1.0, epochs=3, w0=32760.0, dtype="float16", size=size)
    for mode in ("function", "graph", "xla-exact"):
        found[f"{mode} {size}"] = [o for o in ("lr*(x*2)", "(lr*x)*2", "(lr*2)*x") if run(config, mode).identical(independent(config, o))]
print(json.dumps(found))
"""


def test_grapplers_arithmetic_optimizer_is_what_reorders_function_and_graph_and_xla_reorders_itself() -> None:
    # With Grappler on, tests/properties/test_half_dtypes.py holds each mode to its measured order
    # (ModeSpec.update_order). Here the cause: with only Grappler's "arithmetic_optimization" off
    # (its MinimizeBroadcasts stage sorts the leaves of the Mul tree lr * (1 * (x * 2)) by size),
    # function and graph run the seed's lr*(x*2) at every size; xla-exact, size > 1, still runs
    # (lr*2)*x: XLA's algebraic simplifier rewrites Mul(Mul(x, c), Broadcast(lr)) to
    # Mul(x, Broadcast(Mul(lr, c))) by itself (a broadcast to [1] is a reshape, so not at size 1).
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", GRAPPLER_OFF], capture_output=True, text=True, timeout=300, check=True)
    found = json.loads(done.stdout.splitlines()[-1])
    plain = ["lr*(x*2)"]
    assert found == {
        "function 1": plain,
        "graph 1": plain,
        "xla-exact 1": plain,
        "function 5": plain,
        "graph 5": plain,
        "xla-exact 5": ["(lr*x)*2", "(lr*2)*x"],  # lr 0: both keep w; the size > 1 property tells them apart
    }, found


def test_verify_holds_each_mode_to_the_emulation_in_its_update_order() -> None:
    # lr rounds to float16 subnormals for epochs 0-17: there graph's (lr*x)*2 is not the seed's order
    # bit for bit, and verify held graph to the seed's order (ok False) until the emulation took the order.
    config = DecayConfig(initial_learning_rate=1e-06, decay_rate=2.5, decay_steps=4, epochs=30, w0=0.0, dtype="float16")
    report = verify(config, modes=("eager", "graph"), reference=False)
    assert [(row.mode, row.order, row.bit_identical) for row in report.rows] == [("eager", "lr*(x*2)", True), ("graph", "(lr*x)*2", True)]
    assert report.ok
    assert not run(config, "graph").identical(emulate(config))  # the order is what makes it bit for bit


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_update_orders_hold_in_32_and_64_bits_where_x_times_2_overflows(dtype: str) -> None:
    # lr 0 and 2 (w + 1) past the largest finite value: the seed's order gives 0 * inf = NaN (eager),
    # the compilers' (lr*2)*x gives 0 * x = 0 and keeps w.
    largest = float(np.finfo(dtype).max)
    config = DecayConfig(initial_learning_rate=0.0, decay_rate=1.0, epochs=2, w0=largest * 0.75, dtype=dtype, size=3)
    for mode in ("eager", "function", "graph", "xla-exact"):
        order = REGISTRY[mode].order_at(config.size, config.dtype)
        assert run(config, mode).identical(emulate(config, order=order)), (mode, order)
    assert np.isnan(run(config, "eager").w).all() and np.isfinite(run(config, "graph").w).all()


def test_tensorflows_bfloat16_kernels_write_a_packets_nans_as_0x7fc0_and_xla_keeps_the_sign() -> None:
    # lr 0 and 2 (w + 1) = inf: 0 * inf is x86's default NaN, float32 0xffc00000. Eigen's 8-lane
    # packet conversion to bfloat16 writes any NaN as 0x7fc0; its scalar conversion (the tail past
    # the last whole packet) keeps the sign, 0xffc0, as ml_dtypes, the emulation and XLA do.
    config = DecayConfig(initial_learning_rate=0.0, decay_rate=1.0, epochs=2, w0=1.698088713909206e38, dtype="bfloat16", size=9)
    bits = {mode: run(config, mode).w.view(np.uint16)[-1].tolist() for mode in ("eager", "xla-exact", "numpy")}
    assert bits == {"eager": [0x7FC0] * 8 + [0xFFC0], "xla-exact": [0xFFC0] * 9, "numpy": [0xFFC0] * 9}, bits
