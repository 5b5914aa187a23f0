"""A pytest plugin: golden-test your own schedule or training loop the way decaybench tests the seed.

Installed with decaybench (entry point ``pytest11``), it adds the option ``--update-golden`` and
the fixture ``golden_trace``::

    def test_my_schedule(golden_trace):
        steps = np.arange(1000)
        golden_trace.check({"lr": my_schedule(steps)})                      # bit for bit
        golden_trace.check(decaybench.run(config, "xla"), maxulp={"w": 4})  # a Trace, a stated bound

The stored file is ``golden/<test module>/<test name>.json`` beside the test (or ``path=``), with
exact floats. Without ``--update-golden`` a missing or different file fails the test, naming the
field, the first differing index and its ULP distance; with it, the file is (re)written
atomically and a one-line diff summary is reported at the end of the session.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from decaybench.files import write_atomic
from decaybench.trace import Trace

__all__ = ["GoldenTrace"]

_SUMMARY_KEY = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("decaybench")
    group.addoption("--update-golden", action="store_true", default=False, help="rewrite golden traces instead of comparing with them")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SUMMARY_KEY] = []


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines = config.stash.get(_SUMMARY_KEY, [])
    if lines:
        terminalreporter.section("golden traces updated")
        for line in lines:
            terminalreporter.write_line(line)


def _fields(data: Trace | Mapping[str, Any]) -> dict[str, np.ndarray]:
    if isinstance(data, Trace):
        return {"epoch": data.epoch, "w": data.w, "loss": data.loss, "lr": data.lr}
    arrays = {str(name): np.asarray(values) for name, values in data.items()}
    for name, values in arrays.items():
        if values.dtype.kind not in "fiu":
            raise TypeError(f"golden field {name!r} must be numeric, got dtype {values.dtype}")
    return arrays


def _encode(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _to_document(fields: dict[str, np.ndarray]) -> str:
    document = {
        name: {
            "dtype": str(values.dtype),
            "shape": list(values.shape),
            "values": [_encode(v) for v in values.astype(np.float64).ravel().tolist()],
        }
        if values.dtype.kind == "f"
        else {"dtype": str(values.dtype), "shape": list(values.shape), "values": values.ravel().tolist()}
        for name, values in fields.items()
    }
    return json.dumps(document, indent=1, allow_nan=False) + "\n"


def _from_document(text: str, path: Path) -> dict[str, np.ndarray]:
    try:
        document = json.loads(text)
        return {
            name: np.asarray([float(v) for v in entry["values"]] if np.dtype(entry["dtype"]).kind == "f" else entry["values"])
            .astype(entry["dtype"])
            .reshape(entry["shape"])
            for name, entry in document.items()
        }
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: malformed golden trace: {error}") from None


class GoldenTrace:
    """The ``golden_trace`` fixture: compare data with its stored golden copy, or rewrite it."""

    def __init__(self, directory: Path, name: str, update: bool, summary: list[str]) -> None:
        self.directory = directory
        self.name = name
        self.update = update
        self._summary = summary

    def path_for(self, key: str | None = None) -> Path:
        """Where ``check(..., key=key)`` stores its data."""
        suffix = f"-{key}" if key else ""
        return self.directory / f"{self.name}{suffix}.json"

    def check(
        self,
        data: Trace | Mapping[str, Any],
        maxulp: int | Mapping[str, int] = 0,
        key: str | None = None,
        path: Path | str | None = None,
    ) -> None:
        """Compare ``data`` (a Trace or ``{name: array}``) with the stored copy.

        ``maxulp`` is the stated bound, one int for every field or per field (default 0: bit for
        bit). Integer fields always compare exactly.
        """
        from decaybench.oracle import ulp_distance

        target = Path(path) if path is not None else self.path_for(key)
        fields = _fields(data)
        if self.update:
            self._write(target, fields)
            return
        if not target.exists():
            pytest.fail(f"golden trace {target} is missing; create it with pytest --update-golden", pytrace=False)
        stored = _from_document(target.read_text(encoding="utf-8"), target)
        if sorted(stored) != sorted(fields):
            pytest.fail(f"{target}: fields {sorted(stored)} stored, {sorted(fields)} given", pytrace=False)
        for name, values in fields.items():
            want = stored[name]
            if want.shape != values.shape or want.dtype != values.dtype:
                pytest.fail(f"{target}: {name} is {values.dtype}{list(values.shape)}, stored {want.dtype}{list(want.shape)}", pytrace=False)
            bound = maxulp.get(name, 0) if isinstance(maxulp, Mapping) else maxulp
            if values.dtype.kind == "f":
                distance = ulp_distance(values, want)
                bad = np.flatnonzero(distance.ravel() > bound)
            else:
                distance = np.zeros(values.shape, dtype=np.uint64)
                bad = np.flatnonzero((values != want).ravel())
            if bad.size:
                first = int(bad[0])
                pytest.fail(
                    f"{target}: {name}[{first}] is {values.ravel()[first].item()!r}, golden {want.ravel()[first].item()!r} "
                    f"({int(distance.ravel()[first])} ULP apart, bound {bound}); {bad.size} of {values.size} differ",
                    pytrace=False,
                )

    def _write(self, target: Path, fields: dict[str, np.ndarray]) -> None:
        text = _to_document(fields)
        old = target.read_text(encoding="utf-8") if target.exists() else None
        if old == text:
            self._summary.append(f"{target}: unchanged")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, text)
        if old is None:
            self._summary.append(f"{target}: created")
        else:
            changed = [
                name
                for name, values in _from_document(old, target).items()
                if name not in fields or not np.array_equal(values, fields[name], equal_nan=True)
            ]
            added = sorted(set(fields) - set(_from_document(old, target)))
            self._summary.append(f"{target}: updated ({', '.join(changed + added) or 'formatting'})")


@pytest.fixture
def golden_trace(request: pytest.FixtureRequest) -> GoldenTrace:
    """Compare with (or, under ``--update-golden``, rewrite) this test's golden trace."""
    module = Path(str(request.node.path))
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    return GoldenTrace(
        directory=module.parent / "golden" / module.stem,
        name=name,
        update=bool(request.config.getoption("update_golden")),
        summary=request.config.stash[_SUMMARY_KEY],
    )
