"""The README's generated blocks are what the code generates now (make docs rewrites them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tools import docs, layout

ROOT = Path(__file__).resolve().parents[1]


def test_replace_block_needs_the_markers() -> None:
    with pytest.raises(ValueError, match="no generated block 'x'"):
        docs.replace_block("no markers here", "x", "content")


@pytest.mark.parametrize("block", ["verify", "peers", "benchmarks", "layout", "audit"])
def test_readme_block_is_current(block: str) -> None:
    # The tables depend on the CPU (XLA's FMA) and the peer versions installed by `make`; a
    # stale block means the README tells users something the code no longer does.
    pytest.importorskip("torch") if block == "peers" else None
    # A fresh process: verify's "traces" column counts tracings, which earlier tests in this process already did.
    script = f"from tools import docs; print(docs.stale_blocks(names=[{block!r}]))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", f"README.md block {block!r} is out of date: run make docs"


def test_the_benchmark_block_is_the_targets_of_docs_benchmarks_md(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "benchmarks.md"
    targets = "| target | verdict |\n|---|---|\n| seed vs eager | met |\n\nTwo sentences."
    page.write_text(f"# Benchmarks\n\n<!-- BEGIN targets -->\n{targets}\n<!-- END targets -->\n\n## seed\n")
    monkeypatch.setattr(docs, "BENCHMARKS", page)
    readme = tmp_path / "README.md"
    readme.write_text("Targets:\n\n<!-- BEGIN generated:benchmarks -->\nold\n<!-- END generated:benchmarks -->\n")
    assert docs.stale_blocks(readme, ["benchmarks"]) == ["benchmarks"]
    assert docs.update(readme, ["benchmarks"]) == ["benchmarks"]
    assert targets in readme.read_text() and docs.stale_blocks(readme, ["benchmarks"]) == []
    page.write_text(page.read_text().replace("| met |", "| inconclusive |"))  # a new run: the README is stale again
    assert docs.stale_blocks(readme, ["benchmarks"]) == ["benchmarks"]


def test_the_command_checks_and_names_a_bad_block_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert docs.main(["--help"]) == 0
    capsys.readouterr()
    assert docs.main(["--blocks", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m tools.docs: error: argument --blocks: invalid choice: 'nope'") and err.count("\n") == 1


def _tree(root: Path, files: dict[str, str]) -> list[str]:
    for name, doc in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f'"""{doc}"""\n' if name.endswith(".py") else doc)
    return list(files)


def test_the_layout_lists_every_module_and_tracked_folder_with_its_summary(tmp_path: Path) -> None:
    files = {
        "decaybench/__init__.py": "The package.",
        "decaybench/schedule.py": "The formula.\n\nMore.",
        "decaybench/modes/__init__.py": "The registry (:mod:`decaybench.loops`).",
        "decaybench/modes/eager.py": "Mode ``eager``.",
        "tests/__init__.py": "The tests.",
        "tests/test_schedule.py": "Schedule tests.",
        "tests/test_determinism.py": "Runs repeat.",
        "tests/properties/__init__.py": "Properties.",
        "tests/properties/test_p.py": "One property.",
        "docs/figures/seed.png": "",
        "docs/compat.md": "",
        "README.md": "",
    }
    block = layout.render(tmp_path, _tree(tmp_path, files))
    lines = block.splitlines()
    assert [line.split()[0] for line in lines[1:-1] if not line.startswith(" " * layout.WIDTH)] == [
        "decaybench/", "modes/", "eager.py", "schedule.py", "docs/", "tests/",
        "test_<module>.py", "test_<topic>.py", "properties/", "test_p.py",
    ]  # fmt: skip
    assert "  schedule.py" + " " * (layout.WIDTH - 13) + "The formula." in lines
    assert any(line.endswith("The registry (`loops`).") for line in lines)
    unwrapped = block.replace("\n" + " " * layout.WIDTH, " ")
    assert "(make bench-docs, make compat): compat.md, figures/\ntests/" in unwrapped
    assert any(line.strip().startswith("test_<module>.py") and line.endswith(": schedule") for line in lines)
    assert any(line.strip().startswith("test_<topic>.py") and line.endswith(": determinism") for line in lines)


def test_the_layout_refuses_a_module_without_a_one_line_summary_and_a_folder_without_a_description(tmp_path: Path) -> None:
    files = _tree(tmp_path, {"decaybench/__init__.py": "The package.", "decaybench/x.py": "A sentence that goes on\nto the next line."})
    with pytest.raises(ValueError, match=r"decaybench/x\.py: the docstring's first line must be a one-line summary"):
        layout.render(tmp_path, files)
    files = _tree(tmp_path, {"decaybench/__init__.py": "The package.", "decaybench/x.py": "One line.", "scripts/run.sh": "echo"})
    with pytest.raises(ValueError, match=r"scripts/ is tracked but says nothing"):
        layout.render(tmp_path, files)
