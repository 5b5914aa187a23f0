"""The manifest beside a checkpoint: which run it belongs to, checked before any state is read.

``manifest.json`` holds the mode, every field of the :class:`~decaybench.config.DecayConfig`, and
the versions of decaybench and TensorFlow that computed the state. A run resumes only from the
manifest of the same run: the first field that differs is named with both values.

>>> from decaybench.config import DecayConfig
>>> ours = Manifest.of(DecayConfig(), "eager")
>>> first_difference(Manifest.of(DecayConfig(dtype="float64"), "eager"), ours)
('dtype', 'float64', 'float32')
>>> first_difference(ours, Manifest.from_json(ours.to_json())) is None
True
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decaybench.config import DecayConfig
from decaybench.files import write_atomic
from decaybench.reading import UnreadableInput, parse_json, read_json

__all__ = ["FORMAT", "MANIFEST", "Manifest", "first_difference", "read_manifest", "write_manifest"]

MANIFEST = "manifest.json"
FORMAT = "decaybench-checkpoint/1"
# A manifest is under a kilobyte; anything past this is not one (and is not read whole).
MANIFEST_LIMIT = 1 << 20


def _version(distribution: str) -> str | None:
    # From the installed metadata: reading it does not import TensorFlow.
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class Manifest:
    """What a checkpoint directory was made for.

    Attributes:
        mode: the mode that wrote it.
        config: the run's configuration, every field.
        decaybench, tensorflow: the versions that computed the state (``None``: not installed).
        grid: a sweep's directory only: what else fixes its cells (its ranges and ``tol``), JSON
            values; ``config`` is then the grid's base. ``None`` for a run's.
    """

    mode: str
    config: DecayConfig
    decaybench: str | None
    tensorflow: str | None
    grid: dict[str, Any] | None = None

    @classmethod
    def of(cls, config: DecayConfig, mode: str, grid: dict[str, Any] | None = None) -> Manifest:
        """The manifest of a run of ``config`` in ``mode`` (or of a sweep over ``grid``) with the installed versions."""
        return cls(mode, config, _version("decaybench"), _version("tensorflow") or _version("tensorflow-cpu"), grid)

    def fields(self) -> dict[str, Any]:
        """Mode, config fields, versions and grid, in the order a difference is reported."""
        versions = {"decaybench": self.decaybench, "tensorflow": self.tensorflow}
        grid = {f"grid {name}": value for name, value in (self.grid or {}).items()}
        return {"mode": self.mode, "sweep": self.grid is not None, **dataclasses.asdict(self.config), **versions, **grid}

    def to_json(self) -> str:
        document = {
            "format": FORMAT,
            "mode": self.mode,
            "config": dataclasses.asdict(self.config),
            "decaybench": self.decaybench,
            "tensorflow": self.tensorflow,
        }
        if self.grid is not None:  # a run's manifest keeps its bytes
            document["grid"] = self.grid
        return json.dumps(document, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Inverse of :meth:`to_json`; ``ValueError`` naming what is wrong for anything else."""
        document = parse_json(text, source=MANIFEST, argument="manifest")
        problem = _problem(document)
        if problem is not None:
            raise ValueError(f"{MANIFEST} {problem}")
        return cls._of(document)

    @classmethod
    def _of(cls, document: dict[str, Any]) -> Manifest:
        config = DecayConfig.from_dict(document["config"])
        return cls(document["mode"], config, document["decaybench"], document["tensorflow"], document.get("grid"))


def _problem(document: Any) -> str | None:
    """What keeps ``document`` (parsed JSON) from being a manifest, or ``None``."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return f"is unreadable or corrupt (format is not {FORMAT})"
    missing = sorted({"mode", "config", "decaybench", "tensorflow"} - set(document))
    if missing:
        return f"is unreadable or corrupt (no {missing[0]!r})"
    if not isinstance(document["mode"], str) or not isinstance(document["config"], dict):
        return "is unreadable or corrupt (mode must be a string and config an object)"
    if not all(version is None or isinstance(version, str) for version in (document["decaybench"], document["tensorflow"])):
        return "is unreadable or corrupt (the versions must be strings or null)"
    if not isinstance(document.get("grid", {}), (dict, type(None))):
        return "is unreadable or corrupt (grid must be an object or null)"
    try:
        DecayConfig.from_dict(document["config"])
    except (ValueError, TypeError) as error:  # the config's own checks name the field and its value
        return f"is unreadable or corrupt (config: {error})"
    return None


def first_difference(found: Manifest, expected: Manifest) -> tuple[str, Any, Any] | None:
    """``(field, found value, expected value)`` of the first field that differs, else ``None``."""
    theirs, ours = found.fields(), expected.fields()
    for name, value in ours.items():
        if theirs.get(name) != value:
            return name, theirs.get(name), value
    return None


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Write ``directory/manifest.json`` atomically."""
    write_atomic(directory / MANIFEST, manifest.to_json())


def read_manifest(directory: Path) -> Manifest | None:
    """The manifest in ``directory``; ``None`` when there is none.

    Anything else than a manifest (another type of file, bad JSON at any depth, a missing or
    malformed field) is an :class:`~decaybench.reading.UnreadableInput` naming ``checkpoint_dir``
    and the file.
    """
    path = directory / MANIFEST
    if not os.path.lexists(path):
        return None
    document = read_json(path, argument="checkpoint_dir", value=str(directory), limit=MANIFEST_LIMIT)
    problem = _problem(document)
    if problem is not None:
        raise UnreadableInput("checkpoint_dir", str(directory), str(path), problem)
    return Manifest._of(document)
