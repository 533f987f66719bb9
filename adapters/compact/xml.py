"""Hardened XML parsing: bytes from a police force's export job → an lxml element, or a refusal
(the shared reader in adapters/common/xml.py, with COMPACT's limits and wording).

The COMPACT export uses no DTD, so any DOCTYPE or ENTITY declaration is refused as hostile before the
parser sees it (README §7.2), and the parser is configured so that even a declaration that slipped
through would never be expanded or fetched: entity resolution, DTD loading and network access are off
and libxml2's "huge tree" limits stay on. The tree is checked again after parsing (docinfo) so the two
layers do not depend on each other.

Reasons never quote document content: they name the byte offset, line and column, or libxml2's
description of a structural fault (which names elements, never text).
"""

from __future__ import annotations

from lxml import etree

from adapters.common.xml import hardened_parser, parse_hardened

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
"""Default size limit; a deployment may change it in its mapping file (``max_document_bytes``)."""
MAX_DEPTH = 32
"""Default nesting limit. A valid export nests six levels deep; 32 leaves room and still stops a
nesting bomb long before libxml2's own limit of 256."""


def parse_xml(
    body: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES, max_depth: int = MAX_DEPTH
) -> etree._Element:
    """The document's root element. Raises HostileInput or UnreadableInput, nothing else."""
    return parse_hardened(
        body,
        max_bytes=max_bytes,
        max_depth=max_depth,
        expected="a COMPACT export (XML)",
        fmt="the COMPACT export",
        must_be_utf8="COMPACT exports must be UTF-8",
    )


__all__ = ["MAX_DEPTH", "MAX_DOCUMENT_BYTES", "hardened_parser", "parse_xml"]
