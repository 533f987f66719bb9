"""Adapters by source-system name (a kombu-style registry).

Each adapter module decorates its class with :func:`register`. The built-in packages are imported on
first use, so ``get_adapter("compact")`` works without the caller importing anything.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from adapters.base import Adapter, UnknownInstance

_REGISTRY: dict[str, type[Adapter]] = {}
_BUILTIN = ("manual", "compact", "mosaic", "liquidlogic", "liberi", "nhs")
_loaded = False


def register(cls: type[Adapter]) -> type[Adapter]:
    if cls.system in _REGISTRY and _REGISTRY[cls.system] is not cls:
        raise RuntimeError(f"two adapters registered for system {cls.system!r}")
    _REGISTRY[cls.system] = cls
    return cls


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    for name in _BUILTIN:
        try:
            importlib.import_module(f"adapters.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"adapters.{name}":  # a missing dependency inside an adapter is a real error
                raise
    _loaded = True


def available() -> dict[str, type[Adapter]]:
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))


def get_adapter(system: str, mappings_dir: Path) -> Adapter:
    _load_builtins()
    cls = _REGISTRY.get(system)
    if cls is None:
        raise UnknownInstance(
            f"no adapter for source system {system!r}; known: {', '.join(sorted(_REGISTRY))}"
        )
    return cls(mappings_dir)
