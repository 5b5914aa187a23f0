"""The README's "Layout" block, built from the tracked tree so that it cannot go stale.

Every tracked top-level folder gets one line: its ``__init__.py``'s docstring summary, or its entry in
:data:`FOLDERS`. The Python packages (``decaybench/``, ``tools/``) list every module and subpackage with
the first line of its docstring, which must be a whole sentence; ``tests/`` says which test files are
named for a module or subpackage and which test a concern across modules.

>>> plain(":func:`~decaybench.sweep.run_sweep` over ``DecayConfig`` (:mod:`.chunks`)")
'`run_sweep` over `DecayConfig` (`chunks`)'
"""

from __future__ import annotations

import ast
import re
import subprocess
import textwrap
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

__all__ = ["FOLDERS", "PACKAGES", "plain", "render", "summary", "tracked"]

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("decaybench", "tools")  # listed module by module
# Folders that are not Python packages (or whose package has no docstring) say here what they hold.
FOLDERS = {
    ".ci": "CI's entry point, the README's test command on a clean clone.",
    "docs": "The pages the README links to, generated where they say so (make bench-docs, make compat).",
    "golden": "The course note's documented seed lines, and the full trace generated from them.",
    "tests/golden": "The golden checks of the seed.",
}
WIDTH = 32  # the name column
LINE = 120  # wrap the lists of names here


def tracked(root: Path = ROOT) -> list[str]:
    """The checkout's tracked files, as ``git ls-files`` lists them (POSIX paths from ``root``)."""
    done = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the layout is built from git's tracked files: git ls-files failed in {root}: {done.stderr.strip()}")
    return sorted(done.stdout.strip("\0").split("\0"))


def plain(text: str) -> str:
    """Docstring markup as README text: ``:role:`~a.b.name` `` and ````code```` become `` `name` `` and `` `code` ``."""
    text = re.sub(r":\w+:`~?\.?([\w.]+)`", lambda m: "`" + (m.group(1).rsplit(".", 1)[-1]) + "`", text)
    return text.replace("``", "`")


def summary(path: Path) -> str:
    """The first line of the module's docstring, which must be a whole sentence."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")), clean=True)
    first = (doc or "").splitlines()[0] if doc else ""
    if not first.endswith("."):
        raise ValueError(f"{path}: the docstring's first line must be a one-line summary ending with a full stop: {first!r}")
    return plain(first)


def _line(indent: int, name: str, text: str) -> str:
    return f"{'  ' * indent + name:<{WIDTH}}{text}".rstrip()


def _listed(indent: int, name: str, text: str, names: Sequence[str]) -> list[str]:
    """A line whose text ends with a list of names, wrapped under the text's column."""
    wrapped = textwrap.wrap(f"{text.rstrip('.')}: {', '.join(names)}", LINE - WIDTH, break_on_hyphens=False)
    return [_line(indent, name, wrapped[0]), *(" " * WIDTH + rest for rest in wrapped[1:])]


def _folder_text(root: Path, folder: str, files: set[str]) -> str:
    init = f"{folder}/__init__.py"
    if folder in FOLDERS:
        return FOLDERS[folder]
    if init in files and ast.get_docstring(ast.parse((root / init).read_text(encoding="utf-8"))):
        return summary(root / init)
    raise ValueError(f"{folder}/ is tracked but says nothing: give it a docstring in {init} or an entry in tools/layout.py's FOLDERS")


def _package(root: Path, folder: str, files: set[str], indent: int) -> list[str]:
    """Each module of ``folder`` with its summary, then each subpackage the same way, recursively."""
    lines = []
    children = sorted({PurePosixPath(f).relative_to(folder).parts[0] for f in files if f.startswith(folder + "/")})
    for child in children:
        path = f"{folder}/{child}"
        if child.endswith(".py") and child != "__init__.py":
            lines.append(_line(indent, child, summary(root / path)))
        elif f"{path}/__init__.py" in files:
            lines.append(_line(indent, child + "/", _folder_text(root, path, files)))
            lines.extend(_package(root, path, files, indent + 1))
    return lines


def _modules(root: Path, files: set[str]) -> set[str]:
    """The last name of every module and subpackage of :data:`PACKAGES` (``decaybench/modes/fit.py``: ``fit``)."""
    names = set()
    for file in files:
        parts = PurePosixPath(file).parts
        if parts[0] in PACKAGES and file.endswith(".py"):
            names.add(parts[-2] if parts[-1] == "__init__.py" else parts[-1][: -len(".py")])
    return names


def _tests(root: Path, files: set[str]) -> list[str]:
    top = sorted(PurePosixPath(f).name for f in files if PurePosixPath(f).parent == PurePosixPath("tests"))
    tests = [name[len("test_") : -len(".py")] for name in top if name.startswith("test_") and name.endswith(".py")]
    modules = _modules(root, files)
    lines = _listed(1, "test_<module>.py", "Tests named for the module or subpackage they test", [t for t in tests if t in modules])
    lines += _listed(1, "test_<topic>.py", "Tests of a concern across modules", [t for t in tests if t not in modules])
    for name in top:
        if name.endswith(".py") and not name.startswith("test_") and name != "__init__.py":
            lines.append(_line(1, name, summary(root / "tests" / name)))
    for sub in sorted({PurePosixPath(f).parts[1] for f in files if f.startswith("tests/") and f.count("/") > 1}):
        lines.append(_line(1, sub + "/", _folder_text(root, f"tests/{sub}", files)))
        inside = sorted(f for f in files if f.startswith(f"tests/{sub}/") and f.endswith(".py") and not f.endswith("__init__.py"))
        lines += [_line(2, PurePosixPath(f).name, summary(root / f)) for f in inside]
    return lines


def render(root: Path = ROOT, files: Sequence[str] | None = None) -> str:
    """The block: one line per tracked top-level folder, and what each holds."""
    listed = set(tracked(root) if files is None else files)
    lines = []
    for folder in sorted({PurePosixPath(f).parts[0] for f in listed if "/" in f}):
        if folder in PACKAGES:
            lines.append(_line(0, folder + "/", _folder_text(root, folder, listed)))
            lines.extend(_package(root, folder, listed, 1))
        elif folder == "tests":
            lines.append(_line(0, "tests/", _folder_text(root, folder, listed)))
            lines.extend(_tests(root, listed))
        else:
            inside = {PurePosixPath(f).parts[1] + ("/" if f.count("/") > 1 else "") for f in listed if f.startswith(folder + "/")}
            lines.extend(_listed(0, folder + "/", _folder_text(root, folder, listed), sorted(inside - {"__init__.py"})))
    return "```text\n" + "\n".join(lines) + "\n```"
