"""Checkpoints: a run that stops between epochs and resumes gives the same trace, bit for bit.

``run(config, mode, checkpoint_dir=DIR)`` saves the run's :class:`State` (w, the next epoch, the
rows recorded so far, and the optimizer where the mode has one) every ``checkpoint_every`` epochs
and after the last; ``resume=True`` continues from the latest complete checkpoint. The default
interval is :func:`default_every`: ten checkpoints a run, ``max(1, epochs // 10)`` epochs apart.

A directory holds one run: ``manifest.json`` (the mode, the config, the decaybench and TensorFlow
versions; :mod:`.manifest`), written atomically before the first checkpoint, and the states
(:mod:`.state`): TensorFlow's format (``tf.train.Checkpoint`` + ``CheckpointManager``,
``ckpt-<epoch>``), or ``state.npz`` for a mode whose :class:`~decaybench.modes.ModeSpec` says
``checkpoints="numpy"`` (mode ``numpy``). The state after 0 epochs is saved at the
start; a directory with a manifest and no state yet (a run killed in between) resumes at epoch 0.

``decaybench.loops.run`` checks the options (:func:`check_options`) and passes them to the mode's
runner as the keyword ``checkpoint`` (only when a directory is given)::

    def run_<mode>(config, progress=None, *, checkpoint: CheckpointOptions | None = None) -> Trace

    checkpoints = checkpoint.open(config, mode, objects={"optimizer": optimizer})
    state = checkpoints.start()             # the restored state, or State.initial(config)
    ...                                     # run epochs state.epoch .. epochs-1
    if checkpoints.due(done):               # after `done` epochs
        checkpoints.save(State(done, w, rows_w, rows_loss, rows_lr))

``checkpoints.resumed_from`` is the epoch a resumed run continued from; :func:`latest_epoch` reads
a directory's latest epoch without TensorFlow.

A sweep (``decaybench.grid.run_grid``) keeps its cells' loop state the same way, as named arrays in
``state.npz`` (:class:`ArrayCheckpoints`), beside a manifest that also names its grid.

Every refusal is an :class:`~decaybench.validation.InvalidValue` naming the argument
(``checkpoint_dir``, ``checkpoint_every``, ``resume``) and the value, raised before anything is
written: :func:`check_options` runs without TensorFlow, so the CLI refuses bad input first. It
checks every entry's type (:func:`.files.check_entries`), the manifest, and what can be read of the
state without TensorFlow (all of ``state.npz``, the epoch TensorFlow's index names); a checkpoint
that TensorFlow cannot read is refused by :meth:`Checkpoints.start`, before the run. Files are read
through :mod:`decaybench.reading`: one line naming the file, never a traceback or a block.

>>> default_every(40), default_every(7)
(4, 1)
>>> check_options(DecayConfig(), "eager", None, None, True)
Traceback (most recent call last):
...
decaybench.validation.InvalidValue: resume needs a checkpoint directory (checkpoint_dir, --checkpoint-dir), got True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from decaybench.checkpoint.files import PREFIX, check_entries, index_epoch
from decaybench.checkpoint.manifest import MANIFEST, Manifest, first_difference, read_manifest, write_manifest
from decaybench.checkpoint.state import NumpyStore, State, Store, TensorFlowStore, latest_epoch
from decaybench.config import DecayConfig
from decaybench.modes import REGISTRY
from decaybench.reading import UnreadableInput
from decaybench.validation import InvalidType, InvalidValue, check_positive_int

__all__ = [
    "MANIFEST",
    "ArrayCheckpoints",
    "CheckpointOptions",
    "Checkpoints",
    "Manifest",
    "State",
    "Stopped",
    "check_options",
    "default_every",
    "latest_epoch",
    "read_manifest",
]


def default_every(epochs: int) -> int:
    """The default interval: ten checkpoints per run (and one after the last epoch)."""
    return max(1, epochs // 10)


class Stopped(Exception):
    """Raised right after the checkpoint of epoch ``stop_after``: a run stopped there, as a killed one would."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        super().__init__(f"stopped after the checkpoint of epoch {epoch}")


@dataclass(frozen=True)
class CheckpointOptions:
    """``checkpoint_dir``, ``checkpoint_every`` and ``resume`` of one run, checked by :func:`check_options`.

    ``stop_after`` (tests and ``verify``'s resume check) raises :class:`Stopped` once that epoch's checkpoint is saved.
    """

    directory: Path
    every: int
    resume: bool
    stop_after: int | None = None

    def open(self, config: DecayConfig, mode: str, objects: Mapping[str, Any] | None = None) -> Checkpoints:
        """The run's :class:`Checkpoints`; ``objects`` are the mode's trackables saved with it (TensorFlow modes)."""
        return Checkpoints(self, config, mode, objects)


def _refuse(directory: Path, rule: str) -> InvalidValue:
    return InvalidValue("checkpoint_dir", str(directory), rule)


def _check_writable(directory: Path) -> None:
    existing = directory if directory.exists() else directory.parent
    if not existing.is_dir():
        raise _refuse(directory, f"needs an existing parent directory, {str(existing)!r} is not one")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise _refuse(directory, f"is not writable ({str(existing)!r})")


def _check_manifest(directory: Path, expected: Manifest) -> None:
    found = read_manifest(directory)  # a file that is no manifest is refused there, naming it
    if found is None:
        raise _refuse(directory, f"holds no checkpoint to resume (no {MANIFEST})")
    difference = first_difference(found, expected)
    if difference is not None:
        name, theirs, ours = difference
        raise _refuse(directory, f"holds a checkpoint of another run: {name} is {theirs!r} there, {ours!r} in this run")


def _fits(state: State, config: DecayConfig, directory: Path) -> State:
    try:
        return state.check(config)
    except ValueError as error:
        raise _refuse(directory, f"holds a corrupt checkpoint: {error}") from None


def check_options(
    config: DecayConfig, mode: str, directory: Any, every: Any, resume: Any, manifest: Manifest | None = None
) -> CheckpointOptions | None:
    """The checked options, or ``None`` without a checkpoint directory; raises before anything is written.

    With ``resume`` the directory must hold this run's manifest (same mode, config and versions;
    ``manifest`` when given: a sweep's); without it, the directory must not hold a run's
    checkpoint already (resume it, or choose another).
    """
    if not isinstance(resume, bool):
        raise InvalidType("resume", resume, "must be a bool")
    if directory is None:
        if resume:
            raise InvalidValue("resume", resume, "needs a checkpoint directory (checkpoint_dir, --checkpoint-dir)")
        if every is not None:
            raise InvalidValue("checkpoint_every", every, "needs a checkpoint directory (checkpoint_dir, --checkpoint-dir)")
        return None
    if not isinstance(directory, (str, os.PathLike)) or not str(directory):
        raise InvalidType("checkpoint_dir", directory, "must be a path")
    every = default_every(config.epochs) if every is None else check_positive_int("checkpoint_every", every)
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise _refuse(path, "is not a directory")
    check_entries(path)  # no FIFO to block a reader, no directory where a file is read
    if resume:
        if not path.exists():
            raise _refuse(path, "does not exist: there is no checkpoint to resume")
        _check_manifest(path, manifest or Manifest.of(config, mode))
        if manifest is None:  # a sweep's state is checked against its cells when it starts
            _check_state(path, config, mode)
    elif (path / MANIFEST).exists():
        epoch = latest_epoch(path)
        at = "" if epoch is None else f" at epoch {epoch}"
        raise _refuse(path, f"holds a checkpoint{at} already: resume it (resume=True, --resume) or choose another directory")
    _check_writable(path)
    return CheckpointOptions(path, every, resume)


def _check_state(directory: Path, config: DecayConfig, mode: str) -> None:
    """What can be checked of the saved state without TensorFlow: all of ``state.npz``, the index's epoch."""
    spec = REGISTRY.get(mode)
    if spec is not None and spec.checkpoints == "numpy":
        state = NumpyStore(directory).load()
        if state is not None:
            _fits(state, config, directory)
        return
    epoch = index_epoch(directory)
    if epoch is not None and epoch > config.epochs:
        raise _refuse(directory, f"holds a corrupt checkpoint: its epoch {epoch} is outside 0..{config.epochs}")
    if epoch is not None and not os.path.lexists(directory / f"{PREFIX}-{epoch}.index"):  # else TensorFlow finds it after loading
        raise _refuse(directory, f"holds a corrupt checkpoint: its index names {PREFIX}-{epoch}, and {PREFIX}-{epoch}.index is missing")


class Checkpoints:
    """One run's checkpoints: :meth:`start`, then :meth:`save` whenever :meth:`due`."""

    def __init__(self, options: CheckpointOptions, config: DecayConfig, mode: str, objects: Mapping[str, Any] | None = None) -> None:
        self.options, self.config, self.mode = options, config, mode
        self.directory = options.directory
        self.resumed_from: int | None = None
        spec = REGISTRY.get(mode)  # a peer of decaybench.peers.resume is no mode: TensorFlow's format
        numpy = spec is not None and spec.checkpoints == "numpy"
        self._store: Store = NumpyStore(self.directory) if numpy else TensorFlowStore(self.directory, config.dtype, objects)

    def start(self) -> State:
        """The state to continue from: the latest checkpoint when resuming (checked against the config), else the initial one.

        A fresh run writes its manifest and the initial state first.
        """
        if self.options.resume:
            state = self._store.load()  # a file that is no state is refused there, naming it
            state = State.initial(self.config) if state is None else _fits(state, self.config, self.directory)
            self.resumed_from = state.epoch
            return state
        _create(self.directory, Manifest.of(self.config, self.mode))
        state = State.initial(self.config)
        self.save(state)
        return state

    def due(self, done: int) -> bool:
        """Whether to save after ``done`` epochs: every ``every`` epochs, and after the last."""
        return done % self.options.every == 0 or done == self.config.epochs

    def save(self, state: State) -> None:
        """Save ``state`` (a complete checkpoint when this returns)."""
        try:
            self._store.save(state)
        except OSError as error:
            raise _unwritable(self.directory, error) from None
        if state.epoch == self.options.stop_after:
            raise Stopped(state.epoch)


def _unwritable(directory: Path, error: OSError) -> InvalidValue:
    return _refuse(directory, f"cannot be written ({getattr(error, 'reason', None) or error.strerror or error})")


def _create(directory: Path, manifest: Manifest) -> None:
    # A fresh run's directory and manifest, before its first state.
    try:
        directory.mkdir(exist_ok=True)
        write_manifest(directory, manifest)
    except OSError as error:
        raise _unwritable(directory, error) from None


class ArrayCheckpoints:
    """A sweep's checkpoints: its named loop arrays after ``epoch`` epochs, in ``state.npz``.

    As :class:`Checkpoints`: :meth:`start` (a fresh sweep writes ``manifest`` and the initial
    arrays), then :meth:`save` whenever :meth:`due`. A resumed state must hold every array of the
    initial one, with the same dtype and shape, at an epoch in ``0..epochs``.
    """

    def __init__(self, options: CheckpointOptions, manifest: Manifest) -> None:
        self.options, self.manifest, self.directory = options, manifest, options.directory
        self.epochs = manifest.config.epochs
        self.resumed_from: int | None = None
        self._store = NumpyStore(self.directory)

    def start(self, initial: Mapping[str, np.ndarray]) -> tuple[int, dict[str, np.ndarray]]:
        """``(epochs done, arrays)``: the latest checkpoint's when resuming, else ``(0, initial)``."""
        if not self.options.resume:
            _create(self.directory, self.manifest)
            self.save(0, initial)
            return 0, dict(initial)
        try:
            loaded = self._store.load_arrays(initial)
            epoch, arrays = (0, dict(initial)) if loaded is None else loaded
            if not 0 <= epoch <= self.epochs:
                raise ValueError(f"its epoch {epoch} is outside 0..{self.epochs}")
            for name, array in arrays.items():
                if (array.dtype, array.shape) != (initial[name].dtype, initial[name].shape):
                    raise ValueError(
                        f"its {name} is {array.dtype}{list(array.shape)}, expected {initial[name].dtype}{list(initial[name].shape)}"
                    )
        except UnreadableInput:
            raise  # it names the file already
        except ValueError as error:
            raise _refuse(self.directory, f"holds a corrupt checkpoint: {error}") from None
        self.resumed_from = epoch
        return epoch, arrays

    def due(self, done: int) -> bool:
        """Whether to save after ``done`` epochs: every ``every`` epochs, and after the last."""
        return done % self.options.every == 0 or done == self.epochs

    def save(self, epoch: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Save ``arrays`` after ``epoch`` epochs (a complete checkpoint when this returns)."""
        try:
            self._store.save_arrays(epoch, arrays)
        except OSError as error:
            raise _unwritable(self.directory, error) from None
        if epoch == self.options.stop_after:
            raise Stopped(epoch)
