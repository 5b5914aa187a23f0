"""Mixed precision across libraries: does the schedule move on a step that loss scaling skipped.

decaybench.peers.mixed runs the seed for five steps with the gradient forced non-finite where FORCED
says. Every expectation here is derived from FORCED's positions and the semantics the row claims; the
runs are measured once a session (tf_keras's in one subprocess, TF_USE_LEGACY_KERAS=1). Kept out of
tests/test_peers.py, which make test runs again in every tox env: the libraries here are those of the
newest env, and the Keras 2 against 3 difference across TensorFlow versions is verify --policy's.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from decaybench.peers import PeerUnavailable
from decaybench.peers.torch import running_product
from decaybench.validation import InvalidValue

f32 = np.float32


MIXED_LIBRARIES = {
    "keras3": "keras",
    "keras2": "tf_keras",
    "torch bfloat16": "torch",
    "torch float16": "torch",
    "optax bfloat16": "optax",
    "optax apply_if_finite": "optax",
}


@functools.cache
def _mixed_runs() -> dict[str, Any]:
    # Every mixed peer once a session: tf_keras's run is one subprocess (TF_USE_LEGACY_KERAS=1).
    from decaybench.peers.mixed import FORCED, MIXED_PEERS

    runs: dict[str, Any] = {}
    for name, peer in MIXED_PEERS.items():
        try:
            runs[name] = peer.run(FORCED)
        except (ImportError, PeerUnavailable) as error:
            runs[name] = error if isinstance(error, PeerUnavailable) else PeerUnavailable(name, str(error))
    return runs


def mixed(name: str) -> tuple[Any, Any]:
    """Peer ``name``'s run and its row; a skip without its library."""
    from decaybench.peers.mixed import MIXED_PEERS, row

    pytest.importorskip(MIXED_LIBRARIES[name])
    run = _mixed_runs()[name]
    if isinstance(run, PeerUnavailable):
        pytest.skip(run.reason)
    return run, row(MIXED_PEERS[name], run)


def _forced() -> tuple[int, ...]:
    from decaybench.peers.mixed import FORCED

    return tuple(step for step, kind in enumerate(FORCED) if kind != "finite")


def test_the_mixed_peers_are_every_library() -> None:
    from decaybench.peers.mixed import FORCED, MIXED_PEERS

    assert sorted(MIXED_PEERS) == sorted(MIXED_LIBRARIES)
    assert _forced() == (1, 3) and len(FORCED) == 5  # the sequence: finite, inf, finite, nan, finite


@pytest.mark.parametrize(("name", "counter"), [("keras3", "iterations"), ("optax apply_if_finite", "count")])
def test_keras3_and_optax_apply_if_finite_wait_through_skipped_steps(name: str, counter: str) -> None:
    # Waiting: the counter counts applied steps only, so the k-th applied step uses lr(k).
    run, row = mixed(name)
    applied = len(run.lr) - len(_forced())
    assert row.skipped == _forced() and row.on_skip == "waits"
    assert row.counter == f"{counter} {applied}" and row.applied == tuple(range(applied))


@pytest.mark.parametrize(("name", "counter"), [("keras2", "iterations"), ("torch bfloat16", "last_epoch")])
def test_tf_keras_and_torch_move_on_skipped_steps(name: str, counter: str) -> None:
    # Moving: the counter counts every step, so the step k that is applied uses lr(k).
    run, row = mixed(name)
    assert row.skipped == _forced() and row.on_skip == "moves"
    assert row.counter == f"{counter} {len(run.lr)}"
    assert row.applied == tuple(step for step in range(len(run.lr)) if step not in _forced())


def test_torch_float16_also_skips_the_steps_whose_gradient_overflows() -> None:
    # GradScaler starts at 2**16 and halves on a skip. While w = 5 the float16 gradient of the loss
    # is 2 (w + 1) scale = 12 scale, past float16's 65504 for scales from 8192 up: the steps before
    # the first applied one overflow whether forced or not.
    run, row = mixed("torch float16")
    scale, skipped, applied_yet = 2.0**16, [], False
    for step in range(len(run.lr)):
        if step in _forced() or (not applied_yet and 12 * scale > float(np.finfo(np.float16).max)):
            skipped.append(step)
            scale /= 2
        else:
            applied_yet = True
    assert row.skipped == tuple(skipped) and row.compute_dtype == "float16" and row.on_skip == "moves"
    assert run.scales == tuple(2.0**16 / 2**k for k in range(len(skipped))) + (2.0**16 / 2 ** len(skipped),) * (len(run.lr) - len(skipped))
    assert row.applied == tuple(step for step in range(len(run.lr)) if step not in skipped)
    unforced = ", ".join(str(step) for step in skipped if step not in _forced())
    assert f"steps {unforced} skipped unforced: the float16 gradient overflowed" in row.cause


def test_torch_lr_is_its_scheduler_at_every_step_skipped_or_not() -> None:
    # ExponentialLR steps once per step, skipped or not: lr(k) = 0.2 * 0.99**k as its running product.
    for name in ("torch bfloat16", "torch float16"):
        run, row = mixed(name)
        assert_array_equal(run.lr, running_product(np.arange(len(run.lr)), 0.2, 0.99))
        assert "pytorch#55585" in row.cause


@pytest.mark.parametrize("name", ["keras3", "keras2"])
def test_the_keras_lr_recorded_is_the_lr_the_update_applied(name: str) -> None:
    # The seed's update replayed in float32 with the recorded lr: the loss scale is a power of two,
    # so scaling and unscaling 2 (w + 1) are exact and w - lr * g rounds twice, as SGD does.
    run, _ = mixed(name)
    w, replay = f32(5), []
    for lr, skipped in zip(run.lr, run.skipped, strict=True):
        w = w if skipped else f32(w - f32(f32(lr) * (f32(2) * (w + f32(1)))))
        replay.append(w)
    assert_array_equal(np.array(run.w, dtype=np.float32), np.array(replay))
    assert run.scales[0] == 2.0**15 and run.scales[-1] == 2.0**15 / 2 ** len(_forced())  # halved once a skip


def test_optax_applies_a_non_finite_gradient_without_loss_scaling() -> None:
    run, row = mixed("optax bfloat16")
    assert row.skipped == () and row.on_skip == "-" and row.counter == f"count {len(run.lr)}"
    assert row.compute_dtype == "bfloat16" and math.isnan(run.w[-1]) and math.isinf(run.w[_forced()[0]])
    assert "optax has no loss scaling" in row.cause


def test_a_missing_mixed_library_is_a_row_that_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from decaybench.peers import mixed as mixed_module

    def missing(gradients: tuple[str, ...]) -> Any:
        raise ImportError("No module named 'torch'")

    peer = mixed_module.MixedPeer("torch bfloat16", "autocast", missing)
    monkeypatch.setitem(mixed_module.MIXED_PEERS, "torch bfloat16", peer)
    (row,) = mixed_module.mixed_precision(["torch bfloat16"])
    assert row.unavailable == "No module named 'torch'" and row.cause == "skipped: No module named 'torch'"
    with pytest.raises(InvalidValue, match="peers"):
        mixed_module.mixed_precision(["jmp"])


def test_tf_keras_that_legacy_keras_does_not_select_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    # TensorFlow before 2.16: TF_USE_LEGACY_KERAS=1 leaves tf.keras as Keras 2 of the keras package, not tf_keras.
    import subprocess

    from decaybench.peers import mixed_runs

    said = "TF_USE_LEGACY_KERAS=1 does not select tf_keras under TensorFlow 2.15.1"
    done = subprocess.CompletedProcess([], mixed_runs._NOT_TF_KERAS, stdout="", stderr=f"warning\n{said}\n")
    monkeypatch.setattr(mixed_runs.subprocess, "run", lambda *args, **kwargs: done)
    with pytest.raises(PeerUnavailable, match=said):
        mixed_runs.tf_keras_run(("finite",))
