"""Resume, library by library: does each peer's own mechanism resume its run bit for bit.

Stop a peer's run after epoch ``k``, restore it with the library's own mechanism, finish it, and
compare bit for bit with the peer's uninterrupted run.

* tf.keras, Keras 2 and Keras 3: ``w`` and the optimizer in a ``tf.train.Checkpoint`` (with
  ``tf.train.CheckpointManager``, :mod:`decaybench.checkpoint`): the optimizer's ``iterations``
  is the step the schedule is evaluated at, so it must be restored.
* optax: ``w`` and the optimizer state's ``count`` (the schedule's step), saved with NumPy and
  set back into a fresh ``optimizer.init(w)`` with ``optax.tree_utils.tree_set``.
* PyTorch: ``torch.save`` of ``w``, ``optimizer.state_dict()`` and ``scheduler.state_dict()``;
  a new optimizer and scheduler then ``load_state_dict`` them (the documented order).

The resume check catches the two classic mistakes (:data:`MISTAKES`), pinned as negative examples
on tf.keras: the schedule rebuilt without restoring the step (``iterations`` back at 0: the lr
restarts at its initial value) and the step restored *and* the decay replayed on top of it (the
schedule evaluated at ``iterations + k``: the lr decayed twice).
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from decaybench.checkpoint import Stopped, check_options
from decaybench.config import DecayConfig
from decaybench.peers import PEERS, PeerUnavailable
from decaybench.peers.keras import _exponential_decay, _namespace
from decaybench.peers.optax import optax_epoch, optax_schedule
from decaybench.peers.torch import _gamma
from decaybench.trace import Trace

__all__ = ["MISTAKES", "RESUMES", "resume_check", "resumed"]


def _keras(name: str, config: DecayConfig, split: int, directory: Path, mistake: str | None = None) -> Trace:
    from decaybench.modes.keras import keras_loop  # here: it imports TensorFlow

    sgd = _namespace(name).optimizers.SGD
    options = check_options(config, name, directory, split, False)
    assert options is not None
    with contextlib.suppress(Stopped):
        keras_loop(
            config, _exponential_decay(name, config.schedule), sgd, checkpoint=dataclasses.replace(options, stop_after=split), mode=name
        )
    schedule = _exponential_decay(name, config.schedule)
    if mistake == "lr decayed twice":
        schedule = _shifted(name, schedule, split)
    again = dataclasses.replace(options, resume=True)
    w, loss, lr = keras_loop(config, schedule, sgd, checkpoint=again, mode=name, restore_optimizer=mistake != "lr restarts")
    return Trace(epoch=config.recorded(), w=w, loss=loss, lr=lr, config=config, mode=name)


def _shifted(name: str, schedule: Any, offset: int) -> Any:
    class Replayed(_namespace(name).optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
        """The schedule at ``step + offset``: a restored step with the decay applied again on top."""

        def __call__(self, step: Any) -> Any:
            return schedule(step + offset)

        def get_config(self) -> dict[str, Any]:
            return {"offset": offset}

    return Replayed()


def _optax(name: str, config: DecayConfig, split: int, directory: Path) -> Trace:
    import jax

    with jax.enable_x64(config.dtype == "float64"):
        return _optax_split(name, config, split, directory)


def _optax_split(name: str, config: DecayConfig, split: int, directory: Path) -> Trace:
    import jax
    import jax.numpy as jnp
    import optax

    schedule = optax_schedule(config.schedule)
    optimizer = optax.sgd(schedule)
    epoch = optax_epoch(schedule, optimizer)
    epochs = jax.jit(lambda w, state, length: jax.lax.scan(epoch, (w, state), length=length), static_argnums=2)
    w0 = jnp.full((config.size,), config.w0, dtype=config.dtype)
    (w, state), first = epochs(w0, optimizer.init(w0), split)
    np.savez(directory / "optax.npz", w=np.asarray(w), count=np.asarray(optax.tree_utils.tree_get(state, "count")))
    with np.load(directory / "optax.npz") as saved:
        w = jnp.asarray(saved["w"])
        state = optax.tree_utils.tree_set(optimizer.init(w), count=jnp.asarray(saved["count"]))
    rows = [np.asarray(part) for part in first]
    if split < config.epochs:
        _, second = epochs(w, state, config.epochs - split)
        rows = [np.concatenate([a, np.asarray(b)]) for a, b in zip(rows, second, strict=True)]
    keep = config.recorded()
    return Trace(epoch=keep, w=rows[0][keep], loss=rows[1][keep], lr=rows[2].astype(np.float64)[keep], config=config, mode=name)


def _torch(name: str, config: DecayConfig, split: int, directory: Path) -> Trace:
    import torch

    gamma, every = _gamma(config.schedule)

    def build(w: Any) -> tuple[Any, Any]:
        optimizer = torch.optim.SGD([w], lr=config.initial_learning_rate)
        schedulers = torch.optim.lr_scheduler
        return optimizer, schedulers.ExponentialLR(optimizer, gamma) if every == 1 else schedulers.StepLR(optimizer, every, gamma)

    keep = set(config.recorded().tolist())
    rows: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
    w = torch.full((config.size,), config.w0, dtype=getattr(torch, config.dtype), requires_grad=True)
    optimizer, scheduler = build(w)
    _torch_epochs(w, optimizer, scheduler, range(split), keep, rows)
    torch.save({"w": w.detach(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, directory / "torch.pt")
    saved = torch.load(directory / "torch.pt")
    w = saved["w"].clone().requires_grad_(True)
    optimizer, scheduler = build(w)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    _torch_epochs(w, optimizer, scheduler, range(split, config.epochs), keep, rows)
    return Trace(epoch=config.recorded(), w=np.stack(rows[0]), loss=np.stack(rows[1]), lr=np.asarray(rows[2]), config=config, mode=name)


def _torch_epochs(w: Any, optimizer: Any, scheduler: Any, epochs: range, keep: set[int], rows: tuple[list[Any], ...]) -> None:
    import torch

    # The epoch of decaybench.peers.torch.train, operation for operation.
    for epoch in epochs:
        optimizer.zero_grad()
        loss = torch.square(w + 1).sum()
        loss.backward()
        if epoch in keep:
            rows[2].append(float(optimizer.param_groups[0]["lr"]))
        optimizer.step()
        scheduler.step()
        if epoch in keep:
            rows[0].append(w.detach().numpy().copy())
            rows[1].append(loss.detach().numpy().copy())


Resume = Callable[[str, DecayConfig, int, Path], Trace]
RESUMES: dict[str, Resume] = {"tf.keras": _keras, "keras2": _keras, "keras3": _keras, "optax": _optax, "torch": _torch}
MISTAKES: dict[str, Resume] = {
    mistake: lambda name, config, split, directory, mistake=mistake: _keras(name, config, split, directory, mistake)  # type: ignore[misc]
    for mistake in ("lr restarts", "lr decayed twice")
}


def resumed(name: str, config: DecayConfig, split: int, mistake: str | None = None) -> Trace:
    """Peer ``name``'s run stopped after epoch ``split`` and resumed its library's way (or with ``mistake``, tf.keras)."""
    PEERS[name].version()
    with tempfile.TemporaryDirectory(prefix="decaybench-peer-resume-") as directory:
        resume = MISTAKES[mistake] if mistake is not None else RESUMES[name]
        return resume(name, config, split, Path(directory) / "run" if name in ("tf.keras", "keras2", "keras3") else Path(directory))


def _verdict(trace: Trace, whole: Trace) -> str:
    if trace.identical(whole):
        return "yes"
    for field in ("lr", "w", "loss"):
        a, b = getattr(trace, field).reshape(len(trace), -1), getattr(whole, field).reshape(len(whole), -1)
        differs = ~((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1)
        if differs.any():
            return f"NO: {field} differs from epoch {int(trace.epoch[np.argmax(differs)])}"
    return "NO"


def resume_check(
    name: str, config: DecayConfig | None = None, split: int | None = None, mistake: str | None = None, whole: Trace | None = None
) -> str:
    """``"yes"`` when peer ``name`` stopped after epoch ``split`` (default: the middle one) and resumed is its
    uninterrupted run (``whole``, run when not given) bit for bit; else ``"NO: <field> differs from epoch e"``;
    ``"-"`` when it cannot run."""
    config = config if config is not None else DecayConfig()
    split = split if split is not None else max(1, config.epochs // 2)
    try:
        whole = whole if whole is not None else PEERS[name].train(config)
        return _verdict(resumed(name, config, split, mistake), whole)
    except PeerUnavailable:
        return "-"
