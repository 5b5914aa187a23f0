"""Across TensorFlow versions: what each tox env measured, built into one Markdown page.

Each tox env (``tox.ini``: TF 2.15 with Keras 2, TF 2.16 with ``tf-keras`` and with Keras 3,
TF 2.18, TF 2.21) writes two files into ``.tox/compat/``:

* ``<env>.verify.json``: ``decaybench verify --format json`` on the seed, one row per mode and
  tf.keras's own ``ExponentialDecay`` as a reference row;
* ``<env>.env.json``: :func:`collect` in that env: versions, the lr dtype and ``get_config``
  names of our ``ExponentialDecay`` and of tf.keras's own, whether XLA knows the no-FMA flag,
  and the first call of mode ``xla`` on the seed, timed in fresh processes.

:func:`build` reads every pair and renders ``docs/compat.md``: the facts that differ across the
envs first, then those that hold in every env. ``make compat`` runs the matrix, then the build::

    python -m decaybench.compat collect --output .tox/compat/tf221.env.json     # inside an env
    python -m decaybench.compat build --input .tox/compat --output docs/compat.md

Only :func:`collect` loads TensorFlow; the builder reads JSON and nothing else.

>>> version_key("2.16.2")
(2, 16, 2)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from decaybench.files import write_atomic
from decaybench.xla_flags import XLA_NO_FMA, with_flag

__all__ = ["EnvResult", "Fact", "build", "collect", "facts", "load", "main", "markdown", "version_key"]

VERIFY_SUFFIX = ".verify.json"
ENV_SUFFIX = ".env.json"
DISTRIBUTIONS = ("tensorflow", "keras", "tf-keras", "numpy", "ml-dtypes")

# ---- collecting, inside one env ---------------------------------------------------------------

# A fresh interpreter per sample: the first call pays tracing and XLA compilation once per process.
_FIRST_CALL = """
    import json, time
    started = time.perf_counter()
    import tensorflow as tf
    tf.constant(0.0) + 1.0  # device start-up belongs to the import, not to the first call
    from decaybench.config import DecayConfig
    from decaybench.loops import run
    imported = time.perf_counter()
    run(DecayConfig(), "xla")
    first = time.perf_counter()
    run(DecayConfig(), "xla")
    print(json.dumps({"import_s": imported - started, "first_s": first - imported, "warm_s": time.perf_counter() - first}))
"""

_NO_FMA = """
    import numpy as np
    from decaybench.config import DecayConfig
    from decaybench.loops import run
    from decaybench.modes.emulation import emulate
    xla, emulated = run(DecayConfig(), "xla"), emulate(DecayConfig())
    print("bit-identical" if np.array_equal(xla.w, emulated.w) and np.array_equal(xla.loss, emulated.loss) else "differs")
"""


def _python(script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=environ, capture_output=True, text=True, timeout=600)


def _first_calls(runs: int) -> dict[str, Any]:
    samples = []
    for _ in range(runs):
        done = _python(_FIRST_CALL)
        if done.returncode != 0:
            return {"error": done.stderr.strip().splitlines()[-1:]}
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if not samples:
        return {}
    median = {key: statistics.median(sample[key] for sample in samples) for key in samples[0]}
    return {**median, "compile_s": statistics.median(s["first_s"] - s["warm_s"] for s in samples), "runs": runs}


def _no_fma_check() -> str:
    done = _python(_NO_FMA, {"XLA_FLAGS": with_flag(os.environ.get("XLA_FLAGS"), XLA_NO_FMA)})
    if done.returncode == 0:
        return done.stdout.strip().splitlines()[-1]
    if "unknown flag" in done.stderr.lower():
        return "unknown flag"
    return "error: " + (done.stderr.strip().splitlines() or ["?"])[-1]


def _dtype_name(dtype: Any) -> str:
    # Keras 3 variables give their dtype as a string, TensorFlow as a tf.DType.
    return str(getattr(dtype, "name", dtype))


def _schedule_facts(schedule: Any) -> dict[str, Any]:
    import tensorflow as tf

    config = schedule.get_config()
    serialized = tf.keras.optimizers.schedules.serialize(schedule)
    try:
        restored = tf.keras.optimizers.schedules.deserialize(serialized)
        round_trip = "ok" if restored.get_config() == config else "config changed"
    except Exception as error:  # a fact to report, not a failure of the collection
        round_trip = f"{type(error).__name__}: {error}"
    return {
        "class": f"{type(schedule).__module__}.{type(schedule).__qualname__}",
        # int64, as the optimizer passes its iterations counter.
        "lr_dtype": _dtype_name(schedule(tf.constant(0, tf.int64)).dtype),
        "get_config": list(config),
        "serialized": list(serialized) if isinstance(serialized, dict) else [type(serialized).__name__],
        "class_name": serialized.get("class_name") if isinstance(serialized, dict) else None,
        "registered_name": serialized.get("registered_name") if isinstance(serialized, dict) else None,
        "round_trip": round_trip,
    }


def _keras_version(keras: Any) -> str | None:
    # TF 2.15's tf.keras (keras.api._v2.keras) has no __version__; the package it wraps has.
    version = getattr(keras, "__version__", None)
    if version is None:
        version = getattr(sys.modules.get(keras.__name__.split(".", 1)[0]), "__version__", None)
    return version


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _cpu() -> dict[str, Any]:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"model": platform.processor() or platform.machine(), "fma": None}
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), platform.machine())
    return {"model": model, "fma": " fma " in info.replace("\n", " ")}


def collect(env: str, compile_runs: int = 3) -> dict[str, Any]:
    """What this Python environment's TensorFlow and Keras do, for one column of the page.

    Args:
        env: the column's name (the tox env).
        compile_runs: fresh processes that time the first call of mode ``xla`` on the seed (the
            median is kept); 0 skips the timing and the no-FMA check.

    Returns:
        A JSON-ready dict: ``env``, ``versions``, ``cpu``, ``tf_keras`` (the module ``tf.keras``
        resolves to, its version, its SGD and the dtype of its step counter), ``schedules``
        (``decaybench`` and ``tf.keras``: lr dtype, ``get_config`` and ``serialize`` names, round
        trip) and ``xla`` (``no_fma``, ``first_call``).
    """
    if compile_runs < 0:
        raise ValueError(f"compile_runs must be >= 0, got {compile_runs!r}")
    import tensorflow as tf

    from decaybench.schedule import ExponentialDecay

    keras = tf.keras
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    return {
        "env": env,
        "versions": _versions(),
        "cpu": _cpu(),
        # Timings mean little on a busy machine; the load says how busy it was.
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "tf_keras": {
            "version": _keras_version(keras),
            "module": keras.optimizers.schedules.ExponentialDecay.__module__,
            "sgd": f"{type(optimizer).__module__}.{type(optimizer).__name__}",
            "iterations_dtype": _dtype_name(optimizer.iterations.dtype),
            "TF_USE_LEGACY_KERAS": os.environ.get("TF_USE_LEGACY_KERAS"),
        },
        "schedules": {
            "decaybench": _schedule_facts(ExponentialDecay(0.2, 1, 0.99)),
            "tf.keras": _schedule_facts(keras.optimizers.schedules.ExponentialDecay(0.2, 1, 0.99)),
        },
        "xla": {
            "no_fma": _no_fma_check() if compile_runs else None,
            "first_call": _first_calls(compile_runs),
        },
    }


# ---- building the page --------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvResult:
    """One env's two files: ``facts`` from :func:`collect`, ``verify`` from ``decaybench verify``."""

    name: str
    facts: dict[str, Any]
    verify: dict[str, Any]

    def mode(self, name: str) -> dict[str, Any]:
        """The verify row of mode ``name`` (``{}`` when the env has none)."""
        return next((row for row in self.verify.get("modes", []) if row.get("mode") == name), {})

    def get(self, *path: str) -> Any:
        """``facts[path[0]][path[1]]...``, or None where the path is missing."""
        value: Any = self.facts
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value


@dataclass(frozen=True)
class Fact:
    """One row of the page: a label and one cell per env."""

    section: str
    label: str
    cells: tuple[str, ...]

    @property
    def differs(self) -> bool:
        """True when the envs do not all show the same cell.

        >>> Fact("s", "x", ("a", "a")).differs, Fact("s", "x", ("a", "b")).differs
        (False, True)
        """
        return len(set(self.cells)) > 1


def version_key(version: str | None) -> tuple[int, ...]:
    """A version string as a tuple for sorting; suffixes such as ``rc0`` are dropped.

    >>> version_key("2.15.1"), version_key("2.16.0rc0"), version_key(None)
    ((2, 15, 1), (2, 16, 0), ())
    """
    parts = []
    for part in (version or "").split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
        if digits.group() != part:
            break
    return tuple(parts)


def load(directory: Path | str) -> list[EnvResult]:
    """Every ``<env>.env.json`` in ``directory`` with its ``<env>.verify.json``, oldest TF first.

    Envs on the same TF release are ordered Keras 2 before Keras 3. A missing or unreadable
    file raises ``ValueError`` naming it: a half-run matrix must not make a page.
    """
    directory = Path(directory)
    paths = sorted(directory.glob(f"*{ENV_SUFFIX}"))
    if not paths:
        raise ValueError(f"{directory}: no *{ENV_SUFFIX} files; run the tox envs first (make compat)")
    results = []
    for path in paths:
        name = path.name[: -len(ENV_SUFFIX)]
        results.append(EnvResult(name, _read_json(path), _read_json(directory / f"{name}{VERIFY_SUFFIX}")))
    return sorted(results, key=lambda r: (version_key(r.get("versions", "tensorflow")), version_key(r.get("tf_keras", "version")), r.name))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: missing; the env did not finish") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: unreadable ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def _text(value: Any) -> str:
    """A JSON value as a table cell.

    >>> _text(None), _text(True), _text(["a", "b"]), _text(0.1234)
    ('-', 'yes', 'a, b', '0.1234')
    """
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value) or "(none)"
    return str(value)


def _seconds(value: Any) -> str:
    """A duration: seconds to two decimals, milliseconds below 0.1 s, ``-`` when not measured.

    >>> _seconds(1.23456), _seconds(0.00195), _seconds(None)
    ('1.23 s', '1.9 ms', '-')
    """
    if not isinstance(value, (int, float)):
        return "-"
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.1f} ms"


def _load(value: Any) -> str:
    """The 1-, 5- and 15-minute load averages, as ``os.getloadavg`` gives them.

    >>> _load([2.17, 2.65, 3.3]), _load(None)
    ('2.2, 2.6, 3.3', '-')
    """
    return ", ".join(f"{number:.1f}" for number in value) if isinstance(value, list) and value else "-"


def _seed_lines(row: dict[str, Any]) -> str:
    """A verify row's seed lines: documented, then golden.

    >>> _seed_lines({"documented": "15/15", "golden": "38/40"}), _seed_lines({})
    ('15/15 (golden 38/40)', '-')
    """
    if not row:
        return "-"
    return f"{row.get('documented', '-')} (golden {row.get('golden', '-')})"


def _mode_names(results: Sequence[EnvResult]) -> list[str]:
    names: list[str] = []
    for result in results:
        names.extend(row["mode"] for row in result.verify.get("modes", []) if row.get("mode") not in names)
    return names


Extract = Callable[[EnvResult], str]
REFERENCE = "tf.keras"  # verify's row for tf.keras's own ExponentialDecay


def _fact(*path: str, render: Callable[[Any], str] = _text) -> Extract:
    """A cell from the env's facts file."""
    return lambda result: render(result.get(*path))


def _verified(mode: str, render: Callable[[dict[str, Any]], str]) -> Extract:
    """A cell from the env's verify row of ``mode``."""
    return lambda result: render(result.mode(mode))


def _field(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda row: _text(row.get(name))


def _pair(first: str, second: str) -> Callable[[dict[str, Any]], str]:
    """Two fields of a verify row as ``a, b``.

    >>> _pair("max_ulp_w", "max_ulp_loss")({"max_ulp_w": 1, "max_ulp_loss": 5}), _pair("a", "b")({})
    ('1, 5', '-')
    """
    return lambda row: "-" if not row else f"{_text(row.get(first))}, {_text(row.get(second))}"


def _rows(results: Sequence[EnvResult]) -> list[tuple[str, str, Extract]]:
    modes = [name for name in _mode_names(results) if name != REFERENCE]
    keras_path = "keras path: tf.keras's own ExponentialDecay"
    xla = "XLA (mode xla, the seed)"
    timing = "timing (fresh process, median of the runs)"
    rows: list[tuple[str, str, Extract]] = [
        ("versions", "TensorFlow", _fact("versions", "tensorflow")),
        ("versions", "tf.keras (version)", _fact("tf_keras", "version")),
        ("versions", "tf.keras schedules module", _fact("tf_keras", "module")),
        ("versions", "keras package", _fact("versions", "keras")),
        ("versions", "tf-keras package", _fact("versions", "tf-keras")),
        ("versions", "TF_USE_LEGACY_KERAS", _fact("tf_keras", "TF_USE_LEGACY_KERAS")),
        ("versions", "numpy", _fact("versions", "numpy")),
        ("versions", "ml-dtypes", _fact("versions", "ml-dtypes")),
        ("versions", "Python", _fact("versions", "python")),
        ("verify", "every mode within its bound", lambda result: _text(result.verify.get("ok"))),
    ]
    rows += [("seed lines (documented, golden) per mode", mode, _verified(mode, _seed_lines)) for mode in modes]
    rows += [
        (keras_path, "lr dtype", _fact("schedules", REFERENCE, "lr_dtype")),
        (keras_path, "lr dtype of decaybench.ExponentialDecay, beside it (dtype='float32')", _fact("schedules", "decaybench", "lr_dtype")),
        (keras_path, "seed lines", _verified(REFERENCE, _seed_lines)),
        (keras_path, "max ULP w, loss vs the emulation", _verified(REFERENCE, _pair("max_ulp_w", "max_ulp_loss"))),
        (keras_path, "decaybench's lr vs its lr, seed epochs", _verified(modes[0] if modes else "", _field("lr_vs_tf_keras"))),
        (keras_path, "SGD class", _fact("tf_keras", "sgd")),
        (keras_path, "SGD iterations dtype", _fact("tf_keras", "iterations_dtype")),
    ]
    for label, key in (("decaybench.ExponentialDecay", "decaybench"), ("tf.keras ExponentialDecay", REFERENCE)):
        section = f"get_config / serialize: {label}"
        rows += [
            (section, "get_config keys", _fact("schedules", key, "get_config")),
            (section, "serialize keys", _fact("schedules", key, "serialized")),
            (section, "class_name", _fact("schedules", key, "class_name")),
            (section, "registered_name", _fact("schedules", key, "registered_name")),
            (section, "serialize, deserialize round trip", _fact("schedules", key, "round_trip")),
        ]
    rows += [
        (xla, "max ULP w, loss vs the emulation", _verified("xla", _pair("max_ulp_w", "max_ulp_loss"))),
        (xla, "ULP bound w, loss", _verified("xla", _pair("bound_w", "bound_loss"))),
        (xla, f"with XLA_FLAGS={XLA_NO_FMA}", _fact("xla", "no_fma")),
        (xla, "traces (first run, then repeat)", _verified("xla", _field("traces"))),
        (timing, "machine load (1, 5, 15 min) while timing", _fact("load_average", render=_load)),
        (timing, "import tensorflow", _fact("xla", "first_call", "import_s", render=_seconds)),
        (timing, "first call, mode xla", _fact("xla", "first_call", "first_s", render=_seconds)),
        (timing, "second call, mode xla", _fact("xla", "first_call", "warm_s", render=_seconds)),
        (timing, "compile (first minus second)", _fact("xla", "first_call", "compile_s", render=_seconds)),
    ]
    return rows


def facts(results: Sequence[EnvResult]) -> list[Fact]:
    """Every row of the page, in page order, one cell per env in ``results``' order."""
    return [Fact(section, label, tuple(extract(result) for result in results)) for section, label, extract in _rows(results)]


def _escape(cell: str) -> str:
    """A cell safe inside a Markdown table.

    >>> _escape("a|b")
    'a\\\\|b'
    """
    return cell.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table.

    >>> print("\\n".join(_table(["fact", "a"], [["x", "1"]])))
    | fact | a |
    |---|---|
    | x | 1 |
    """
    lines = ["| " + " | ".join(_escape(cell) for cell in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_escape(cell) for cell in row) + " |" for row in rows]
    return lines


def markdown(results: Sequence[EnvResult]) -> str:
    """The page: what differs across the envs, then what is the same in all of them.

    Rows are grouped by section (the section names its rows in the first column); every
    column of the first table is one env, headed by its name.
    """
    if not results:
        raise ValueError("no envs to compare")
    rows = facts(results)
    differ = [[f"{fact.section}: {fact.label}", *fact.cells] for fact in rows if fact.differs]
    same = [[f"{fact.section}: {fact.label}", fact.cells[0]] for fact in rows if not fact.differs]
    cpus = sorted({_text(result.get("cpu", "model")) + (", FMA" if result.get("cpu", "fma") else "") for result in results})
    lines = [
        "# decaybench across TensorFlow versions",
        "",
        "Generated by `make compat` from the tox envs' `decaybench verify --format json` and",
        "`python -m decaybench.compat collect` files; do not edit by hand. Every number is measured",
        f"in that env, on the seed (`DecayConfig()`), on {'; '.join(cpus)}.",
        "",
        f"## What differs ({len(differ)} facts)",
        "",
        *_table(["fact", *(result.name for result in results)], differ or [["(nothing)", *("-" for _ in results)]]),
        "",
        f"## The same in every env ({len(same)} facts)",
        "",
        *_table(["fact", "value"], same or [["(nothing)", "-"]]),
        "",
    ]
    return "\n".join(lines)


def build(directory: Path | str, output: Path | str) -> str:
    """Read ``directory`` (:func:`load`), write the page to ``output`` atomically, return it."""
    page = markdown(load(directory))
    write_atomic(output, page)
    return page


# ---- command line -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``collect --output FILE`` inside an env, ``build --input DIR --output FILE`` after the matrix."""
    parser = argparse.ArgumentParser(prog="python -m decaybench.compat", description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    collecting = commands.add_parser("collect", help="write this env's facts as JSON")
    collecting.add_argument("--output", required=True, metavar="FILE")
    collecting.add_argument("--env", default=os.environ.get("TOX_ENV_NAME", platform.node()), help="column name (default: $TOX_ENV_NAME)")
    collecting.add_argument("--compile-runs", type=int, default=3, metavar="N", help="fresh processes timing the first xla call (3)")
    building = commands.add_parser("build", help="write docs/compat.md from the envs' JSON files")
    building.add_argument("--input", required=True, metavar="DIR")
    building.add_argument("--output", required=True, metavar="FILE")
    args = parser.parse_args(argv)
    try:
        if args.command == "collect":
            output = Path(args.output)
            output.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(output, json.dumps(collect(args.env, args.compile_runs), indent=2) + "\n")
        else:
            build(args.input, args.output)
    except (ValueError, OSError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
