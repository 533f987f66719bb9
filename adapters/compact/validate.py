"""Validation against the COMPACT schema (``schema/schema.xsd``, shipped in this package).

libxml2's schema messages quote the offending value ("The value '99942249' is not accepted..."), which
could be a child's NHS number or date of birth. Reasons are therefore rebuilt from the error's type and
location: the element path inside the report, the report number, the line, and a description of the
fault that comes from the schema, never from the document.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from importlib.resources import files

from lxml import etree

from adapters.base import InvalidInput
from adapters.compact.report import REPORT, label_of
from adapters.compact.xml import hardened_parser

_XS = "{http://www.w3.org/2001/XMLSchema}"
_local = threading.local()

# Faults whose libxml2 message names only elements and attributes (what is missing or unexpected).
_STRUCTURAL = {
    "SCHEMAV_ELEMENT_CONTENT",
    "SCHEMAV_CVC_ELT_1",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_1",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_2",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_3",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_4",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_1",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_2",
    "SCHEMAV_CVC_COMPLEX_TYPE_4",
}
# Faults about a value: described without the value.
_VALUE_FAULTS = {
    "SCHEMAV_CVC_PATTERN_VALID": "value is not in the format the schema requires",
    "SCHEMAV_CVC_ENUMERATION_VALID": "value is not one of the codes the schema allows",
    "SCHEMAV_CVC_MINLENGTH_VALID": "value is too short",
    "SCHEMAV_CVC_MAXLENGTH_VALID": "value is too long",
    "SCHEMAV_CVC_LENGTH_VALID": "value has the wrong length",
    "SCHEMAV_CVC_MININCLUSIVE_VALID": "value is below the allowed minimum",
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID": "value is above the allowed maximum",
    "SCHEMAV_CVC_MINEXCLUSIVE_VALID": "value is below the allowed minimum",
    "SCHEMAV_CVC_MAXEXCLUSIVE_VALID": "value is above the allowed maximum",
}
_ALLOWED_SET = re.compile(r"is not an element of the set (\{[^{}]*\})\.?$")
_ATOMIC_TYPE = re.compile(r"atomic type '(xs:[A-Za-z]+)'\.?$")
_ATTRIBUTE = re.compile(r"^Element '[^']*', attribute '([^']*)'")
_NAMESPACE = re.compile(r"\{[^}]*\}")
_NAME_MAX = 64


def _schema_document() -> etree._Element:
    data = files("adapters.compact").joinpath("schema", "schema.xsd").read_bytes()
    return etree.fromstring(data, hardened_parser())


def schema() -> etree.XMLSchema:
    """One compiled schema per thread: the ingest API validates on a thread pool, and a schema object
    keeps its error log on itself."""
    compiled = getattr(_local, "schema", None)
    if compiled is None:
        compiled = etree.XMLSchema(_schema_document())
        _local.schema = compiled
    return compiled


@lru_cache(maxsize=32)
def schema_codes(simple_type: str) -> frozenset[str]:
    """The enumerated codes of one of the schema's simple types (e.g. ``RiskGradeCode``)."""
    doc = _schema_document()
    found = doc.find(f"{_XS}simpleType[@name='{simple_type}']")
    if found is None:
        raise KeyError(f"schema.xsd has no simple type {simple_type!r}")
    return frozenset(e.get("value", "") for e in found.iter(f"{_XS}enumeration"))


def _clean_name(name: str) -> str:
    name = _NAMESPACE.sub("", name)
    return "".join(ch for ch in name if ch.isprintable())[:_NAME_MAX]


def _located(root: etree._Element, path: str | None) -> etree._Element | None:
    if not path:
        return None
    try:
        found = root.getroottree().xpath(path)
    except (etree.XPathError, ValueError):
        return None
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    return None


def _where(root: etree._Element, element: etree._Element | None) -> tuple[str, str | None, str]:
    """(label of the report or "document", its report number if valid, path of the element in it)."""
    if element is None:
        return "document", None, ""
    names: list[str] = []
    node: etree._Element | None = element
    while node is not None and node.tag != REPORT and node.getparent() is not None:
        names.append(_clean_name(etree.QName(node).localname))
        node = node.getparent()
    path = "/".join(reversed(names))
    if node is None or node.tag != REPORT:
        return "document", None, path
    reports = root.findall(REPORT)
    index = next((i for i, r in enumerate(reports, 1) if r is node), 0)
    label, number = label_of(node, index, len(reports))
    return label, number, path


def _problem(entry: etree._LogEntry) -> str:
    message = entry.message or ""
    if entry.type_name in _STRUCTURAL:
        _, sep, tail = message.partition("': ")
        text = tail if sep else message
        return " ".join(_NAMESPACE.sub("", text).split())[:300]
    if entry.type_name == "SCHEMAV_CVC_ENUMERATION_VALID":
        # The set libxml2 appends last is the schema's own list; the value itself comes before it.
        allowed = _ALLOWED_SET.search(message.strip())
        if allowed:
            return f"{_VALUE_FAULTS[entry.type_name]}: {allowed.group(1)}"
    if entry.type_name in _VALUE_FAULTS:
        return _VALUE_FAULTS[entry.type_name]
    atomic = _ATOMIC_TYPE.search(message.strip())
    if atomic:
        return f"value is not a valid {atomic.group(1)}"
    return f"does not match the schema ({entry.type_name})"


def validate(root: etree._Element) -> None:
    """Raise InvalidInput naming the first schema fault, its report and its place; else return."""
    compiled = schema()
    if compiled.validate(root):
        return
    errors = list(compiled.error_log)
    first = errors[0]
    element = _located(root, first.path)
    label, number, path = _where(root, element)
    attribute = _ATTRIBUTE.match(first.message or "")
    if attribute:
        path = f"{path}/@{_clean_name(attribute.group(1))}" if path else f"@{_clean_name(attribute.group(1))}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    where = f"{path}: " if path else ""
    raise InvalidInput(
        f"{label}: does not match the COMPACT schema at line {first.line}: {where}{_problem(first)}{more}",
        record_id=number,
    )


__all__ = ["schema", "schema_codes", "validate"]
