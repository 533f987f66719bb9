"""Per-deployment source mappings: ``mappings/sources/<system>/<instance>.yaml``.

Mappings are data, not code. Each adapter declares a pydantic model for its own mapping; a bad file
fails loudly naming the file and field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from adapters.base import UnknownInstance

M = TypeVar("M", bound=BaseModel)
_INSTANCE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class MappingFileError(RuntimeError):
    """A mapping file exists but is malformed: a deployment bug, not bad input."""


def mapping_path(mappings_dir: Path, system: str, instance: str) -> Path:
    if not _INSTANCE.match(instance):
        raise UnknownInstance(f"instance name {instance!r} is not a valid instance name")
    return mappings_dir / "sources" / system / f"{instance}.yaml"


def load_source_mapping(mappings_dir: Path, system: str, instance: str, model: type[M]) -> M:
    path = mapping_path(mappings_dir, system, instance)
    if not path.is_file():
        raise UnknownInstance(
            f"no {system} mapping for instance {instance!r} (expected {path.name} "
            f"under mappings/sources/{system}/)"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return model.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise MappingFileError(f"{path}: {exc}") from exc


def list_instances(mappings_dir: Path, system: str) -> list[str]:
    folder = mappings_dir / "sources" / system
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
