"""The README's generated blocks are what the code generates now (make docs rewrites them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tools import docs

ROOT = Path(__file__).resolve().parents[1]


def test_replace_block_needs_the_markers() -> None:
    with pytest.raises(ValueError, match="no generated block 'x'"):
        docs.replace_block("no markers here", "x", "content")


@pytest.mark.parametrize("block", ["verify", "peers", "benchmarks"])
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
