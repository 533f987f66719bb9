"""COMPACT notifications delivered by secure e-mail (README §6): find the XML exports in a MIME message.

An attachment is an export when its Content-Type is ``application/xml`` or ``text/xml`` or its filename
ends in ``.xml`` (any case): some relays relabel attachments ``application/octet-stream``. Any transfer
encoding is decoded by the stdlib ``email`` package. The text part, the subject and the ``X-Compact-*``
headers are informative only and are never read. The ``Message-ID`` is available for audit through
:func:`message_id`; the event id comes from ``Change/ChangeId`` inside the export.

(Named ``mime`` rather than ``email`` so that it can never shadow the standard library package.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser

from adapters.base import AdapterError, HostileInput, RawInput, UnreadableInput

XML_TYPES = frozenset({"application/xml", "text/xml"})
_SNIFF_BYTES = 64 * 1024
_HEADER_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+:")
_MESSAGE_ID_MAX = 998  # RFC 5322 line length limit


@dataclass(frozen=True)
class Unwrapped:
    message_id: str | None
    exports: list[bytes] = field(default_factory=list)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _looks_like_multipart_mail(body: bytes) -> bool:
    head = body[:_SNIFF_BYTES]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return False  # markup is XML (or garbage the XML parser will name), never a mail
    if not _HEADER_LINE.match(head):
        return False
    try:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(head)
        return headers.get_content_maintype() == "multipart" and headers.get_boundary() is not None
    except Exception:  # the stdlib email package raises assorted errors on hostile headers
        return False


def is_email(raw: RawInput) -> bool:
    """Declared as a mail (``message/rfc822``, a ``.eml`` file) or, undeclared, a multipart MIME body."""
    media_type = _media_type(raw.content_type)
    if media_type == "message/rfc822":
        return True
    if raw.filename and raw.filename.strip().lower().endswith(".eml"):
        return True
    if media_type in XML_TYPES:
        return False
    return _looks_like_multipart_mail(raw.body)


def _clean_message_id(value: object) -> str | None:
    if value is None:
        return None
    text = "".join(ch for ch in str(value) if ch.isprintable()).strip()
    return text[:_MESSAGE_ID_MAX] or None


def message_id(body: bytes) -> str | None:
    """The e-mail's Message-ID, for audit. None when absent or unreadable; never raises."""
    try:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(body[:_SNIFF_BYTES])
        return _clean_message_id(headers.get("Message-ID"))
    except Exception:  # audit metadata must never turn a readable notice into a failure
        return None


def _is_export(part: Message) -> bool:
    if part.get_content_type() in XML_TYPES:
        return True
    filename = part.get_filename()
    return bool(filename) and str(filename).strip().lower().endswith(".xml")


def unwrap(body: bytes, *, max_bytes: int, max_attachments: int) -> Unwrapped:
    """Every COMPACT export attached to the message, decoded, in message order. Raises AdapterError."""
    if len(body) > max_bytes:
        raise HostileInput(f"e-mail is {len(body)} bytes, over the {max_bytes}-byte limit")
    try:
        message = BytesParser(policy=policy.default).parsebytes(body)
        exports: list[bytes] = []
        for part in message.walk():
            if part.is_multipart() or not _is_export(part):
                continue
            if len(exports) >= max_attachments:
                raise HostileInput(f"more than {max_attachments} XML attachments in one e-mail")
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                exports.append(payload)
        return Unwrapped(_clean_message_id(message.get("Message-ID")), exports)
    except AdapterError:
        raise
    except Exception as exc:
        # The stdlib email package is lenient but not crash-free on hostile input (header parser
        # IndexErrors, RecursionError on deep nesting): any such failure is an unreadable message.
        raise UnreadableInput(f"not a readable MIME message ({type(exc).__name__})") from None
