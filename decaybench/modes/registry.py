"""The registry of modes: the built-in specs, then those other distributions declare.

Other distributions declare a :class:`~decaybench.modes.spec.ModeSpec` as an entry point of the
group :data:`GROUP`; the registry loads them once, on first use.

>>> from decaybench.modes import BUILTIN
>>> list(Registry(BUILTIN, group="no.such.group")) == list(BUILTIN)
True
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping

from decaybench.modes.spec import ModeSpec

__all__ = ["GROUP", "ModeWarning", "Registry"]

GROUP = "decaybench.modes"


class ModeWarning(UserWarning):
    """A mode declared by another distribution that is left out: its name is taken, or it does not load."""


class Registry(Mapping[str, ModeSpec]):
    """Modes by name: the ``builtin`` ones, then those that installed distributions declare in the
    entry-point ``group`` (by distribution, then name), loaded once, on first use (so ``import
    decaybench`` stays cheap).

    A declared mode that does not load a :class:`ModeSpec` of its entry point's name, or whose name
    is taken, is left out; :attr:`problems` says why in one line each, naming the distribution, and
    each is a :class:`ModeWarning` when the registry loads.
    """

    def __init__(self, builtin: Mapping[str, ModeSpec], group: str = GROUP) -> None:
        self.builtin, self.group = builtin, group
        self._loaded: tuple[dict[str, ModeSpec], tuple[str, ...]] | None = None

    def _modes(self) -> dict[str, ModeSpec]:
        if self._loaded is None:
            self._loaded = _with_declared(self.builtin, self.group)
            for problem in self._loaded[1]:
                warnings.warn(problem, ModeWarning, stacklevel=3)
        return self._loaded[0]

    @property
    def problems(self) -> tuple[str, ...]:
        """One line per declared mode left out."""
        self._modes()
        assert self._loaded is not None
        return self._loaded[1]

    def __getitem__(self, name: str) -> ModeSpec:
        return (self._loaded[0] if self._loaded is not None else self._modes())[name]  # run() looks up a few times a call

    def __iter__(self) -> Iterator[str]:
        return iter(self._modes())

    def __len__(self) -> int:
        return len(self._modes())


def _with_declared(builtin: Mapping[str, ModeSpec], group: str) -> tuple[dict[str, ModeSpec], tuple[str, ...]]:
    import importlib.metadata  # here: its import (email, zipfile, ...) is paid only when the modes are listed

    modes, homes, problems = dict(builtin), dict.fromkeys(builtin, "the built-in mode"), []
    # By distribution, then name: the order (and who keeps a name both declare) does not hang on the file system.
    declared = sorted(importlib.metadata.entry_points(group=group), key=lambda entry: (entry.dist.name if entry.dist else "", entry.name))
    for entry in declared:
        dist = f"{entry.dist.name} {entry.dist.version}" if entry.dist is not None else "an unnamed distribution"
        where = f"mode {entry.name!r} of distribution {dist} ({entry.name} = {entry.value})"
        try:
            spec = entry.load()
        except Exception as error:  # whatever its module raises: the other modes keep working
            problems.append(f"{where} does not load: {type(error).__name__}: {' '.join(str(error).split())}; left out")
            continue
        if not isinstance(spec, ModeSpec):
            problems.append(f"{where} does not load: it is a {type(spec).__name__}, not a decaybench.modes.ModeSpec; left out")
        elif spec.name != entry.name:
            problems.append(f"{where} does not load: its ModeSpec is named {spec.name!r}, not {entry.name!r}; left out")
        elif spec.sweep:
            problems.append(f"{where} declares sweep=True: decaybench's sweeps run only its own loops; left out")
        elif spec.name in modes:
            problems.append(f"{where} clashes with {homes[spec.name]} {spec.name!r}; left out")
        else:
            modes[spec.name], homes[spec.name] = spec, f"the mode of distribution {dist}"
    return modes, tuple(problems)
