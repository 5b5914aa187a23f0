"""Across TensorFlow versions: what each tox env measured, built into one Markdown page.

Each tox env (``tox.ini``: TF 2.15 with Keras 2, TF 2.16 with ``tf-keras`` and with Keras 3,
TF 2.18, TF 2.21) writes three files into ``.tox/compat/``:

* ``<env>.verify.json``: ``decaybench verify --format json`` on the seed, one row per mode and
  tf.keras's own ``ExponentialDecay`` as a reference row;
* ``<env>.env.json``: :func:`collect` in that env: versions, the lr dtype and ``get_config``
  names of our ``ExponentialDecay`` and of tf.keras's own, whether XLA knows the no-FMA flag,
  and the first call of mode ``xla`` on the seed, timed in fresh processes;
* ``<env>.bench.json``: ``decaybench bench --quick --group seed long compile --format json``,
  pytest-benchmark's JSON with every round: the speed per TF version (:mod:`decaybench.compat.speed`).

:func:`build` reads every pair and renders ``docs/compat.md``: the facts that differ across the
envs first, then those that hold in every env, then the speed per mode and TF version (a table
and ``docs/figures/compat_speed.png``). ``make compat`` runs the matrix, then the build::

    python -m decaybench.compat collect --output .tox/compat/tf221.env.json     # inside an env
    python -m decaybench.compat build --input .tox/compat --output docs/compat.md

Only :func:`collect` loads TensorFlow (:mod:`decaybench.compat.collecting`); the builder reads
JSON and nothing else (:mod:`decaybench.compat.page`).

>>> version_key("2.16.2")
(2, 16, 2)
"""

from __future__ import annotations

from decaybench.compat.collecting import collect
from decaybench.compat.page import BENCH_SUFFIX, ENV_SUFFIX, VERIFY_SUFFIX, EnvResult, Fact, build, facts, load, markdown, version_key

__all__ = [
    "BENCH_SUFFIX",
    "ENV_SUFFIX",
    "VERIFY_SUFFIX",
    "EnvResult",
    "Fact",
    "build",
    "collect",
    "facts",
    "load",
    "markdown",
    "version_key",
]
