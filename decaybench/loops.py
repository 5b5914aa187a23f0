"""Running a configuration in a mode: ``run(config, mode) -> Trace``.

``MODES`` lists the modes in registry order, those of other distributions included (read on
first use); ``decaybench.modes.REGISTRY`` says what each does.

>>> import decaybench.loops
>>> decaybench.loops.MODES[0]
'eager'
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from typing import Any

from decaybench.checkpoint import CheckpointOptions, Stopped, check_options
from decaybench.config import DecayConfig
from decaybench.memory import available_memory, check_memory  # re-exported: their home is decaybench.memory
from decaybench.modes import REGISTRY, ModeSpec
from decaybench.trace import Trace
from decaybench.validation import InvalidType, InvalidValue, check_choice

# MODES is no name of the module: __getattr__ computes it.
__all__ = ["DecayConfig", "available_memory", "check_memory", "check_policy_mode", "run", "run_split", "stop_after"]


def __getattr__(name: str) -> tuple[str, ...]:
    if name == "MODES":  # computed on use: the registry loads other distributions' modes only when asked
        return tuple(REGISTRY)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run(
    config: DecayConfig | None = None,
    mode: str = "eager",
    progress: bool | None = None,
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
) -> Trace:
    """Train the seed problem described by ``config`` (default: the seed) in ``mode``.

    ``progress`` draws a bar on stderr for runs longer than ~2 s:
    ``None`` (the default) when stderr is a terminal, ``True`` always, ``False`` never.

    With ``checkpoint_dir`` the run saves its state there every ``checkpoint_every`` epochs
    (default: :func:`decaybench.checkpoint.default_every`, ten per run) and after the last;
    ``resume=True`` continues from the latest complete checkpoint, and the trace is bit for bit
    the uninterrupted run's (a finished run's checkpoint just gives its trace). Refusals name
    the argument: see :mod:`decaybench.checkpoint`.

    Example:
        >>> trace = run()
        >>> trace.lines()[0]
        'After 0 epoch,w is 2.600000,loss is 36.000000,lr is 0.200000'
    """
    if config is None:
        config = DecayConfig()
    if not isinstance(config, DecayConfig):
        raise InvalidType("config", config, "must be a DecayConfig")
    spec = REGISTRY.get(mode) if isinstance(mode, str) else None
    if spec is None:
        check_choice("mode", mode, tuple(REGISTRY))  # raises, naming the modes
    assert spec is not None
    if config.steps_per_epoch > 1 and spec.several_steps is None:
        only = " and ".join(name for name, other in REGISTRY.items() if other.several_steps is not None)
        raise InvalidValue("steps_per_epoch", config.steps_per_epoch, f"must be 1 in mode {mode}: only {only} run several steps per epoch")
    if config.dtype not in spec.dtypes:
        takes = ", ".join(name for name, other in REGISTRY.items() if config.dtype in other.dtypes)
        rule = f"cannot be used in mode {mode}: {spec.dtypes_why} (it runs {', '.join(spec.dtypes)}; modes for {config.dtype}: {takes})"
        raise InvalidValue("dtype", config.dtype, rule)
    check_policy_mode(config, mode, checkpoint_dir)
    check_memory(config, mode)
    options = check_options(config, mode, checkpoint_dir, checkpoint_every, resume)
    return _run(config, spec, progress, options)


def check_policy_mode(config: DecayConfig, mode: str, checkpoint_dir: str | os.PathLike[str] | None = None) -> None:
    """Refuse ``config.policy`` in a mode without a Keras model (:attr:`ModeSpec.policy`), or with checkpoints."""
    if config.policy is None:
        return
    if REGISTRY[mode].policy is None:
        takes = ", ".join(name for name, other in REGISTRY.items() if other.policy is not None)
        raise InvalidValue("policy", config.policy, f"cannot be used in mode {mode}: it has no Keras model (only {takes} take a policy)")
    if checkpoint_dir is not None:
        rule = f"cannot be used with policy {config.policy}: a mixed run does not checkpoint"
        raise InvalidValue("checkpoint_dir", str(checkpoint_dir), rule)


def _run(config: DecayConfig, spec: ModeSpec, progress: bool | None, options: CheckpointOptions | None) -> Trace:
    runner: Any = spec.runner()
    if options is None:
        return runner(config, progress)
    if spec.checkpoints is None:
        raise InvalidValue("checkpoint_dir", str(options.directory), f"cannot be used in mode {spec.name}: it does not checkpoint")
    trace: Trace = runner(config, progress, checkpoint=options)
    return trace


def stop_after(config: DecayConfig, mode: str, split: int, directory: str | os.PathLike[str]) -> None:
    """Run ``config`` checkpointing every ``split`` epochs into the new ``directory`` and stop right after
    the checkpoint of epoch ``split``, as a run killed there would (``split == epochs``: the run finishes)."""
    options = check_options(config, mode, directory, split, False)
    assert options is not None
    with contextlib.suppress(Stopped):
        _run(config, REGISTRY[mode], False, dataclasses.replace(options, stop_after=split))


def run_split(config: DecayConfig, mode: str, split: int, directory: str | os.PathLike[str]) -> Trace:
    """:func:`stop_after` epoch ``split``, then resume in this process: the trace must be the uninterrupted run's.

    >>> import tempfile, pathlib
    >>> config = DecayConfig(epochs=7, record_every=3)
    >>> run_split(config, "numpy", 2, pathlib.Path(tempfile.mkdtemp()) / "run").identical(run(config, "numpy"))
    True
    """
    stop_after(config, mode, split, directory)
    return run(config, mode, False, checkpoint_dir=directory, checkpoint_every=split, resume=True)
