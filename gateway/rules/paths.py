"""Dotted paths into the Episode (``care.host_la``, ``episode.police.reference``): the one vocabulary
shared by rules, id expressions, purpose templates and minimisation profiles.

The set of valid paths is derived from the pydantic model, so a typo in a rule or a profile fails at
load instead of silently matching nothing.
"""

from __future__ import annotations

import re
import types
from functools import cache
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from gateway.model import Episode, RecipientKind

# Which Episode fields may address a recipient of each kind. Anything else (a free-text provider name,
# a worker's e-mail address) is not an identifier and would not make a usable routing key.
ID_PATHS: dict[RecipientKind, frozenset[str]] = {
    RecipientKind.la: frozenset({"care.responsible_la", "care.host_la"}),
    RecipientKind.school: frozenset({"education.school_urn"}),
    RecipientKind.health: frozenset({"health.gp_ods", "health.named_nurse_ods"}),
    RecipientKind.police: frozenset({"episode.police.force"}),
    RecipientKind.provider: frozenset({"care.placement.ofsted_urn"}),
    RecipientKind.national: frozenset(),
}
# A literal id becomes part of the routing key ``kind.id.role``: no dots, no spaces.
ROUTABLE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LITERAL_FORMATS: dict[RecipientKind, re.Pattern[str]] = {
    RecipientKind.la: re.compile(r"^\d{3}$"),
    RecipientKind.police: re.compile(r"^E23\d{6}$"),
}


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → ``X``; ``Annotated[X, ...]`` → ``X``."""
    while True:
        origin = get_origin(annotation)
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
            continue
        if hasattr(annotation, "__metadata__"):  # Annotated
            annotation = get_args(annotation)[0]
            continue
        return annotation


def _walk(model: type[BaseModel], prefix: str, out: dict[str, bool]) -> None:
    for name, info in model.model_fields.items():
        key = info.alias or name
        path = f"{prefix}.{key}" if prefix else key
        inner = _unwrap(info.annotation)
        is_model = isinstance(inner, type) and issubclass(inner, BaseModel)
        out[path] = not is_model  # True: a leaf
        if is_model:
            _walk(inner, path, out)


@cache
def episode_paths() -> dict[str, bool]:
    """Every dotted path of the Episode document → whether it is a leaf (False: a group)."""
    out: dict[str, bool] = {}
    _walk(Episode, "", out)
    return out


def is_path(path: str) -> bool:
    return path in episode_paths()


def get_value(episode: Episode, path: str) -> Any:
    """The value at ``path`` (None when any step is absent)."""
    node: Any = episode
    for part in path.split("."):
        if node is None:
            return None
        if isinstance(node, BaseModel):
            name = part
            for field, info in type(node).model_fields.items():
                if info.alias == part:
                    name = field
                    break
            node = getattr(node, name, None)
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def is_set(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {} and value != set()
