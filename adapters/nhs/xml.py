"""Hardened FHIR XML: bytes from an NHS trust → a checked lxml tree, or a refusal.

The same two layers as the COMPACT adapter (adapters/compact/xml.py): any DOCTYPE or ENTITY declaration
is refused before a parser sees the bytes, and the parser itself never loads a DTD, resolves an entity
or touches the network, so XXE and billion-laughs documents are refused, never expanded. FHIR XML has
no DTD (README §5.1), so a genuine message never contains one.

fhir.resources then reads the checked bytes again with the same hardened parser
(``model_validate_xml(..., xmlparser=hardened_parser())``): its own default would be lxml's, which loads
DTDs. Reasons never quote document content: they name lines, columns, element names and limits.
"""

from __future__ import annotations

from lxml import etree

from adapters.base import HostileInput, InvalidInput
from adapters.common.xml import hardened_parser, parse_hardened
from adapters.nhs.codes import FHIR_NS, R4B_ONLY_ELEMENTS, R4B_ONLY_RESOURCES, XHTML_NS

_NAME_MAX = 64

__all__ = ["check_fhir_xml", "hardened_parser", "parse_fhir_xml"]


def _printable(name: str) -> str:
    return "".join(ch for ch in name if ch.isprintable())[:_NAME_MAX]


def parse_fhir_xml(body: bytes, *, max_bytes: int, max_depth: int) -> etree._Element:
    """The root element of a FHIR XML document. Raises HostileInput, UnreadableInput or InvalidInput."""
    root = parse_hardened(
        body, max_bytes=max_bytes, max_depth=None, expected="a FHIR R4 resource (JSON or XML)", fmt="FHIR XML"
    )
    check_fhir_xml(root, max_depth)
    return root


def check_fhir_xml(root: etree._Element, max_depth: int) -> None:
    """Depth, namespaces and R4-only content, before fhir.resources reads the tree.

    fhir.resources' XML reader looks every element up by its local name, whatever its namespace, and
    needs the FHIR namespace to be the default one (``xmlns="http://hl7.org/fhir"``, as every FHIR XML
    example writes it): anything else is refused here with a reason, instead of being misread there.
    """
    qname = etree.QName(root)
    if qname.namespace != FHIR_NS:
        raise InvalidInput(
            f"root element {_printable(qname.localname)!r} is not in the FHIR namespace {FHIR_NS}"
        )
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > max_depth:
            raise HostileInput(f"elements nested deeper than {max_depth} levels")
        tag = etree.QName(element)
        if tag.namespace == XHTML_NS:
            # Narrative: fhir.resources keeps it as XHTML and the gateway never reads it as data; only
            # its depth matters.
            stack.extend((child, depth + 1) for child in element)
            continue
        if tag.namespace != FHIR_NS:
            raise InvalidInput(
                f"element {_printable(tag.localname)!r} at line {element.sourceline} is not in the FHIR "
                f"namespace {FHIR_NS}"
            )
        if element.prefix is not None:
            raise InvalidInput(
                f"element {_printable(tag.localname)!r} at line {element.sourceline} uses a namespace "
                'prefix: write FHIR XML with the FHIR namespace as the default (xmlns="http://hl7.org/fhir")'
            )
        if tag.localname in R4B_ONLY_ELEMENTS:
            raise InvalidInput(
                f"element {tag.localname} at line {element.sourceline} is an R4B data type, not FHIR R4"
            )
        parent = element.getparent()
        if (
            parent is not None
            and etree.QName(parent).localname in {"resource", "contained"}
            and tag.localname in R4B_ONLY_RESOURCES
        ):
            raise InvalidInput(
                f"{tag.localname} at line {element.sourceline} is an R4B resource type, not FHIR R4"
            )
        stack.extend((child, depth + 1) for child in element)
