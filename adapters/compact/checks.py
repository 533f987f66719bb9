"""The rules of README §7 that the schema cannot express: the document as a whole, then each report.

Rejection is per document: one bad report rejects the export, because the force re-sends the corrected
export and a partly accepted delta could not be told apart from a complete one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from lxml import etree

from adapters.base import InvalidInput, WrongInstance
from adapters.compact.mapping import CompactDeployment
from adapters.compact.report import (
    NS,
    REPORT,
    ROOT,
    attr,
    find,
    findall,
    integer,
    label_of,
    report_number,
    text,
    token,
)

# Which section each change type needs (README §2, "Change types").
REQUIRED_SECTION = {
    "Found": "Found",
    "PreventionInterview": "PreventionInterview",
    "Closed": "Closure",
    "Cancelled": "Closure",
}
CANCELLATION_REASONS = frozenset({"RecordedInError", "Duplicate"})
_REPORTS_NAMED = 10


@dataclass(frozen=True)
class Report:
    element: etree._Element
    label: str
    number: str | None


def check_root(root: etree._Element) -> None:
    if root.tag != ROOT:
        qname = etree.QName(root)
        namespace = qname.namespace or "no namespace"
        local = "".join(ch for ch in qname.localname if ch.isprintable())[:64]
        raise InvalidInput(
            f"root element is {local!r} in {namespace[:100]!r}; expected MissingPersonExport in "
            f"namespace {NS}"
        )


def _numbers_suffix(reports: list[Report]) -> str:
    numbers = [r.number for r in reports if r.number]
    if not numbers:
        return ""
    shown = ", ".join(numbers[:_REPORTS_NAMED])
    more = f" and {len(numbers) - _REPORTS_NAMED} more" if len(numbers) > _REPORTS_NAMED else ""
    return f" (report{'s' if len(numbers) > 1 else ''} {shown}{more})"


def _single_number(reports: list[Report]) -> str | None:
    return reports[0].number if len(reports) == 1 else None


def check_document(root: etree._Element, deployment: CompactDeployment, instance: str) -> list[Report]:
    """The reports of a schema-valid export, after the document-level checks."""
    elements = root.findall(REPORT)
    reports = [Report(e, *label_of(e, i, len(elements))) for i, e in enumerate(elements, 1)]
    header = find(root, "Header")
    force = attr(find(header, "Force") if header is not None else None, "code")
    if force != deployment.force_code:
        raise WrongInstance(
            f"Header/Force/@code is {force!r} but instance {instance!r} is {deployment.force_name} "
            f"({deployment.force_code}){_numbers_suffix(reports)}",
            record_id=_single_number(reports),
        )
    count = integer(text(header, "RecordCount") if header is not None else None)
    if count != len(reports):
        raise InvalidInput(
            f"Header/RecordCount is {count} but the document holds {len(reports)} "
            f"MissingPersonReport element{'s' if len(reports) != 1 else ''}{_numbers_suffix(reports)}",
            record_id=_single_number(reports),
        )
    for report in reports:
        check_report(report)
    return _without_repeats(reports)


def check_report(report: Report) -> None:
    element, label = report.element, report.label
    sequences = Counter(
        integer(a.get("sequence")) for a in findall(element, "RiskAssessments/RiskAssessment")
    )
    repeated = sorted(s for s, n in sequences.items() if n > 1 and s is not None)
    if repeated:
        raise InvalidInput(
            f"{label}: two RiskAssessment elements have sequence {repeated[0]}; the current grade "
            "cannot be told",
            record_id=report.number,
        )
    change = token(element, "Change/ChangeType")
    section = REQUIRED_SECTION.get(change or "")
    if section and find(element, section) is None:
        raise InvalidInput(
            f"{label}: Change/ChangeType is {change} but the report has no {section} section",
            record_id=report.number,
        )
    if change == "Cancelled":
        status = token(element, "Status")
        if status != "Cancelled":
            raise InvalidInput(
                f"{label}: Change/ChangeType is Cancelled but Status is {status}, not Cancelled",
                record_id=report.number,
            )
        reason = token(element, "Closure/Reason")
        if reason not in CANCELLATION_REASONS:
            # A cancellation stands down every notice about the child: only the two reasons the
            # format allows for "created in error" may do that.
            raise InvalidInput(
                f"{label}: Change/ChangeType is Cancelled but Closure/Reason is {reason}, not "
                "RecordedInError or Duplicate",
                record_id=report.number,
            )


def _without_repeats(reports: list[Report]) -> list[Report]:
    """The same change twice in one export: an exact copy is kept once; two different versions under
    one change id cannot both be right, so the export is refused."""
    seen: dict[tuple[str | None, str | None], bytes] = {}
    unique: list[Report] = []
    for report in reports:
        key = (report_number(report.element), token(report.element, "Change/ChangeId"))
        canonical = etree.tostring(report.element, method="c14n")
        if key in seen:
            if seen[key] != canonical:
                raise InvalidInput(
                    f"{report.label}: appears twice with Change/ChangeId {(key[1] or '')[:64]} but "
                    "different content",
                    record_id=report.number,
                )
            continue
        seen[key] = canonical
        unique.append(report)
    return unique
