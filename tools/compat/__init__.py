"""Across TensorFlow versions: what each tox env measured, built into one Markdown page.

Each tox env (``tox.ini``: TF 2.15 with Keras 2, TF 2.16 with ``tf-keras`` and with Keras 3,
TF 2.18, TF 2.21) writes three files into ``.tox/compat/``:

* ``<env>.verify.json``: ``decaybench verify --format json`` on the seed, one row per mode and
  tf.keras's own ``ExponentialDecay`` as a reference row;
* ``<env>.env.json``: :func:`collect` in that env: versions, the lr dtype and ``get_config``
  names of our ``ExponentialDecay`` and of tf.keras's own, whether XLA knows the no-FMA flag,
  and the first call of mode ``xla`` on the seed, timed in fresh processes;
* ``<env>.bench.json``: ``decaybench bench --quick --group seed long compile --format json``,
  pytest-benchmark's JSON with every round: the speed per TF version (:mod:`tools.compat.speed`).

:func:`build` reads every pair and renders ``docs/compat.md``: the facts that differ across the
envs first, then those that hold in every env, then the speed per mode and TF version (a table
and ``docs/figures/compat_speed.png``). ``make compat`` runs the matrix, then the build::

    python -m tools.compat collect --output .tox/compat/tf221.env.json     # inside an env
    python -m tools.compat build --input .tox/compat --output docs/compat.md

Only :func:`collect` loads TensorFlow (:mod:`tools.compat.collecting`); the builder reads
JSON and nothing else (:mod:`tools.compat.page`).

>>> version_key("2.16.2")
(2, 16, 2)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from decaybench.cli.parsing import Command, Flag, build_parser, run_parser
from decaybench.files import write_atomic
from tools.compat.collecting import collect
from tools.compat.page import BENCH_SUFFIX, ENV_SUFFIX, VERIFY_SUFFIX, EnvResult, Fact, build, facts, load, markdown, version_key

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
    "main",
    "markdown",
    "version_key",
]


def _collect(args: argparse.Namespace) -> int:
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(output, json.dumps(collect(args.env, args.compile_runs), indent=2) + "\n")
    return 0


def _build(args: argparse.Namespace) -> int:
    build(args.input, args.output)
    return 0


def _commands() -> tuple[Command, ...]:
    # --env's default is read when the parser is built: tox sets TOX_ENV_NAME in each env.
    env = os.environ.get("TOX_ENV_NAME", platform.node())
    collecting = "write this env's facts as JSON"
    building = "write docs/compat.md from the envs' JSON files"
    return (
        Command(
            "collect",
            _collect,
            help=collecting,
            description=f"{collecting[0].upper()}{collecting[1:]}.",
            flags=(
                Flag("--output", {"required": True, "metavar": "FILE"}),
                Flag("--env", {"default": env, "help": "column name (default: $TOX_ENV_NAME)"}),
                Flag(
                    "--compile-runs", {"type": int, "default": 3, "metavar": "N", "help": "fresh processes timing the first xla call (3)"}
                ),
            ),
        ),
        Command(
            "build",
            _build,
            help=building,
            description=f"{building[0].upper()}{building[1:]}.",
            flags=(Flag("--input", {"required": True, "metavar": "DIR"}), Flag("--output", {"required": True, "metavar": "FILE"})),
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.compat``: ``collect --output FILE`` inside an env, ``build --input DIR --output FILE`` after."""
    commands = _commands()
    parser = build_parser("python -m tools.compat", (__doc__ or "").split("\n", 1)[0], commands)
    return run_parser(parser, commands, argv, errors=(ValueError, OSError))
