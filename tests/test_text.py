"""Text that names code names code that exists: paths, dotted names and file names in the prose.

The prose is the README, ``docs/*.md``, and the docstrings and comments of every tracked Python file.
Names are resolved from the source (``ast``), so nothing is imported and TensorFlow stays unloaded.
"""

from __future__ import annotations

import ast
import builtins
import doctest
import functools
import io
import re
import sys
import tokenize
from pathlib import Path

import numpy as np
import pytest

import decaybench
from tools.layout import ROOT, tracked

FILES = tracked(ROOT)
PROSE = [f for f in FILES if f.endswith(".py") or (f.endswith(".md") and (f == "README.md" or f.startswith("docs/")))]
# A path into the checkout: `decaybench/modes/fit.py`, `tests/golden/`; a placeholder after it (`test_<group>`) is left alone.
PATH = re.compile(r"(?<![\w/.<>*{-])((?:decaybench|tools|tests|benchmarks|golden|docs)/[\w./-]*\w)(?![\w<*{])")
DOTTED = re.compile(r"(?<![\w/.<>*{-])(decaybench(?:\.\w+)+)")
FILE = re.compile(r"(?<![\w/.<>*{-])(\w+\.py)\b")
ROLE = re.compile(r":(?:func|class|mod|data|attr|meth|exc|obj):`~?([\w.]+)`")


def prose(path: str) -> str:
    """What a reader reads in ``path``: the whole of a page, the docstrings (but their doctests) and comments of a module."""
    text = (ROOT / path).read_text(encoding="utf-8")
    if path.endswith(".py"):
        comments = [tok.string for tok in tokenize.generate_tokens(io.StringIO(text).readline) if tok.type == tokenize.COMMENT]
        scopes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        docs = [ast.get_docstring(node, clean=False) or "" for node in ast.walk(ast.parse(text)) if isinstance(node, scopes)]
        # A doctest's lines are code and its data, checked by running them.
        text = "\n".join(comments + [part for doc in docs for part in doctest.DocTestParser().parse(doc) if isinstance(part, str)])
    return text


@functools.cache
def names(module: str) -> dict[str, ast.AST]:
    """The names a module defines at its top level (a module ``__getattr__``'s string constants included)."""
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    found: dict[str, ast.AST] = {}
    guarded = [sub for top in tree.body if isinstance(top, ast.If) for sub in top.body]  # if TYPE_CHECKING: imports
    for node in [*tree.body, *guarded]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found.update((name.id, node) for target in targets for name in ast.walk(target) if isinstance(name, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            found.update(((alias.asname or alias.name).split(".")[0], node) for alias in node.names)
    if "__getattr__" in found:
        found.update((c.value, tree) for c in ast.walk(tree) if isinstance(c, ast.Constant) and isinstance(c.value, str))
    return found


def resolves(dotted: str) -> bool:
    """Whether a dotted name (``decaybench.trace.Trace.lines``) is a module, a name in one, or a class attribute."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        stem = "/".join(parts[:end])
        module = next((m for m in (f"{stem}.py", f"{stem}/__init__.py") if m in FILES), None)
        if module is None:
            continue
        rest = parts[end:]
        if not rest:
            return True
        node = names(module).get(rest[0])
        if node is None:
            return False
        if len(rest) > 1 and isinstance(node, ast.ClassDef):
            inside = {n.name for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
            inside |= {t.id for n in node.body if isinstance(n, ast.AnnAssign | ast.Assign) for t in ast.walk(n) if isinstance(t, ast.Name)}
            return rest[1] in inside
        return True
    return False


@functools.cache
def attributes(module: str) -> set[str]:
    """Every name a class of the module defines, in its body or as ``self.name = ...``."""
    found = set()
    for node in ast.walk(ast.parse((ROOT / module).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef):
            found |= {sub.name for sub in node.body if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
            assigned = [sub for sub in node.body if isinstance(sub, ast.Assign | ast.AnnAssign)]
            found |= {t.id for sub in assigned for t in ast.walk(sub) if isinstance(t, ast.Name)}
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            found.add(node.attr)
    return found


def roles(path: str) -> list[str]:
    """The Sphinx roles (func, class, mod, ...) of a module's prose that name nothing.

    A name is relative to the module's package (a leading dot), the module's own (a plain name), or
    absolute; a dotted name whose first part the module does not define is another library's.
    """
    module = path[: -len(".py")].replace("/", ".").removesuffix(".__init__")
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    local = set(names(path)) | attributes(path)
    found = []
    for name in ROLE.findall(prose(path)):
        first = name.split(".")[0]
        if name.startswith("."):
            found += [] if resolves(package + name) else [name]
        elif first in ("decaybench", "tools"):
            found += [] if resolves(name) else [name]
        elif "." not in name and first not in local and not hasattr(builtins, first):
            found.append(name)
    return found


def stale(path: str) -> list[str]:
    """The references in ``path``'s prose that name nothing in the checkout."""
    text, found = prose(path), []
    folders = {str(Path(f).parent) for f in FILES}
    found += [m for m in PATH.findall(text) if m not in FILES and m.rstrip("/") not in folders]
    found += [m for m in DOTTED.findall(text) if not resolves(re.sub(r"\.(py|md|json|txt)$", "", m))]
    found += [m for m in FILE.findall(text) if m not in {Path(f).name for f in FILES}]
    return found + (roles(path) if path.endswith(".py") else [])


@pytest.mark.parametrize("path", PROSE)
def test_the_prose_names_only_what_exists(path: str) -> None:
    assert stale(path) == [], f"{path} names what is not in the checkout (moved, renamed or removed?)"


def test_a_moved_module_or_a_missing_name_is_stale(tmp_path: Path) -> None:
    assert resolves("decaybench.modes._scaffold.chunks.chunk_length") and resolves("decaybench.MODES")
    assert resolves("decaybench.trace.Trace.lines") and not resolves("decaybench.trace.Trace.nope")
    assert not resolves("decaybench.modes.chunks.chunk_length") and not resolves("decaybench.steps.STEP_MODES_GONE")
    page = tmp_path / "page.md"
    page.write_text("See `decaybench/modes/chunks.py`, `decaybench.modes.chunks` and `cluster.py`; `benchmarks/test_<group>.py`.")
    assert PATH.findall(page.read_text()) == ["decaybench/modes/chunks.py"]
    assert DOTTED.findall(page.read_text()) == ["decaybench.modes.chunks"] and FILE.findall(page.read_text()) == ["cluster.py"]
    assert stale("README.md") == [] and "decaybench/modes/_scaffold/chunks.py" in FILES


def test_the_readme_examples_of_the_reference_give_the_values_they_state() -> None:
    # Each `decaybench.exponential_decay(...)` line of "Use it" that states its value ("...: 0.6") returns it, a normal float.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    use_it = readme[readme.index("## Use it") : readme.index("## ", readme.index("## Use it") + 3)]
    lines = re.findall(r"^(decaybench\.exponential_decay\(.*\))  # .*?: ([0-9.e-]+)\b", use_it, flags=re.MULTILINE)
    assert len(lines) == 2, lines
    for call, stated in lines:
        value = eval(call, {"decaybench": decaybench})  # the README's own line
        assert value == float(stated) and abs(value) >= np.finfo(np.float64).tiny, (call, value)


def test_a_role_naming_nothing_is_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    text = ":func:`.chunks.spans` :mod:`.compiled_loop` :func:`chunk_length` :class:`tf.Variable` :func:`len` "
    monkeypatch.setattr(sys.modules[__name__], "prose", lambda path: text + ":func:`.recording.epochs` :func:`gone` :mod:`.gone`")
    assert roles("decaybench/modes/_scaffold/chunks.py") == ["gone", ".gone"]
