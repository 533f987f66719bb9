"""Hardened XML reading shared by every adapter that takes XML (COMPACT, Liquidlogic forms, FHIR XML).

None of these formats uses a DTD, so any DOCTYPE or ENTITY declaration is refused as hostile before the
parser sees it, and the parser is configured so that even a declaration that slipped through would
never be expanded or fetched: entity resolution, DTD loading and network access are off and libxml2's
"huge tree" limits stay on. The tree is checked again after parsing (docinfo) so the two layers do not
depend on each other. One implementation, so a fix reaches every format at once.

Reasons never quote document content: they name the byte offset, line and column, or libxml2's
description of a structural fault (which names elements, never text).
"""

from __future__ import annotations

import re

from lxml import etree

from adapters.base import HostileInput, UnreadableInput

# XML is case-sensitive, so ``<!doctype`` is not a declaration; it is refused all the same because
# no format here needs the characters and a lenient parser somewhere downstream might accept it.
DECLARATIONS = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")
_XML_DECL = re.compile(rb"^<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(rb"""\sencoding\s*=\s*(["'])([^"']*)\1""")
_UTF8_NAMES = {"utf-8", "utf8"}
_MESSAGE_MAX = 160
# libxml2's own defences; reaching one means the input was built to exhaust a parser.
_LIBXML2_DEFENCES = ("excessive depth", "amplification", "entity reference loop", "huge input lookup")


def hardened_parser() -> etree.XMLParser:
    """A new parser per document: lxml parser objects must not be shared between threads."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        # Comments and processing instructions carry nothing these formats need; removing them keeps
        # an element's text in one piece (``Dun<!-- -->more`` would otherwise read as ``Dun``).
        remove_comments=True,
        remove_pis=True,
    )


def check_encoding(body: bytes, must_be_utf8: str | None = None) -> None:
    if body.startswith(_OTHER_BOMS):
        raise UnreadableInput("encoding is not UTF-8 (the document starts with a UTF-16/32 byte order mark)")
    start = body[len(_UTF8_BOM) :] if body.startswith(_UTF8_BOM) else body
    decl = _XML_DECL.match(start)
    if decl:
        enc = _ENCODING.search(decl.group(0))
        if enc and enc.group(2).decode("ascii", "replace").strip().lower() not in _UTF8_NAMES:
            reason = "encoding is not UTF-8: the XML declaration names another encoding"
            raise UnreadableInput(f"{reason}; {must_be_utf8}" if must_be_utf8 else reason)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"encoding is not UTF-8: invalid UTF-8 at byte offset {exc.start}") from None


def syntax_reason(exc: etree.XMLSyntaxError) -> str:
    entry = exc.error_log.last_error if exc.error_log else None
    message = (entry.message if entry is not None else exc.msg) or "parse error"
    line = entry.line if entry is not None else (exc.lineno or 0)
    column = entry.column if entry is not None else 0
    message = " ".join(message.split())[:_MESSAGE_MAX]
    return f"not well-formed XML at line {line}, column {column}: {message}"


def check_depth(root: etree._Element, max_depth: int) -> None:
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > max_depth:
            raise HostileInput(f"elements nested deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in element)


def parse_hardened(
    body: bytes,
    *,
    max_bytes: int,
    max_depth: int | None,
    expected: str,
    fmt: str,
    must_be_utf8: str | None = None,
) -> etree._Element:
    """The document's root element, or HostileInput / UnreadableInput naming what is wrong.

    ``expected`` names what an empty body should have been ("a COMPACT export (XML)"), ``fmt`` the
    format in refusals ("the COMPACT export"); ``max_depth`` None leaves the depth check to the caller."""
    if len(body) > max_bytes:
        raise HostileInput(f"document is {len(body)} bytes, over the {max_bytes}-byte limit")
    if not body.strip():
        raise UnreadableInput(f"empty body: expected {expected}")
    if DECLARATIONS.search(body):
        raise HostileInput(
            f"DOCTYPE or ENTITY declaration refused: {fmt} uses no DTD and entities are never expanded"
        )
    check_encoding(body, must_be_utf8)
    try:
        root = etree.fromstring(body, hardened_parser())
    except etree.XMLSyntaxError as exc:
        reason = syntax_reason(exc)
        if any(sign in reason.lower() for sign in _LIBXML2_DEFENCES):
            raise HostileInput(f"refused by the XML parser's safety limits: {reason}") from None
        raise UnreadableInput(reason) from None
    except (etree.LxmlError, ValueError) as exc:
        raise UnreadableInput(f"not well-formed XML ({type(exc).__name__})") from None
    if root is None:
        raise UnreadableInput("not well-formed XML: no root element")
    docinfo = root.getroottree().docinfo
    # Second layer: the byte scan above should make this unreachable.
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise HostileInput(f"DOCTYPE declaration refused: {fmt} uses no DTD")
    if max_depth is not None:
        check_depth(root, max_depth)
    return root
