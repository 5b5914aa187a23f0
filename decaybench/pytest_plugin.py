"""A pytest plugin: golden-test your own schedule or training loop the way decaybench tests the seed.

Installed with decaybench (entry point ``pytest11``), it adds the option ``--update-golden`` and
the fixture ``golden_trace``::

    def test_my_schedule(golden_trace):
        steps = np.arange(1000)
        golden_trace.check({"lr": my_schedule(steps)})                      # bit for bit
        golden_trace.check(decaybench.run(config, "xla"), maxulp={"w": 4})  # a Trace, a stated bound

Bit for bit (``maxulp`` 0) compares bits: a NaN equals only a NaN of the same sign and payload
(stored as ``"NaN:0x..."`` when it is not ``float("nan")``), and ``-0.0`` differs from ``0.0``. With a
bound above 0 the distance is in ULPs, and every NaN is alike.

The stored file is ``golden/<test module>/<test name>.json`` beside the test (or ``path=``), with
exact floats. Without ``--update-golden`` a missing or different file fails the test, naming the
field, the first differing index and its ULP distance; with it, the file is (re)written
atomically and a one-line diff summary is reported at the end of the session.

The fixture ``resume_check`` checks that a loop which checkpoints resumes bit for bit
(:mod:`decaybench.resume_check`)::

    def test_my_loop_resumes(resume_check):
        resume_check(train, epochs=20, split=7)  # train(epochs, checkpoint_dir, resume) -> arrays

The fixture ``skipped_step_check`` checks whether a mixed-precision loop's schedule waits through
the steps loss scaling skips (:mod:`decaybench.skipped_step_check`)::

    def test_my_schedule_waits(skipped_step_check):
        skipped_step_check(train, epochs=8, overflow_at=[2, 3, 6])  # train(epochs, overflow) -> lrs

The fixture ``schedule_audit`` audits a learning-rate schedule (:mod:`decaybench.audit`) and fails
the test on any ``fail``, with the audit's table in the message::

    def test_my_schedule_audits(schedule_audit):
        schedule_audit(MySchedule(0.1, 1000), checks=["config", "step-precision", "reference"], reference=my_formula)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from decaybench.audit import audit
from decaybench.bits import bits, same_bits, show
from decaybench.files import update_text
from decaybench.json_floats import decode_array, encode_array
from decaybench.oracle import ulp_distance
from decaybench.reading import MAX_DEPTH, UnreadableInput, depth, read_text
from decaybench.resume_check import ResumeMismatch, check_resume
from decaybench.skipped_step_check import SkippedStepMismatch, check_skipped_steps
from decaybench.trace import ARRAYS, Trace

__all__ = ["GoldenTrace"]

_SUMMARY_KEY = pytest.StashKey[list[str]]()
_BFLOAT16 = np.dtype("bfloat16")  # registered by ml_dtypes, which decaybench.trace imports


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


def _fields(data: Trace | Mapping[str, Any], target: Path) -> dict[str, np.ndarray]:
    if isinstance(data, Trace):
        return {name: getattr(data, name) for name in ARRAYS}
    if not isinstance(data, Mapping):
        raise TypeError(f"{target}: golden_trace.check takes a Trace or a mapping of arrays, got {type(data).__name__}")
    arrays = {str(name): np.asarray(values) for name, values in data.items()}
    for name, values in arrays.items():
        if values.dtype.kind not in "iu" and not _float(values.dtype):
            raise TypeError(f"{target}: golden field {name!r} must be an integer or float array, got dtype {values.dtype}")
    return arrays


def _float(dtype: np.dtype[Any]) -> bool:
    # bfloat16 (ml_dtypes) is a float NumPy files under kind "V".
    return dtype.kind == "f" or dtype == _BFLOAT16


def _wide(dtype: np.dtype[Any]) -> bool:
    # longdouble (80-bit extended on x86-64) holds more than float64: its values are stored as text.
    return dtype.kind == "f" and np.finfo(dtype).nmant > np.finfo(np.float64).nmant


def _encode(values: np.ndarray) -> Any:
    if not _float(values.dtype):
        return values.ravel().tolist()
    if _wide(values.dtype):
        return [np.format_float_scientific(value, unique=True) if np.isfinite(value) else str(value) for value in values.ravel()]
    encoded = encode_array(values.astype(np.float64).ravel())  # float16, bfloat16 and float32 are exact in float64
    flat = bits(values.ravel())
    for index in np.flatnonzero(np.isnan(values.ravel()) & (flat != _plain_nan(values.dtype))):
        encoded[index] = f"NaN:{int(flat[index]):#x}"  # a NaN's sign and payload, kept for the bit-for-bit check
    return encoded


def _plain_nan(dtype: np.dtype[Any]) -> int:
    """The bits of ``float("nan")`` in ``dtype``, which a plain ``"NaN"`` stands for."""
    return int(bits(np.array([np.nan], dtype))[0])


def _decode(values: Any, dtype: np.dtype[Any]) -> np.ndarray:
    if not _float(dtype):
        return np.asarray(values)
    if not _wide(dtype):
        if not isinstance(values, list):
            raise TypeError(f"{dtype} values must be a list")
        payloads = {i: value for i, value in enumerate(values) if isinstance(value, str) and value.startswith("NaN:")}
        decoded = decode_array(["NaN" if i in payloads else value for i, value in enumerate(values)]).astype(dtype)
        for index, value in payloads.items():
            pattern = int(value[4:], 16)
            if not 0 <= pattern < 2 ** (8 * dtype.itemsize) or not np.isnan(np.array([pattern], f"u{dtype.itemsize}").view(dtype)[0]):
                raise ValueError(f"{value!r} is not a {dtype} NaN")
            bits(decoded)[index] = pattern
        return decoded
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise TypeError(f"{dtype} values must be a list of strings")
    finite = [value.lstrip("-") not in ("inf", "nan") for value in values]
    return np.array([np.longdouble(value) if ok else float(value) for value, ok in zip(values, finite, strict=True)], dtype=dtype)


def _to_document(fields: dict[str, np.ndarray]) -> str:
    document = {
        name: {"dtype": str(values.dtype), "shape": list(values.shape), "values": _encode(values)} for name, values in fields.items()
    }
    return json.dumps(document, indent=1, allow_nan=False) + "\n"


def _from_document(text: str, path: Path) -> dict[str, np.ndarray]:
    try:
        if depth(text) > MAX_DEPTH:  # before json.loads recurses
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        document = json.loads(text)
        if not isinstance(document, dict):
            raise TypeError(f"expected a JSON object of fields, got a {type(document).__name__}")
        for name, entry in document.items():
            if not isinstance(entry, dict) or sorted(entry) != ["dtype", "shape", "values"]:
                raise TypeError(f"field {name!r} must be an object of dtype, shape and values")
        return {
            name: _decode(entry["values"], np.dtype(entry["dtype"])).astype(entry["dtype"]).reshape(entry["shape"])
            for name, entry in document.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise ValueError(f"{path}: malformed golden trace: {type(error).__name__}: {error}") from None


def _read(path: Path) -> str:
    try:
        return read_text(path, argument="golden_trace")
    except UnreadableInput as error:  # the one place a stored golden trace is read
        raise ValueError(f"{path}: malformed golden trace: it {error.problem}") from None


def _ulps(values: np.ndarray, want: np.ndarray) -> np.ndarray:
    """ULP distances for every float dtype: exact for float16/32/64, from the spacing for longdouble."""
    if values.dtype in (np.float32, np.float64, _BFLOAT16):
        return ulp_distance(values, want)
    nan = np.isnan(values) | np.isnan(want)
    if values.dtype == np.float16:  # sign-magnitude bits to a signed order, adjacent floats adjacent integers
        raw = np.stack([values, want]).view(np.uint16).astype(np.int64)
        ordered = np.where(raw & 0x8000, -(raw & 0x7FFF), raw & 0x7FFF)
        steps = np.abs(ordered[0] - ordered[1]).astype(np.float64)
        steps = np.where(nan, np.where(np.isnan(values) & np.isnan(want), 0, np.inf), steps)
        return np.where(np.isfinite(steps), steps, 2**64 - 1).astype(np.uint64)
    with np.errstate(all="ignore"):
        spacing = np.spacing(np.minimum(np.abs(values), np.abs(want)))
        steps = np.where(values == want, 0, np.ceil(np.abs(values - want) / spacing))
    steps = np.where(nan, np.where(np.isnan(values) & np.isnan(want), 0, np.inf), steps)
    return np.where(np.isfinite(steps), np.minimum(steps, 2**63), 2**64 - 1).astype(np.uint64)


def _show(value: Any) -> str:
    return show(value) if np.isnan(value) else repr(value.item())


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
        target = Path(path) if path is not None else self.path_for(key)
        fields = _fields(data, target)
        if self.update:
            self._write(target, fields)
            return
        if not target.exists():
            pytest.fail(f"golden trace {target} is missing; create it with pytest --update-golden", pytrace=False)
        try:
            stored, problem = _from_document(_read(target), target), ""
        except ValueError as error:
            stored, problem = {}, str(error)
        if problem:
            pytest.fail(f"{problem}; rewrite it with pytest --update-golden", pytrace=False)
        if sorted(stored) != sorted(fields):
            pytest.fail(f"{target}: fields {sorted(stored)} stored, {sorted(fields)} given", pytrace=False)
        for name, values in fields.items():
            want = stored[name]
            if want.shape != values.shape or want.dtype != values.dtype:
                pytest.fail(f"{target}: {name} is {values.dtype}{list(values.shape)}, stored {want.dtype}{list(want.shape)}", pytrace=False)
            bound = maxulp.get(name, 0) if isinstance(maxulp, Mapping) else maxulp
            if _float(values.dtype):
                distance = _ulps(values, want)
                # bit for bit (bound 0): a NaN by its sign and payload; with a bound, every NaN is alike
                bad = np.flatnonzero(~same_bits(values, want).ravel() if bound == 0 else distance.ravel() > bound)
            else:
                distance = np.zeros(values.shape, dtype=np.uint64)
                bad = np.flatnonzero((values != want).ravel())
            if bad.size:
                first = int(bad[0])
                pytest.fail(
                    f"{target}: {name}[{first}] is {_show(values.ravel()[first])}, golden {_show(want.ravel()[first])} "
                    f"({int(distance.ravel()[first])} ULP apart, bound {bound}); {bad.size} of {values.size} differ",
                    pytrace=False,
                )

    def _write(self, target: Path, fields: dict[str, np.ndarray]) -> None:
        def describe(old: str | None) -> str:
            if old is None:
                return "created"
            try:
                stored = _from_document(old, target)
            except ValueError as error:
                return f"replaced a malformed file ({str(error).split(': ', 2)[-1]})"
            changed = [
                name for name, values in stored.items() if name not in fields or not np.array_equal(values, fields[name], equal_nan=True)
            ]
            added = sorted(set(fields) - set(stored))
            return f"updated ({', '.join(changed + added) or 'formatting'})"

        target.parent.mkdir(parents=True, exist_ok=True)
        self._summary.append(update_text(target, _to_document(fields), describe))


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


@pytest.fixture
def resume_check(tmp_path: Path) -> Callable[..., None]:
    """``resume_check(train, epochs, split)``: ``train(epochs, checkpoint_dir, resume)`` run whole and split at
    ``split`` (an epoch or several) must return the same arrays bit for bit; else the test fails naming the
    first differing field and index (:func:`decaybench.resume_check.check_resume`)."""

    def check(train: Callable[[int, Path, bool], Any], epochs: int, split: int | Iterable[int]) -> None:
        try:
            check_resume(train, epochs, split, tmp_path / "resume-check")
        except ResumeMismatch as error:
            pytest.fail(str(error), pytrace=False)

    return check


@pytest.fixture
def skipped_step_check() -> Callable[..., None]:
    """``skipped_step_check(train, epochs, overflow_at, expect="waits")``: ``train(epochs, overflow)``, the lr of each
    epoch, run without and with the gradient forced non-finite at ``overflow_at``, must apply the uninterrupted
    schedule shifted by the skipped steps (``"moves"``: not shifted); else the test fails naming the first
    epoch that does not (:func:`decaybench.skipped_step_check.check_skipped_steps`)."""

    def check(train: Callable[[int, frozenset[int]], Any], epochs: int, overflow_at: Iterable[int], expect: str = "waits") -> None:
        try:
            check_skipped_steps(train, epochs, overflow_at, expect)
        except SkippedStepMismatch as error:
            pytest.fail(str(error), pytrace=False)

    return check


@pytest.fixture
def schedule_audit() -> Callable[..., Any]:
    """``schedule_audit(schedule_or_target, checks=None, reference=None)``: audit a schedule (an instance,
    ``module:attr`` or a ``.keras`` path); the test fails on any ``fail``, with the table. Returns the report."""

    def check(schedule_or_target: Any, checks: Iterable[str] | None = None, reference: Any = None) -> Any:
        report = audit(schedule_or_target, checks=None if checks is None else list(checks), reference=reference)
        if not report.ok:
            pytest.fail(f"schedule audit failed:\n{report.table()}", pytrace=False)
        return report

    return check
