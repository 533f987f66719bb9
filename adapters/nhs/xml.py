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

import re

from lxml import etree

from adapters.base import HostileInput, InvalidInput, UnreadableInput
from adapters.nhs.codes import FHIR_NS, R4B_ONLY_ELEMENTS, R4B_ONLY_RESOURCES, XHTML_NS

_DECLARATIONS = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")
_XML_DECL = re.compile(rb"^<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(rb"""\sencoding\s*=\s*(["'])([^"']*)\1""")
_MESSAGE_MAX = 160
_LIBXML2_DEFENCES = ("excessive depth", "amplification", "entity reference loop", "huge input lookup")
_NAME_MAX = 64

__all__ = ["check_fhir_xml", "hardened_parser", "parse_fhir_xml"]


def hardened_parser() -> etree.XMLParser:
    """A new parser per document (lxml parsers must not be shared between threads), configured as the
    COMPACT adapter's: no DTD, no entity resolution, no network, libxml2's size limits on."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        # Comments carry nothing the gateway reads; fhir.resources would otherwise keep them as
        # fhir_comments, and a comment splitting a value would change what is read.
        remove_comments=True,
        remove_pis=True,
    )


def _printable(name: str) -> str:
    return "".join(ch for ch in name if ch.isprintable())[:_NAME_MAX]


def _check_encoding(body: bytes) -> None:
    if body.startswith(_OTHER_BOMS):
        raise UnreadableInput("encoding is not UTF-8 (the document starts with a UTF-16/32 byte order mark)")
    start = body[len(_UTF8_BOM) :] if body.startswith(_UTF8_BOM) else body
    decl = _XML_DECL.match(start)
    if decl:
        enc = _ENCODING.search(decl.group(0))
        if enc and enc.group(2).decode("ascii", "replace").strip().lower() not in {"utf-8", "utf8"}:
            raise UnreadableInput("encoding is not UTF-8: the XML declaration names another encoding")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"encoding is not UTF-8: invalid UTF-8 at byte offset {exc.start}") from None


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    entry = exc.error_log.last_error if exc.error_log else None
    message = (entry.message if entry is not None else exc.msg) or "parse error"
    line = entry.line if entry is not None else (exc.lineno or 0)
    column = entry.column if entry is not None else 0
    message = " ".join(message.split())[:_MESSAGE_MAX]
    return f"not well-formed XML at line {line}, column {column}: {message}"


def parse_fhir_xml(body: bytes, *, max_bytes: int, max_depth: int) -> etree._Element:
    """The root element of a FHIR XML document. Raises HostileInput, UnreadableInput or InvalidInput."""
    if len(body) > max_bytes:
        raise HostileInput(f"document is {len(body)} bytes, over the {max_bytes}-byte limit")
    if not body.strip():
        raise UnreadableInput("empty body: expected a FHIR R4 resource (JSON or XML)")
    if _DECLARATIONS.search(body):
        raise HostileInput(
            "DOCTYPE or ENTITY declaration refused: FHIR XML uses no DTD and entities are never expanded"
        )
    _check_encoding(body)
    try:
        root = etree.fromstring(body, hardened_parser())
    except etree.XMLSyntaxError as exc:
        reason = _syntax_reason(exc)
        if any(sign in reason.lower() for sign in _LIBXML2_DEFENCES):
            raise HostileInput(f"refused by the XML parser's safety limits: {reason}") from None
        raise UnreadableInput(reason) from None
    except (etree.LxmlError, ValueError) as exc:
        raise UnreadableInput(f"not well-formed XML ({type(exc).__name__})") from None
    if root is None:
        raise UnreadableInput("not well-formed XML: no root element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise HostileInput("DOCTYPE declaration refused: FHIR XML uses no DTD")
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
