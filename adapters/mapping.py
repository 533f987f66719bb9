"""Per-deployment source mappings: ``mappings/sources/<system>/<instance>.yaml``.

Mappings are data, not code. Each adapter declares a pydantic model for its own mapping; a bad file
fails loudly naming the file and field.
"""

from __future__ import annotations

import re
import threading
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
        return model.model_validate(_read(path))
    except (yaml.YAMLError, ValidationError) as exc:
        raise MappingFileError(f"{path}: {exc}") from exc


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_parsed: dict[Path, tuple[tuple[int, int, int], object]] = {}
_parsed_lock = threading.Lock()


def _read(path: Path) -> object:
    """The file's YAML, parsed once per version of the file. Every input is parsed with its
    deployment's mapping; parsing YAML was most of the API's time per request (docs/performance.md).
    The file's identity, size and modification time name the version, so an edited mapping is read
    again on the next input, without a restart. Validation stays per call: each caller gets its own
    model, and validating parsed data does not change it."""
    st = path.stat()
    version = (st.st_ino, st.st_size, st.st_mtime_ns)
    with _parsed_lock:
        cached = _parsed.get(path)
    if cached is not None and cached[0] == version:
        return cached[1]
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)  # noqa: S506 (safe loader)
    with _parsed_lock:
        _parsed[path] = (version, data)
    return data


def list_instances(mappings_dir: Path, system: str) -> list[str]:
    folder = mappings_dir / "sources" / system
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
