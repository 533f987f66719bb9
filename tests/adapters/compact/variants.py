"""Hostile and invalid COMPACT inputs, built by editing the shared specimens' text.

Every edit asserts that the text it replaces is there, so a change to a specimen breaks the test that
depends on it loudly instead of turning it into a test of nothing.
"""

from __future__ import annotations

import base64
import re

from tests.adapters.contract import SPECIMENS

COMPACT = SPECIMENS / "compact"
NEW_REPORT = "01-new-report-medium-risk-home.xml"
PLACED = "02-new-report-looked-after-placed-out-of-area.xml"
RISK_REVIEW = "03-risk-upgraded-to-high.xml"
FOUND = "04-found.xml"
INTERVIEW = "05-prevention-interview-completed.xml"
CANCELLED = "06-cancelled-recorded-in-error.xml"
DELTA = "07-delta-export-three-reports.xml"
EMAIL = "08-found-notification-secure-email.eml"
XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'


def text(name: str) -> str:
    return (COMPACT / name).read_text(encoding="utf-8")


def edit(name: str, *pairs: tuple[str, str], count: int = 1) -> bytes:
    """The specimen with each ``(old, new)`` replaced (``count`` occurrences, all if 0)."""
    body = text(name)
    for old, new in pairs:
        assert old in body, f"{name}: {old!r} not found"
        body = body.replace(old, new) if count == 0 else body.replace(old, new, count)
    return body.encode("utf-8")


def drop_section(name: str, tag: str) -> bytes:
    """The specimen without its ``<tag>...</tag>`` section."""
    body = text(name)
    pattern = re.compile(rf"\s*<{tag}>.*?</{tag}>", re.DOTALL)
    assert pattern.search(body), f"{name}: no <{tag}> section"
    return pattern.sub("", body, count=1).encode("utf-8")


def with_prolog(name: str, prolog: str) -> bytes:
    """The specimen with ``prolog`` (a DOCTYPE) inserted after the XML declaration."""
    body = text(name)
    assert body.startswith(XML_DECL)
    return (XML_DECL + prolog + "\n" + body[len(XML_DECL) :]).encode("utf-8")


def xxe(path: str) -> bytes:
    return with_prolog(
        NEW_REPORT, f'<!DOCTYPE MissingPersonExport [<!ENTITY xxe SYSTEM "file://{path}">]>'
    ).replace(b"<Surname>Dunmore</Surname>", b"<Surname>&xxe;</Surname>")


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    doctype = "<!DOCTYPE MissingPersonExport [" + "".join(entities) + "]>"
    return with_prolog(NEW_REPORT, doctype).replace(
        b"<Surname>Dunmore</Surname>", b"<Surname>&lol9;</Surname>"
    )


def email_xml_part() -> bytes:
    """The COMPACT export attached to specimen 08, decoded."""
    body = text(EMAIL)
    encoded = body.split("Content-Disposition: attachment;", 1)[1].split("\n\n", 1)[1]
    encoded = encoded.split("--=_compact_", 1)[0]
    return base64.b64decode("".join(encoded.split()))


def email_with_attachments(
    parts: list[tuple[str, str, bytes]],
    *,
    encoding: str = "base64",
    message_id: str | None = "<t-1@test.example>",
) -> bytes:
    """A multipart/mixed message: a text part, then each ``(content_type, filename, payload)``."""
    boundary = "=_test_boundary_42"
    lines = [
        "From: COMPACT Notifications <compact@police.example>",
        "To: missing@council.example",
        "Subject: COMPACT test",
        *([f"Message-ID: {message_id}"] if message_id else []),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
        "",
        f"--{boundary}",
        'Content-Type: text/plain; charset="utf-8"',
        "",
        "Automated notification.",
    ]
    for content_type, filename, payload in parts:
        lines += [f"--{boundary}", f"Content-Type: {content_type}"]
        if filename:
            lines.append(f'Content-Disposition: attachment; filename="{filename}"')
        if encoding == "base64":
            lines += ["Content-Transfer-Encoding: base64", "", base64.encodebytes(payload).decode("ascii")]
        else:
            import quopri

            lines += [
                "Content-Transfer-Encoding: quoted-printable",
                "",
                quopri.encodestring(payload).decode(),
            ]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode("ascii")
