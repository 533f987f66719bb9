"""Read any FHIR R4 resource (JSON or XML) with fhir.resources, and say who the Patients in it are.

:func:`read_resources` is the first half of the NHS adapter and useful on its own: it accepts any
resource (a UK Core example Patient, a batch Bundle, a missing-child message), refuses what is hostile,
unreadable or not FHIR R4, and returns every resource with its place, each Patient's identity (NHS
number Modulus 11 checked, name, date of birth, sex, LA ids) and each Organization's ODS / DfE codes,
with the values it had to leave out in ``data_quality``. It does not decide whether the input is about
a missing child: that is :mod:`adapters.nhs.message`.

fhir.resources has no plain R4 package; ``fhir.resources.R4B`` (4.3.0) is used. For the resources this
feed uses the two releases have the same elements; what R4B adds (its new resource types and data
types) is refused here, so an R4B-only document is not mistaken for R4 (docs/health.md "R4 and R4B").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from lxml import etree
from pydantic import ValidationError

from adapters.base import HostileInput, InvalidInput, UnreadableInput
from adapters.common.json_body import load_json_object
from adapters.nhs.codes import R4B_ONLY_ELEMENTS, R4B_ONLY_RESOURCES
from adapters.nhs.ukcore import (
    OrganizationIdentity,
    PatientIdentity,
    organization_identity,
    patient_identity,
)
from adapters.nhs.xml import hardened_parser, parse_fhir_xml

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
"""A missing-child message nests about 12 levels (Bundle/entry/resource/Patient/identifier/extension/
valueCodeableConcept/coding/...); 64 leaves room for contained resources and nested extensions and still
stops a nesting bomb long before Python's recursion limit inside the validator."""

JSON_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})
XML_TYPES = frozenset({"application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir"})
_SNIFFABLE = frozenset({"", "application/octet-stream", "text/plain"})
_R4_VERSIONS = frozenset({"4.0", "4.0.0", "4.0.1"})
_ERRORS_SHOWN = 3
_TEXT_MAX = 64

Format = Literal["json", "xml"]


@dataclass(frozen=True)
class Located:
    """A resource and where it sits, as a FHIRPath-like string (``Bundle.entry[1].resource``)."""

    where: str
    resource: Any
    container: Any  # the top-level resource whose ``contained`` it is in (itself when top-level)
    full_url: str | None = None


@dataclass
class FhirRead:
    format: Format
    root: Any
    resources: list[Located]
    patients: list[PatientIdentity]
    organizations: dict[int, OrganizationIdentity]  # keyed on id() of the Organization model
    data_quality: list[dict[str, Any]] = field(default_factory=list)

    @property
    def resource_type(self) -> str:
        return str(self.root.get_resource_type())

    def of_type(self, resource_type: str) -> list[Located]:
        return [r for r in self.resources if r.resource.get_resource_type() == resource_type]


def _printable(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable())[:_TEXT_MAX]


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """``application/fhir+json; fhirVersion=4.0`` → (``application/fhir+json``, {"fhirversion": "4.0"})."""
    if not content_type:
        return "", {}
    head, *rest = content_type.split(";")
    params = {}
    for part in rest:
        key, _, value = part.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return head.strip().lower(), params


def detect_format(body: bytes, content_type: str | None) -> Format:
    media, params = media_type(content_type)
    version = params.get("fhirversion")
    if version is not None and version not in _R4_VERSIONS:
        raise InvalidInput(
            f"Content-Type says fhirVersion={_printable(version)}; the gateway accepts FHIR R4 (4.0) only"
        )
    if media in JSON_TYPES:
        return "json"
    if media in XML_TYPES:
        return "xml"
    if media not in _SNIFFABLE:
        raise UnreadableInput(
            f"content type {_printable(media)!r} is not FHIR: send application/fhir+json or "
            "application/fhir+xml"
        )
    # No useful media type (a MESH message or a dropped file): the first character decides.
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if not start:
        raise UnreadableInput("empty body: expected a FHIR R4 resource (JSON or XML)")
    if start == b"{":
        return "json"
    if start == b"<":
        return "xml"
    raise UnreadableInput("neither FHIR JSON nor FHIR XML: expected a JSON object or an XML document")


def _json_depth_and_r4(doc: Any, max_depth: int) -> None:
    """Nesting limit and R4B-only content in decoded JSON, iteratively (no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise HostileInput(f"JSON nested deeper than {max_depth} levels")
        if isinstance(node, dict):
            kind = node.get("resourceType")
            if isinstance(kind, str) and kind in R4B_ONLY_RESOURCES:
                raise InvalidInput(f"{kind} is an R4B resource type, not FHIR R4")
            for key, value in node.items():
                if key in R4B_ONLY_ELEMENTS:
                    raise InvalidInput(f"element {key} is an R4B data type, not FHIR R4")
                if isinstance(value, dict | list):
                    stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node if isinstance(value, dict | list))


def _resource_class(name: Any) -> type[Resource]:
    if not isinstance(name, str) or not name:
        raise InvalidInput("not a FHIR resource: no resourceType")
    if name in R4B_ONLY_RESOURCES:
        raise InvalidInput(f"{name} is an R4B resource type, not FHIR R4")
    try:
        cls = get_fhir_model_class(name)
    except (KeyError, ValueError):
        raise InvalidInput(f"resourceType {_printable(name)!r} is not a FHIR R4 resource type") from None
    if not (isinstance(cls, type) and issubclass(cls, Resource)) or cls.get_resource_type() != name:
        raise InvalidInput(f"resourceType {_printable(name)!r} is not a FHIR R4 resource type")
    return cls


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = "class" if part == "class_fhir" else str(part)
            out += f".{name}" if out else name
    return out or "(resource)"


def _message(err: Any) -> str:
    """pydantic's message for one fault, without the offending value: a reason is shown to the sender
    and stored, and the value may be a child's NHS number or date of birth."""
    if err.get("type") == "extra_forbidden":
        return "unknown element"
    if err.get("type") == "missing":
        return "required element missing"
    msg = " ".join(str(err.get("msg", "invalid value")).split())
    value = err.get("input")
    if isinstance(value, str | int | float) and str(value) and str(value) in msg:
        msg = msg.replace(str(value), "…")
    return msg[:160]


def _validation_reason(kind: str, exc: ValidationError) -> str:
    errors = exc.errors()
    shown = "; ".join(f"{_loc(tuple(e.get('loc', ())))}: {_message(e)}" for e in errors[:_ERRORS_SHOWN])
    more = f" (and {len(errors) - _ERRORS_SHOWN} more)" if len(errors) > _ERRORS_SHOWN else ""
    return f"does not parse as a FHIR R4 {kind}: {shown}{more}"


def _parse(body: bytes, fmt: Format, max_bytes: int, max_depth: int) -> Any:
    if fmt == "json":
        if len(body) > max_bytes:
            raise HostileInput(f"document is {len(body)} bytes, over the {max_bytes}-byte limit")
        doc = load_json_object(body)
        _json_depth_and_r4(doc, max_depth)
        cls = _resource_class(doc.get("resourceType"))
        kind = cls.get_resource_type()
        try:
            return cls.model_validate(doc)
        except ValidationError as exc:
            raise InvalidInput(_validation_reason(kind, exc)) from None
        except KeyError as exc:
            # fhir.resources raises KeyError for an unknown resourceType nested in a Bundle or contained.
            raise InvalidInput(
                f"does not parse as a FHIR R4 {kind}: unknown nested resource type "
                f"{_printable(str(exc.args[0]) if exc.args else '')!r}"
            ) from None
        except (TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise InvalidInput(f"does not parse as a FHIR R4 {kind} ({type(exc).__name__})") from None
    root = parse_fhir_xml(body, max_bytes=max_bytes, max_depth=max_depth)
    cls = _resource_class(etree.QName(root).localname)
    kind = cls.get_resource_type()
    try:
        return cls.model_validate_xml(body, xmlparser=hardened_parser())
    except ValidationError as exc:
        raise InvalidInput(_validation_reason(kind, exc)) from None
    except KeyError as exc:
        # fhir.resources' XML reader raises KeyError naming an element it does not know.
        name = _printable(str(exc.args[0])) if exc.args else ""
        raise InvalidInput(f"does not parse as a FHIR R4 {kind}: unknown element {name!r}") from None
    except (TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        raise InvalidInput(f"does not parse as a FHIR R4 {kind} ({type(exc).__name__})") from None


def _locate(root: Any) -> list[Located]:
    """Every resource: the root, a Bundle's entries (recursively) and each one's contained resources."""
    out: list[Located] = []

    def add(resource: Any, where: str, full_url: str | None) -> None:
        out.append(Located(where, resource, resource, full_url))
        for j, inner in enumerate(getattr(resource, "contained", None) or []):
            out.append(Located(f"{where}.contained[{j}]", inner, resource))
        if resource.get_resource_type() == "Bundle":
            for i, entry in enumerate(resource.entry or []):
                if entry.resource is not None:
                    add(entry.resource, f"{where}.entry[{i}].resource", entry.fullUrl)

    add(root, root.get_resource_type(), None)
    return out


def read_resources(
    body: bytes,
    content_type: str | None = None,
    *,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    max_depth: int = MAX_DEPTH,
) -> FhirRead:
    """Parse ``body`` as FHIR R4 (JSON or XML, by ``content_type`` or, without one, by its first
    character). Raises HostileInput, UnreadableInput or InvalidInput; never anything else."""
    fmt = detect_format(body, content_type)
    try:
        root = _parse(body, fmt, max_bytes, max_depth)
    except RecursionError:
        raise HostileInput("nesting too deep to read") from None
    located = _locate(root)
    patients: list[PatientIdentity] = []
    organizations: dict[int, OrganizationIdentity] = {}
    quality: list[dict[str, Any]] = []
    for item in located:
        kind = item.resource.get_resource_type()
        if kind == "Patient":
            identity = patient_identity(item.resource, item.where)
            patients.append(identity)
            quality.extend(identity.data_quality)
        elif kind == "Organization":
            org = organization_identity(item.resource, item.where)
            organizations[id(item.resource)] = org
            quality.extend(org.data_quality)
    return FhirRead(fmt, root, located, patients, organizations, quality)


def dumps(resource: Any) -> bytes:
    """Compact FHIR JSON of a parsed resource (absent elements left out)."""
    return orjson.dumps(resource.model_dump(mode="json", by_alias=True, exclude_none=True))
