"""Building ``docs/compat.md``: every env's two JSON files read back and laid out as one Markdown page.

For each env, ``<env>.env.json`` (what :func:`tools.compat.collect` found) and
``<env>.verify.json`` (``decaybench verify --format json``) become one column; each fact is one
row, and the page shows the facts that differ across the envs first, then those that hold in
every env. This module reads JSON and nothing else: no TensorFlow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decaybench.files import write_atomic
from decaybench.xla_flags import XLA_LEGACY_RUNTIME, XLA_NO_FMA
from tools.compat.collecting import LONG_EPOCHS, MIXED_EPOCHS
from tools.compat.speed import BENCH_SUFFIX, FIGURE, speed_section, write_figure
from tools.markdown import format_load, format_seconds, markdown_table

__all__ = ["BENCH_SUFFIX", "ENV_SUFFIX", "VERIFY_SUFFIX", "EnvResult", "Fact", "build", "facts", "load", "markdown", "version_key"]

VERIFY_SUFFIX = ".verify.json"
ENV_SUFFIX = ".env.json"


@dataclass(frozen=True)
class EnvResult:
    """One env's files: ``facts`` from :func:`~tools.compat.collecting.collect`, ``verify`` from ``decaybench verify``, and
    ``bench`` from ``decaybench bench --quick`` (pytest-benchmark's JSON; ``None`` when absent)."""

    name: str
    facts: dict[str, Any]
    verify: dict[str, Any]
    bench: dict[str, Any] | None = None

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
        bench = directory / f"{name}{BENCH_SUFFIX}"
        timed = _read_json(bench) if bench.exists() else None
        results.append(EnvResult(name, _read_json(path), _read_json(directory / f"{name}{VERIFY_SUFFIX}"), timed))
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


def _epochs(cells: Any) -> str:
    """The issue's table, one env's column: epochs separated by ``;``.

    >>> _epochs(["5.000000, 0, 16384 (skipped)", "2.600000, 1, 16384"]), _epochs(None)
    ('0: 5.000000, 0, 16384 (skipped); 1: 2.600000, 1, 16384', '-')
    """
    return "; ".join(f"{epoch}: {cell}" for epoch, cell in enumerate(cells)) if isinstance(cells, list) else "-"


def _first_update(value: Any) -> str:
    return f"epoch {value['epoch']}, lr {value['lr']}" if isinstance(value, dict) else "-"


def _rows(results: Sequence[EnvResult]) -> list[tuple[str, str, Extract]]:
    modes = [name for name in _mode_names(results) if name != REFERENCE]
    keras_path = "keras path: tf.keras's own ExponentialDecay"
    xla = "XLA (mode xla, the seed)"
    timing = "timing (fresh process, median of the runs)"
    runtimes = _fact("xla", "runtimes", "default_s", render=format_seconds), _fact("xla", "runtimes", "legacy_s", render=format_seconds)
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
    mixed = "mixed_float16 (verify --policy, the seed)"
    rows += [
        (mixed, "Keras", _fact("mixed_float16", "keras")),
        (mixed, "every mode (keras, fit, callback) its emulation bit for bit", _fact("mixed_float16", "ok")),
        (mixed, f"skipped steps (of {MIXED_EPOCHS})", _fact("mixed_float16", "skipped_steps")),
        (mixed, "skipped steps advance iterations (the schedule)", _fact("mixed_float16", "skipped_steps_advance_iterations")),
        (mixed, "fit, epochs 0-4: w, iterations, loss scale", _fact("mixed_float16", "fit_epochs", render=_epochs)),
        (mixed, "fit: epoch of the first update, its lr", _fact("mixed_float16", "first_update", render=_first_update)),
    ]
    rows += [
        (xla, "max ULP w, loss vs the emulation", _verified("xla", _pair("max_ulp_w", "max_ulp_loss"))),
        (xla, "ULP bound w, loss", _verified("xla", _pair("bound_w", "bound_loss"))),
        (xla, f"with XLA_FLAGS={XLA_NO_FMA}", _fact("xla", "no_fma")),
        (xla, "traces (first run, then repeat)", _verified("xla", _field("traces"))),
        (timing, f"mode xla, {LONG_EPOCHS:,} epochs (median of 3 warm calls)", runtimes[0]),
        (timing, f"the same with XLA_FLAGS={XLA_LEGACY_RUNTIME}", runtimes[1]),
        (timing, f"its trace with XLA_FLAGS={XLA_LEGACY_RUNTIME}", _fact("xla", "runtimes", "legacy")),
        (timing, "machine load (1, 5, 15 min) while timing", _fact("load_average", render=format_load)),
        (timing, "import tensorflow", _fact("xla", "first_call", "import_s", render=format_seconds)),
        (timing, "first call, mode xla", _fact("xla", "first_call", "first_s", render=format_seconds)),
        (timing, "second call, mode xla", _fact("xla", "first_call", "warm_s", render=format_seconds)),
        (timing, "compile (first minus second)", _fact("xla", "first_call", "compile_s", render=format_seconds)),
    ]
    return rows


def facts(results: Sequence[EnvResult]) -> list[Fact]:
    """Every row of the page, in page order, one cell per env in ``results``' order."""
    return [Fact(section, label, tuple(extract(result) for result in results)) for section, label, extract in _rows(results)]


def markdown(results: Sequence[EnvResult], figure: str | None = FIGURE) -> str:
    """The page: what differs across the envs, then what is the same in all of them.

    Rows are grouped by section (the section names its rows in the first column); every
    column of the first table is one env, headed by its name. The envs' benchmark files, if any,
    add the speed per TensorFlow version and ``figure`` (:mod:`tools.compat.speed`).
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
        "`python -m tools.compat collect` files; do not edit by hand. Every number is measured",
        f"in that env, on the seed (`DecayConfig()`), on {'; '.join(cpus)}.",
        "",
        f"## What differs ({len(differ)} facts)",
        "",
        markdown_table(["fact", *(result.name for result in results)], differ or [["(nothing)", *("-" for _ in results)]]),
        "",
        f"## The same in every env ({len(same)} facts)",
        "",
        markdown_table(["fact", "value"], same or [["(nothing)", "-"]]),
        "",
        *speed_section([result.name for result in results], [result.bench for result in results], figure),
    ]
    return "\n".join(lines)


def build(directory: Path | str, output: Path | str) -> str:
    """Read ``directory`` (:func:`load`), write the page to ``output`` and, when the envs timed their
    benchmarks, the figure beside it (``figures/compat_speed.png``), atomically; return the page."""
    results = load(directory)
    page = markdown(results)
    timed = [result for result in results if result.bench]
    if timed:
        write_figure([r.name for r in timed], [r.bench for r in timed if r.bench], Path(output).parent / FIGURE)
    write_atomic(output, page)
    return page
