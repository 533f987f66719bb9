"""The DfE SSDA903 "Missing" table for looked-after children, and the DfE validation rules on it.

Columns (SSDA903 return): CHILD (the LA's child id), DOB, MISSING (``M`` missing, ``A`` away from
placement without authorisation), MIS_START, MIS_END (dates dd/mm/YYYY; MIS_END blank while open).
One row per episode of a looked-after child whose responsible authority is the exporting LA and whose
absence overlaps the period. Episodes cancelled as recorded in error or merged away are left out;
``unauthorised_absence`` (not a 903 category) is exported as its own type so rule 1006 reports it
rather than the row silently vanishing.

Checked (codes and messages from the DfE 903 validator):
- 574: a new missing/away period cannot start while the previous one is open, and periods must not overlap;
- 567: MIS_END is before MIS_START;
- 586: MIS_START is before the child's date of birth;
- 1006: MISSING must be M or A.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.model import Episode
from gateway.model.types import LONDON
from gateway.store import tables

COLUMNS = ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END")
_TYPE = {"missing": "M", "away_without_authorisation": "A"}
RULES = {
    "574": "A new missing/away from placement without authorisation period cannot start when the previous "
    "missing/away from placement without authorisation period is still open. Missing/away from placement "
    "without authorisation periods should also not overlap.",
    "567": "The date that the missing episode or episode that the child was away from placement without "
    "authorisation ended is before the date that it started.",
    "586": "Dates of missing periods are before child's date of birth.",
    "1006": "Missing type invalid: MISSING must be M (missing) or A (away from placement without "
    "authorisation).",
}


@dataclass(frozen=True)
class Row:
    episode_id: str
    child: str
    dob: date | None
    missing: str
    start: date
    end: date | None

    def cells(self) -> list[str]:
        fmt = lambda d: d.strftime("%d/%m/%Y") if d else ""  # noqa: E731
        return [self.child, fmt(self.dob), self.missing, fmt(self.start), fmt(self.end)]


@dataclass(frozen=True)
class Violation:
    rule: str
    row: int  # 1-based data row in the output
    episode_id: str
    message: str


@dataclass
class Export:
    rows: list[Row] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (episode_id, why)

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(r.cells() for r in self.rows)
        return out.getvalue()


def _local_date(value: object) -> date | None:
    from datetime import datetime

    if value is None:
        return None
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return dt.astimezone(LONDON).date()


def export(session: Session, la_code: str, start: date, end: date) -> Export:
    result = Export()
    episodes = session.scalars(
        select(tables.Episode).where(
            tables.Episode.merged_into.is_(None),
            tables.Episode.status != "cancelled",
            tables.Episode.responsible_la == la_code,
        )
    ).all()
    for row in episodes:
        ep = Episode.model_validate(row.state)
        eid = str(ep.episode_id)
        if not (ep.care and ep.care.looked_after):
            continue
        child_id = next((i.id for i in ep.child.ids.la_ids if i.la_code == la_code), None)
        mis_start = _local_date(ep.episode.last_seen_at or ep.episode.reported_at or ep.opened_at)
        mis_end = _local_date(ep.found_at or ep.episode.found_at)
        if mis_start is None or mis_start > end or (mis_end is not None and mis_end < start):
            continue
        if child_id is None:
            result.skipped.append((eid, f"no child id for LA {la_code} (CHILD is required)"))
            continue
        category = ep.episode.category.value if ep.episode.category else "missing"
        result.rows.append(
            Row(eid, child_id, ep.child.date_of_birth, _TYPE.get(category, category), mis_start, mis_end)
        )
    result.rows.sort(key=lambda r: (r.child, r.start, r.end or date.max))
    result.violations = check(result.rows)
    return result


def check(rows: list[Row]) -> list[Violation]:
    found: list[Violation] = []
    for n, r in enumerate(rows, start=1):
        if r.missing not in ("M", "A"):
            found.append(Violation("1006", n, r.episode_id, RULES["1006"]))
        if r.end is not None and r.end < r.start:
            found.append(Violation("567", n, r.episode_id, RULES["567"]))
        if r.dob is not None and r.start < r.dob:
            found.append(Violation("586", n, r.episode_id, RULES["586"]))
    # 574, per child in start order: the previous period must have ended before this one starts.
    for n, r in enumerate(rows, start=1):
        if n == 1:
            continue
        prev = rows[n - 2]
        if prev.child != r.child:
            continue
        if prev.end is None or prev.end > r.start:
            found.append(Violation("574", n, r.episode_id, RULES["574"]))
    return sorted(found, key=lambda v: (v.row, v.rule))
