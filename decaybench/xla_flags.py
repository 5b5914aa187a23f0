"""The XLA setting that makes the ``xla`` mode bit-exact, and a check that this XLA knows it.

XLA's CPU backend lets LLVM contract ``w - lr * g`` into a fused multiply-add. Capping the ISA
below FMA stops that, and XLA then rounds exactly like the emulation of record. XLA reads
``XLA_FLAGS`` once, when it starts, and aborts the process on a flag it does not know (XLA
learned ``--xla_cpu_max_isa`` in TensorFlow 2.19), so the check runs in a fresh interpreter.

XLA:CPU's thunk runtime (the default from TensorFlow 2.18) runs a loop's iterations through
thunks; :data:`XLA_LEGACY_RUNTIME` asks for the compiled-loop runtime of TF 2.17 and before
(``docs/compat.md`` times both on the ``long`` workload).

:func:`xla_contracts` says whether XLA contracts here: the CPU has FMA and the ISA is not capped.

>>> with_flag("--xla_dump_to=/tmp/x", XLA_NO_FMA)
'--xla_dump_to=/tmp/x --xla_cpu_max_isa=AVX'
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["XLA_LEGACY_RUNTIME", "XLA_NO_FMA", "cpu_has_fma", "with_flag", "xla_accepts", "xla_contracts"]

XLA_NO_FMA = "--xla_cpu_max_isa=AVX"
XLA_LEGACY_RUNTIME = "--xla_cpu_use_thunk_runtime=false"

_PROBE = "import tensorflow as tf; tf.function(lambda: tf.constant(1.0) + 1.0, jit_compile=True)()"


def with_flag(flags: str | None, flag: str) -> str:
    """``flags`` (an ``XLA_FLAGS`` value) with ``flag`` appended."""
    return f"{flags or ''} {flag}".strip()


def xla_accepts(flag: str) -> bool:
    """Whether this TensorFlow's XLA starts with ``flag`` in ``XLA_FLAGS`` (checked in a subprocess)."""
    environ = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "XLA_FLAGS": with_flag(os.environ.get("XLA_FLAGS"), flag)}
    done = subprocess.run([sys.executable, "-c", _PROBE], env=environ, capture_output=True, text=True, timeout=300)
    return done.returncode == 0


def cpu_has_fma() -> bool:
    """Whether the CPU has FMA instructions (``/proc/cpuinfo``; assumed where it cannot be read)."""
    # XLA targets the host CPU: without FMA instructions there is nothing to contract.
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True
    return " fma " in flags.replace("\n", " ")


def xla_contracts() -> bool:
    """Whether XLA in this process contracts ``a * b + c`` into one FMA: the CPU has FMA and
    ``XLA_FLAGS`` does not cap the ISA below it (:data:`XLA_NO_FMA`)."""
    return cpu_has_fma() and XLA_NO_FMA not in os.environ.get("XLA_FLAGS", "").split()
