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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decaybench.config import DecayConfig
from decaybench.files import write_atomic

__all__ = ["FORMAT", "MANIFEST", "Manifest", "first_difference", "read_manifest", "write_manifest"]

MANIFEST = "manifest.json"
FORMAT = "decaybench-checkpoint/1"


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
        """Inverse of :meth:`to_json`; ``ValueError`` (or ``KeyError``/``TypeError``) for anything else."""
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        config = DecayConfig.from_dict(document["config"])
        return cls(document["mode"], config, document["decaybench"], document["tensorflow"], document.get("grid"))


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
    """The manifest in ``directory``; ``None`` when there is none; ``ValueError`` naming the cause when unreadable."""
    path = directory / MANIFEST
    if not path.exists():
        return None
    try:
        return Manifest.from_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{MANIFEST} is unreadable or corrupt ({type(error).__name__}: {error})") from error
