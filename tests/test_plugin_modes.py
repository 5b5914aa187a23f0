"""Modes from other distributions: an entry point in the group ``decaybench.modes`` adds a mode.

Each test builds installed distributions in ``tmp_path``: a ``<name>-1.0.dist-info/`` folder
(``METADATA``, ``entry_points.txt``) beside the module that defines the runners and the
``ModeSpec``s. Fresh ``python -m decaybench`` processes see them through ``PYTHONPATH``, as they
would see a pip-installed package; in this process a new :class:`~decaybench.modes.Registry`
reads them from ``sys.path``.

``myplugin`` declares ``mymode``, the NumPy emulation under its own name (so the seed's golden
lines come out, and its ``exact`` contract holds), and ``nudged``, the same with the last ``w``
one ULP up: an ``exact`` contract that verify must find broken.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from decaybench.golden import read_golden_trace
from decaybench.memory import PEAK_COPIES, RECORDER_ROW
from decaybench.modes import BUILTIN, ModeSpec, ModeWarning, Registry
from decaybench.plot import PIXELS, PNG_SIGNATURE, png_size

ROOT = Path(__file__).resolve().parents[1]

MODULE = """
import dataclasses

import numpy as np

from decaybench.modes import ModeSpec
from decaybench.modes.emulation import run_numpy


def run_mine(config, progress=None):
    return dataclasses.replace(run_numpy(config, progress), mode="mymode")


def run_nudged(config, progress=None):
    trace = run_numpy(config, progress)
    w = trace.w.copy()
    w[-1] = np.nextafter(w[-1], np.inf)
    return dataclasses.replace(trace, w=w, mode="nudged")


SPEC = ModeSpec("mymode", "myplugin_modes:run_mine", "the NumPy emulation, declared by another distribution", tensorflow=False)
NUDGED = ModeSpec("nudged", "myplugin_modes:run_nudged", "the emulation with its last w one ULP up")
"""


def install(where: Path, name: str, entries: dict[str, str], module: str | None = None, source: str = "") -> None:
    """A distribution ``name`` 1.0 in ``where``: its dist-info with ``entries`` in ``decaybench.modes``, and ``module``."""
    info = where / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{entry} = {value}\n" for entry, value in entries.items())
    (info / "entry_points.txt").write_text(f"[decaybench.modes]\n{lines}")
    if module is not None:
        (where / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    install(site, "myplugin", {"mymode": "myplugin_modes:SPEC", "nudged": "myplugin_modes:NUDGED"}, "myplugin_modes", MODULE)
    return site


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """Put a folder of distributions on ``sys.path`` for this test; their modules are forgotten after it."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield lambda site: sys.path.insert(0, str(site))
    for name in set(sys.modules) - before:
        if name.endswith("_modes"):  # the declared modes' modules: the next test writes its own
            del sys.modules[name]
    importlib.invalidate_caches()


def decaybench(site: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m decaybench args`` (or ``python -c code``) with ``site`` on the path, as an installed package."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = ["-c", code] if code is not None else ["-m", "decaybench", *args]
    return subprocess.run([sys.executable, *command], capture_output=True, text=True, env=env, cwd=site, timeout=600)


def test_the_mode_is_listed_and_runs_the_seed(plugin: Path) -> None:
    listed = decaybench(plugin, "modes")
    assert listed.returncode == 0 and listed.stderr == ""
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == [*BUILTIN, "mymode", "nudged"]
    assert "mymode       the NumPy emulation, declared by another distribution" in listed.stdout.splitlines()
    seed = decaybench(plugin, "run", "--mode", "mymode")
    assert seed.returncode == 0, seed.stderr
    assert seed.stdout.splitlines() == read_golden_trace().lines()


def test_the_python_api_takes_it_without_loading_tensorflow(plugin: Path) -> None:
    code = """
import json, sys
import decaybench
loaded = "tensorflow" in sys.modules
trace = decaybench.run(decaybench.DecayConfig(epochs=3), "mymode")
loaded = loaded or "tensorflow" in sys.modules
print(json.dumps({"modes": list(decaybench.MODES), "mode": trace.mode, "lines": trace.lines(), "tf": loaded}))
"""
    done = decaybench(plugin, code=code)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["modes"] == [*BUILTIN, "mymode", "nudged"] and found["mode"] == "mymode"
    assert found["lines"] == read_golden_trace().lines()[:3]
    assert found["tf"] is False  # the plugin's runner is NumPy: decaybench.run did not load TensorFlow either


def test_the_cli_runs_a_numpy_mode_without_loading_tensorflow(plugin: Path) -> None:
    # mymode says tensorflow=False: decaybench run then skips load_tensorflow, as for the built-in numpy mode.
    code = """
import sys
from decaybench.cli import main
code = main(["run", "--mode", "mymode", "--epochs", "3"])
print("tensorflow" in sys.modules, code)
"""
    done = decaybench(plugin, code=code)
    assert done.returncode == 0, done.stderr
    *lines, last = done.stdout.splitlines()
    assert lines == read_golden_trace().lines()[:3]
    assert last == "False 0"


def test_verify_gives_it_a_row_and_checks_its_contract(plugin: Path) -> None:
    done = decaybench(plugin, "verify", "--epochs", "4", "--format", "json")
    assert done.returncode == 1, done.stderr  # nudged breaks its exact contract
    document = json.loads(done.stdout)
    rows = {row["mode"]: row for row in document["modes"]}
    assert [row["mode"] for row in document["modes"]][: len(BUILTIN) + 2] == [*BUILTIN, "mymode", "nudged"]
    mine, nudged = rows["mymode"], rows["nudged"]
    assert (mine["contract"], mine["bit_identical"], mine["within_bound"], mine["max_ulp_w"]) == ("exact", True, True, 0)
    assert (mine["resume"], mine["traces"], mine["repeatable"]) == ("-", "-", True)  # no checkpoints, nothing traced
    assert (nudged["contract"], nudged["bit_identical"], nudged["within_bound"]) == ("exact", False, False)
    assert (nudged["max_ulp_w"], nudged["bound_w"]) == (1, 0)
    assert document["ok"] is False
    assert all(rows[mode]["within_bound"] for mode in BUILTIN)


def test_it_is_plotted(plugin: Path) -> None:
    output = plugin / "mine.png"
    done = decaybench(plugin, "plot", "--modes", "mymode", "--epochs", "5", "--output", str(output))
    assert done.returncode == 0, done.stderr
    data = output.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and png_size(data) == PIXELS


def test_the_memory_check_refuses_it_with_the_byte_count(plugin: Path) -> None:
    epochs = 10**13
    # A plain ModeSpec keeps its rows as objects: per recorded row PEAK_COPIES trace rows (int64
    # epoch, float32 loss, float64 lr) and a recorder's row; per element PEAK_COPIES + 1 float32 w.
    needed = epochs * (PEAK_COPIES * (8 + 4 + 8) + RECORDER_ROW) + epochs * (PEAK_COPIES + 1) * 4
    done = decaybench(plugin, "run", "--mode", "mymode", "--epochs", str(epochs))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"decaybench: error: --epochs: needs {needed:,} bytes to run mode mymode (")
    assert len(done.stderr.splitlines()) == 1


def test_it_refuses_checkpoints_it_does_not_take(plugin: Path) -> None:
    done = decaybench(plugin, "run", "--mode", "mymode", "--epochs", "3", "--checkpoint-dir", str(plugin / "run"))
    assert done.returncode == 2
    assert (
        done.stderr
        == f"decaybench: error: --checkpoint-dir: cannot be used in mode mymode: it does not checkpoint, got {str(plugin / 'run')!r}\n"
    )


def test_a_clash_and_a_broken_spec_are_one_line_each_and_the_rest_works(plugin: Path) -> None:
    clash = "from decaybench.modes import ModeSpec\nSPEC = ModeSpec('eager', 'clash_modes:run', 'not the seed')\n"
    install(plugin, "clash", {"eager": "clash_modes:SPEC"}, "clash_modes", clash)
    install(plugin, "broken", {"gone": "nowhere_at_all:SPEC", "number": "broken_modes:NUMBER"}, "broken_modes", "NUMBER = 42\n")
    listed = decaybench(plugin, "modes")
    assert listed.returncode == 0
    warnings = listed.stderr.splitlines()  # by distribution, then entry point
    assert len(warnings) == 3 and all(line.startswith("decaybench: warning: mode '") for line in warnings)
    assert "of distribution broken 1.0 (gone = nowhere_at_all:SPEC) does not load: ModuleNotFoundError" in warnings[0]
    assert "of distribution broken 1.0 (number = broken_modes:NUMBER) does not load: it is a int, not a" in warnings[1]
    assert warnings[2].endswith("of distribution clash 1.0 (eager = clash_modes:SPEC) clashes with the built-in mode 'eager'; left out")
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [*BUILTIN, "mymode", "nudged"]
    assert listed.stdout.splitlines()[0] == f"eager        {BUILTIN['eager'].summary}"
    seed = decaybench(plugin, "run", "--mode", "mymode", "--epochs", "2")
    assert seed.returncode == 0 and seed.stdout.splitlines() == read_golden_trace().lines()[:2]
    assert len(seed.stderr.splitlines()) == 3


def test_the_api_warns_once_and_keeps_the_other_modes(plugin: Path, on_path: Callable[[Path], None]) -> None:
    # "other" sorts after "myplugin": the first distribution to declare a name keeps it.
    install(plugin, "other", {"mymode": "other_modes:SPEC"}, "other_modes", "from myplugin_modes import SPEC\n")
    on_path(plugin)
    registry = Registry(BUILTIN)
    with pytest.warns(ModeWarning) as caught:
        names = list(registry)
    assert names == [*BUILTIN, "mymode", "nudged"]
    assert [str(warning.message) for warning in caught] == list(registry.problems)
    assert registry.problems == (
        "mode 'mymode' of distribution other 1.0 (mymode = other_modes:SPEC) clashes with the mode of distribution myplugin 1.0 "
        "'mymode'; left out",
    )
    assert registry["mymode"].runner().__name__ == "run_mine"
    assert registry.problems == registry.problems and len(registry) == len(BUILTIN) + 2  # loaded once: no second warning


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("SPEC = ModeSpec('other', 'm:f', 'x')", "its ModeSpec is named 'other', not 'odd'"),
        (
            "SPEC = ModeSpec('odd', 'm:f', 'x', sweep=True, loop='m:LOOP')",
            "declares sweep=True: decaybench's sweeps run only its own loops",
        ),
        ("SPEC = ModeSpec('odd', 'm:f', 'x', sweep=True)", "ValueError: ModeSpec 'odd': sweep=True needs its compiled loop"),
        ("SPEC = ModeSpec('odd', 'm:f', 'x', loop='LOOP')", "ValueError: ModeSpec 'odd': loop must be 'module:function'"),
        ("SPEC = ModeSpec('odd', 'm:f', 'x', contract='roughly')", "ValueError: ModeSpec 'odd': contract must be one of"),
        ("raise RuntimeError('line one\\nline two')", "does not load: RuntimeError: line one line two; left out"),
    ],
)
def test_what_a_declared_spec_must_be(tmp_path: Path, on_path: Callable[[Path], None], source: str, reason: str) -> None:
    install(tmp_path, "odd", {"odd": "odd_modes:SPEC"}, "odd_modes", f"from decaybench.modes import ModeSpec\n{source}\n")
    on_path(tmp_path)
    registry = Registry(BUILTIN)
    with pytest.warns(ModeWarning):
        assert list(registry) == list(BUILTIN)
    (problem,) = registry.problems
    assert problem.startswith("mode 'odd' of distribution odd 1.0 (odd = odd_modes:SPEC) ") and reason in problem
    assert "\n" not in problem


def test_a_plain_spec_is_a_per_epoch_python_loop() -> None:
    spec = ModeSpec("plain", "mypkg:run", "one line")
    assert (spec.contract, spec.several_steps, spec.checkpoints, spec.schedule_arrays, spec.step_ns, spec.traces) == (
        "exact",
        None,
        None,
        None,
        None,
        None,
    )
    assert spec.keeps_rows and not spec.sweep and spec.tracing_count() is None
    assert spec.tensorflow and not spec.cluster and spec.loop is None  # TensorFlow, this machine, no compiled loop
