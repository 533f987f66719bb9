"""Reading values out of a schema-valid COMPACT document (namespace-qualified, prefix-agnostic).

The schema has already checked every value's lexical form, so these helpers only normalise what the
schema's white-space rules allow through (``xs:token`` and ``xs:boolean`` collapse white space).
"""

from __future__ import annotations

import re

from lxml import etree

NS = "urn:compact:missing-person-export:1"
ROOT = f"{{{NS}}}MissingPersonExport"
REPORT = f"{{{NS}}}MissingPersonReport"
REPORT_NUMBER = re.compile(r"^MP/[0-9]{4}/[0-9]{6}$")


def q(path: str) -> str:
    """``Subject/HomeAddress`` → the namespace-qualified ElementPath lxml needs."""
    return "/".join(f"{{{NS}}}{part}" for part in path.split("/"))


def find(element: etree._Element, path: str) -> etree._Element | None:
    return element.find(q(path))


def findall(element: etree._Element, path: str) -> list[etree._Element]:
    found: list[etree._Element] = element.findall(q(path))
    return found


def text(element: etree._Element | None, path: str | None = None) -> str | None:
    """The element's text, or None when the element is absent (never an empty string)."""
    node = element if path is None or element is None else find(element, path)
    if node is None or node.text is None:
        return None
    return str(node.text)


def token(element: etree._Element | None, path: str | None = None) -> str | None:
    """An ``xs:token``: white space collapsed, as the schema compares it."""
    value = text(element, path)
    if value is None:
        return None
    collapsed = " ".join(value.split())
    return collapsed or None


def attr(element: etree._Element | None, name: str) -> str | None:
    if element is None:
        return None
    value = element.get(name)
    if value is None:
        return None
    collapsed = " ".join(value.split())
    return collapsed or None


def boolean(element: etree._Element, path: str) -> bool | None:
    value = token(element, path)
    if value is None:
        return None
    return value in ("true", "1")


def integer(value: str | None) -> int | None:
    """An ``xs:positiveInteger`` (``+01`` and `` 2 `` are valid lexical forms)."""
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def report_number(report: etree._Element) -> str | None:
    """The report number if it has the schema's form; a malformed one is never echoed in a reason
    (it could hold anything, a child's name included)."""
    value = text(report, "ReportNumber")
    if value is not None and REPORT_NUMBER.match(value):
        return value
    return None


def label_of(report: etree._Element, index: int, total: int) -> tuple[str, str | None]:
    """How a reason names a report: its number when it has a valid one, else its position."""
    number = report_number(report)
    if number:
        return f"report {number}", number
    return f"report {index} of {total} (no valid ReportNumber)", None


def assessments(report: etree._Element) -> list[tuple[int, etree._Element]]:
    """The risk assessments in ``sequence`` order, lowest first (document order does not matter)."""
    found = []
    for element in findall(report, "RiskAssessments/RiskAssessment"):
        sequence = integer(element.get("sequence"))
        if sequence is not None:
            found.append((sequence, element))
    return sorted(found, key=lambda pair: pair[0])
