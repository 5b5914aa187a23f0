"""XLA's persistent compilation cache, opt in: ``--compile-cache DIR`` or ``DECAYBENCH_COMPILE_CACHE=DIR``.

TensorFlow's XLA bridge writes each executable it compiles to ``DIR`` and, in a later process,
loads it instead of compiling when the function's signature and HLO are the same
(``TF_XLA_FLAGS=--tf_xla_persistent_cache_directory=DIR``, TensorFlow 2.12 and later). The
executable it loads is the one it saved, so no bit of a trace changes (``tests/test_compile_cache.py``
compares a run that loads with one that compiles). What remains of a new process's first call is
tracing and TensorFlow's graph passes: ``docs/benchmarks.notes.md`` ("First calls").

TensorFlow reads ``TF_XLA_FLAGS`` once in a process, when its runtime starts: its first op or
device query (measured: after a ``tf.constant(0.0)``, a directory set later is never written).
:func:`use_compile_cache` must run before that. The CLI does so before it loads TensorFlow; the
library does so when it first imports its compiled loop (:func:`from_environment`, called by
:mod:`decaybench.modes._scaffold.compiled_loop`), which is in time only in a process whose
TensorFlow has run nothing yet: a program that runs TensorFlow first calls :func:`from_environment`
(or :func:`use_compile_cache`) before it.

>>> with_cache_flag("--tf_xla_auto_jit=0", "/tmp/cache")
'--tf_xla_auto_jit=0 --tf_xla_persistent_cache_directory=/tmp/cache'
"""

from __future__ import annotations

import os
from pathlib import Path

from decaybench.validation import InvalidValue
from decaybench.xla_flags import with_flag

__all__ = ["ENVIRONMENT", "from_environment", "use_compile_cache", "with_cache_flag"]

ENVIRONMENT = "DECAYBENCH_COMPILE_CACHE"
_FLAG = "--tf_xla_persistent_cache_directory"


def with_cache_flag(flags: str | None, directory: str) -> str:
    """``flags`` (a ``TF_XLA_FLAGS`` value) asking for the cache in ``directory``, once."""
    flag = f"{_FLAG}={directory}"
    return flags if flags and flag in flags.split() else with_flag(flags, flag)


def use_compile_cache(directory: str | os.PathLike[str], argument: str = "compile_cache") -> Path:
    """Make ``directory`` (created if missing) XLA's persistent cache in this process and its children.

    Raises :class:`~decaybench.validation.InvalidValue` naming ``argument`` when it cannot be a
    writable directory.
    """
    path = Path(directory)
    try:
        if os.fspath(directory) == "":
            raise OSError("empty")
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        raise InvalidValue(argument, os.fspath(directory), "must be a directory that can be created") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InvalidValue(argument, os.fspath(directory), "must be a writable directory")
    os.environ["TF_XLA_FLAGS"] = with_cache_flag(os.environ.get("TF_XLA_FLAGS"), str(path.resolve()))
    return path


def from_environment() -> Path | None:
    """:func:`use_compile_cache` on ``$DECAYBENCH_COMPILE_CACHE`` when it is set and not empty."""
    directory = os.environ.get(ENVIRONMENT)
    return use_compile_cache(directory, ENVIRONMENT) if directory else None
