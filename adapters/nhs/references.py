"""References inside one input: which resource a ``Reference.reference`` points at.

README §2: references between entries use the entries' ``fullUrl`` (``urn:uuid:…``) and every reference
must resolve inside the Bundle. The gateway follows the references its mapping reads (MessageHeader focus
and sender, the focus's subject, sender, recipients and encounter, every Flag's subject...) with
:meth:`Index.follow`, which rejects a dangling one naming it: without it the report cannot be placed, or
could be placed on the wrong child. Any other reference that dangles is recorded in ``data_quality`` by
:meth:`Index.dangling` and the message is kept: it is not read, so it cannot mislead, and refusing the
notice for it would leave a child unlooked-for over a formality.

Resolution, as FHIR defines it for a Bundle: ``#id`` is a contained resource of the same top-level
resource (``#`` is that resource itself); an absolute URL or ``urn:uuid:``/``urn:oid:`` must equal an
entry's ``fullUrl``; a relative ``Type/id`` matches the entry whose ``fullUrl`` ends in ``/Type/id`` or,
failing that, the one entry of that type with that id. Two matches are as bad as none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from pydantic import BaseModel

from adapters.base import InvalidInput
from adapters.common.quality import issue
from adapters.nhs.read import FhirRead, Located

_RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")
_SHOWN = 100


def shown(ref: str) -> str:
    """A reference as quoted in a reason: references are ids and URLs, never a child's details, but a
    hostile sender could put anything there, so it is cut short and stripped of control characters."""
    return "".join(ch for ch in ref if ch.isprintable())[:_SHOWN]


class Index:
    def __init__(self, read: FhirRead):
        self.read = read
        self._by_url: dict[str, list[Located]] = {}
        self._container: dict[int, Any] = {}
        self._where: dict[int, str] = {}
        for item in read.resources:
            self._container[id(item.resource)] = item.container
            self._where[id(item.resource)] = item.where
            if item.full_url:
                self._by_url.setdefault(item.full_url.strip(), []).append(item)

    def where(self, resource: Any) -> str:
        return self._where.get(id(resource), resource.get_resource_type())

    def duplicate_full_urls(self) -> list[str]:
        return sorted(url for url, items in self._by_url.items() if len(items) > 1)

    def _top_level(self) -> list[Located]:
        return [r for r in self.read.resources if r.container is r.resource]

    def resolve(self, ref: str, holder: Any) -> Any | None:
        """The resource ``ref`` points at from inside ``holder``, or None."""
        ref = ref.strip()
        if ref.startswith("#"):
            container = self._container.get(id(holder), holder)
            if ref == "#":
                return container
            matches = [c for c in getattr(container, "contained", None) or [] if c.id == ref[1:]]
            return matches[0] if len(matches) == 1 else None
        exact = self._by_url.get(ref)
        if exact:
            return exact[0].resource if len(exact) == 1 else None
        relative = _RELATIVE.match(ref)
        if not relative:
            return None
        kind, rid = relative.group(1), relative.group(2)
        by_url = [r for url, items in self._by_url.items() if url.endswith(f"/{kind}/{rid}") for r in items]
        if len(by_url) == 1:
            return by_url[0].resource
        if by_url:
            return None
        by_id = [
            r for r in self._top_level() if r.resource.get_resource_type() == kind and r.resource.id == rid
        ]
        return by_id[0].resource if len(by_id) == 1 else None

    def follow(self, holder: Any, ref: Any, element: str, expected: tuple[str, ...]) -> Any | None:
        """Follow a Reference the mapping reads. None when the Reference is absent or only logical
        (an identifier, no ``reference``); a reference that does not resolve, or resolves to a resource
        of another type, rejects the input naming the element and the reference."""
        if ref is None or not getattr(ref, "reference", None):
            return None
        where = f"{self.where(holder)}.{element}"
        target = self.resolve(ref.reference, holder)
        if target is None:
            raise InvalidInput(
                f"{where} reference {shown(ref.reference)!r} does not resolve inside the "
                f"{'Bundle' if self.read.resource_type == 'Bundle' else 'resource (contained)'}"
            )
        kind = target.get_resource_type()
        if kind not in expected:
            raise InvalidInput(
                f"{where} reference {shown(ref.reference)!r} is a {kind}; expected {' or '.join(expected)}"
            )
        return target

    def dangling(self) -> list[dict[str, Any]]:
        """``data_quality`` entries for every reference anywhere that does not resolve."""
        out = []
        for item in self.read.resources:
            for path, ref in _references(item.resource, item.where):
                if self.resolve(ref.reference, item.resource) is None:
                    out.append(
                        issue(path, "reference does not resolve inside the Bundle; not used", ref.reference)
                    )
        return out


def _references(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every Reference with a ``reference`` under ``node``, not descending into other resources (a
    Bundle's entries and contained resources are visited as resources of their own)."""
    stack: list[tuple[Any, str]] = [(node, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, Reference):
            if current.reference:
                yield where, current
            continue
        if not isinstance(current, BaseModel):
            continue
        for name in type(current).model_fields:
            if name == "contained":
                continue
            if name == "entry" and isinstance(current, Resource) and current.get_resource_type() == "Bundle":
                continue
            value = getattr(current, name, None)
            label = "class" if name == "class_fhir" else name
            if label.endswith("__ext"):  # a primitive's extensions (JSON ``_birthDate``)
                label = "_" + label[: -len("__ext")]
            if isinstance(value, list):
                stack.extend(
                    (v, f"{where}.{label}[{i}]")
                    for i, v in enumerate(value)
                    if isinstance(v, BaseModel) and not isinstance(v, Resource)
                )
            elif isinstance(value, BaseModel) and not isinstance(value, Resource):
                stack.append((value, f"{where}.{label}"))
