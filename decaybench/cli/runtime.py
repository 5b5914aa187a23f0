"""What the commands share once the arguments are parsed: loading TensorFlow quietly, and writing the output."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from decaybench.cli.parsing import Flag, UsageError
from decaybench.compile_cache import ENVIRONMENT as COMPILE_CACHE_ENVIRONMENT
from decaybench.compile_cache import from_environment, use_compile_cache
from decaybench.files import write_atomic
from decaybench.messages import say
from decaybench.modes.distributed.timeouts import MAX_RESTARTS, TIMEOUTS
from decaybench.stopping import interrupted
from decaybench.xla_flags import XLA_NO_FMA, with_flag, xla_accepts

__all__ = ["CLUSTER_FLAGS", "PROG", "RUNTIME_FLAGS", "emit", "load_tensorflow", "report_divergence"]

PROG = "decaybench"

# Mode multiworker: the limits of the local cluster and of a real one (TF_CONFIG), and who writes.
CLUSTER_FLAGS = (
    Flag(
        "--startup-timeout",
        {
            "type": float,
            "default": TIMEOUTS.startup,
            "metavar": "SECONDS",
            "help": f"multiworker: joining the cluster ({TIMEOUTS.startup:g})",
        },
    ),
    Flag(
        "--collective-timeout",
        {
            "type": float,
            "default": TIMEOUTS.collective,
            "metavar": "SECONDS",
            "help": f"multiworker: a collective waiting for a peer aborts; 0: never ({TIMEOUTS.collective:g})",
        },
    ),
    Flag(
        "--max-restarts",
        {
            "type": int,
            "default": MAX_RESTARTS,
            "metavar": "N",
            "help": f"multiworker with --checkpoint-dir: restarts of the local cluster after a fault ({MAX_RESTARTS})",
        },
    ),
    Flag("--output-all", {"action": "store_true", "help": "multiworker with TF_CONFIG: every host writes the output, not only the chief"}),
)

RUNTIME_FLAGS = (
    Flag("--xla-no-fma", {"action": "store_true", "help": f"make XLA bit-exact by forbidding FMA (XLA_FLAGS={XLA_NO_FMA})"}),
    Flag(
        "--compile-cache",
        {"metavar": "DIR", "help": f"keep XLA's compiled loops in DIR for later processes (env: {COMPILE_CACHE_ENVIRONMENT})"},
    ),
)


@contextlib.contextmanager
def _stderr_captured() -> Iterator[None]:
    """Hold back what C++ libraries write on fd 2 (TensorFlow's start-up logging); replay it on error.

    Replayed line by line through :func:`~decaybench.messages.say`; not on Ctrl-C or SIGTERM,
    which stop the command with their one line.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except Exception:
            os.dup2(saved, 2)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                say(line)
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def load_tensorflow(xla_no_fma: bool = False, compile_cache: str | None = None) -> None:
    """Import TensorFlow with its start-up logging held back, after the arguments were checked;
    ``compile_cache`` (else ``$DECAYBENCH_COMPILE_CACHE``): XLA's persistent cache (:mod:`decaybench.compile_cache`)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if compile_cache is not None:
        use_compile_cache(compile_cache)
    else:
        from_environment()
    if xla_no_fma:
        if not xla_accepts(XLA_NO_FMA):
            raise UsageError(f"--xla-no-fma: this TensorFlow's XLA does not know {XLA_NO_FMA} (TensorFlow 2.19 or newer does)")
        os.environ["XLA_FLAGS"] = with_flag(os.environ.get("XLA_FLAGS"), XLA_NO_FMA)
    with _stderr_captured():
        try:
            import tensorflow as tf

            from decaybench.modes.distributed.training import setup_devices  # loads TensorFlow

            setup_devices()  # before any op: mode mirrored then runs in this process, on 2 logical CPUs
            tf.config.list_physical_devices()  # device start-up logs here, not mid-output
        except Exception:
            if interrupted():  # TensorFlow's import turned a Ctrl-C into another error ("direct cause"): it is the Ctrl-C
                raise KeyboardInterrupt from None
            raise


def emit(text: str, output: Path | None) -> None:
    """Write ``text`` to stdout, or atomically to ``output``."""
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomic(output, text)


def report_divergence(epochs: Iterable[int | None]) -> None:
    """One line on stderr naming the first epoch where a run diverged, if any did."""
    diverged = sorted({epoch for epoch in epochs if epoch is not None})
    if diverged:
        say(f"{PROG}: diverged at epoch {diverged[0]}")
