"""Data-minimisation profiles: which Episode fields each kind of recipient may see.

A profile is an allow-list of dotted paths into the Episode document (``child.given_name``,
``episode`` for the whole group, ``*`` for everything). A notification's payload is the Episode
projected through its profile; a field not allowed never leaves. Profiles live in
``mappings/profiles.yaml`` (data, not code).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.model import Episode
from gateway.rules.paths import is_path

ALWAYS = ("schema", "episode_id", "status")
"""Every payload says which episode it is about and where it stands."""


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str
    fields: list[str] = Field(min_length=1)


class ProfileFileError(RuntimeError):
    pass


def load_profiles(mappings_dir: Path) -> dict[str, Profile]:
    path = mappings_dir / "profiles.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        profiles = {name: Profile.model_validate(body) for name, body in raw["profiles"].items()}
    except (OSError, KeyError, TypeError, AttributeError, yaml.YAMLError, ValidationError) as exc:
        raise ProfileFileError(f"{path}: {exc}") from exc
    # A misspelt path would only withhold data, but it means the profile does not say what its author
    # meant: refuse it, naming the profile and the field.
    problems = [
        f"{path}: profile {name}: field {f!r} is not a field of the Episode"
        for name, profile in profiles.items()
        for f in profile.fields
        if f != "*" and not is_path(f)
    ]
    if problems:
        raise ProfileFileError("\n".join(problems))
    return profiles


def allows(profile: Profile, path: str) -> bool:
    """Whether ``path`` (a leaf or a group) is disclosed in full by ``profile``."""
    return _allowed(path, [*ALWAYS, *profile.fields])


def union(names: list[str], profiles: dict[str, Profile]) -> Profile:
    """One notification asked for by rules with different profiles discloses what each rule allowed:
    the union of their allow-lists (every field is justified by at least one rule and its basis)."""
    fields: list[str] = []
    for name in names:
        for f in profiles[name].fields:
            if f not in fields:
                fields.append(f)
    return Profile(description="union of " + ", ".join(names), fields=fields)


class _AllowList:
    """An allow-list compiled for the projection, which asks two questions of every key of every
    payload (tens of thousands of times a second at load), answered with set lookups instead of a scan
    of the list with string comparisons:

    - ``allowed(path)``: is ``path`` itself, or one of its dotted ancestors, on the list (or ``*``)?
    - ``beneath(path)``: is something deeper than ``path`` on the list (so its group must be opened)?

    Exactly the same answers as the plain definitions (``tests/routing/test_profiles.py`` checks them
    against each other on generated lists and paths)."""

    def __init__(self, allow: tuple[str, ...]):
        self.everything = "*" in allow
        self.exact = frozenset(allow)
        self.groups = frozenset(a[:i] for a in allow for i, ch in enumerate(a) if ch == ".")

    def allowed(self, path: str) -> bool:
        if self.everything or path in self.exact:
            return True
        # path.startswith(a + ".") for some a on the list: a is path up to one of its dots.
        return any(path[:i] in self.exact for i, ch in enumerate(path) if ch == ".")

    def beneath(self, path: str) -> bool:
        return path in self.groups


@functools.lru_cache(maxsize=1024)
def _compiled(allow: tuple[str, ...]) -> _AllowList:
    return _AllowList(allow)


def _allowed(path: str, allow: list[str]) -> bool:
    return _compiled(tuple(allow)).allowed(path)


def _project(node: Any, prefix: str, allow: _AllowList) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            if allow.allowed(path):
                out[key] = value
            elif isinstance(value, dict) and allow.beneath(path):
                inner = _project(value, path, allow)
                if inner:
                    out[key] = inner
        return out
    return node


def minimise(episode: Episode, profile: Profile) -> dict[str, Any]:
    """The Episode as this profile may see it (JSON-ready)."""
    doc = episode.model_dump(mode="json", by_alias=True, exclude_none=True)
    return _project(doc, "", _compiled((*ALWAYS, *profile.fields)))


def disclosed_fields(payload: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every leaf in a payload: what the disclosure audit records (names, not values)."""
    out: list[str] = []
    for key, value in payload.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value:
            out.extend(disclosed_fields(value, path))
        else:
            out.append(path)
    return sorted(out)
