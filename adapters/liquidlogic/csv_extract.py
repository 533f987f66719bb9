"""The CSV delta extract of FACT_MISSING_PERSON (README §2, §7).

UTF-8 with or without a BOM, CRLF or LF, RFC 4180 quoting, columns found by header name. A file is
accepted or rejected as a whole; a rejection names the line and column, never a value, because a value
in the wrong place may be a child's name.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from adapters.base import InvalidInput, UnreadableInput
from adapters.common.ids import is_plain_id
from adapters.common.quality import issue
from adapters.common.times import LONDON, to_utc
from adapters.liquidlogic import codes
from adapters.liquidlogic.record import LcsRecord

REQUIRED_COLUMNS = (
    "DELTA_ACTION",
    "FACT_MISSING_PERSON_ID",
    "DIM_PERSON_ID",
    "FORENAME",
    "SURNAME",
    "BIRTH_DTTM",
    "START_DTTM",
    "MISSING_STATUS",
    "MODIFIED_DTTM",
)
# Columns whose content is a code, a date or an id. SSMS "Save Results As" writes a NULL as the text
# NULL; in these columns that can only mean NULL, so it is read as one instead of failing the file.
_NULL_AS_TEXT_OK = frozenset(
    {
        "DELTA_ACTION",
        "FACT_MISSING_PERSON_ID",
        "DIM_PERSON_ID",
        "BIRTH_DTTM",
        "GENDER_CODE",
        "NHS_NUMBER",
        "UPN",
        "LEGAL_STATUS",
        "CLA_FLAG",
        "CP_FLAG",
        "RESPONSIBLE_LA_CODE",
        "PLACEMENT_LA_CODE",
        "PLACEMENT_TYPE",
        "START_DTTM",
        "END_DTTM",
        "MISSING_STATUS",
        "LOCATION_MISSING_FROM",
        "TIME_MISSING",
        "DURATION_OF_TIME_MISSING",
        "POLICE_REFERENCE",
        "RISK_LEVEL",
        "RISK_FACTORS",
        "RETURN_INTERVIEW_OFFERED",
        "RETURN_INTERVIEW_ACCEPTED",
        "RHI_OFFERED_DTTM",
        "RHI_COMPLETED_DTTM",
        "DIM_LOOKUP_ICS_MISSING_END_REASON_CODE",
        "MODIFIED_DTTM",
    }
)
_DTTM = re.compile(r"^(\d{2})/(\d{2})/(\d{4}) (\d{2}):(\d{2})(?::(\d{2}))?$")
_HHMM = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2}))?$")
_UTF8_BOM = "\ufeff"


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str | None]


def decode(body: bytes) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"CSV is not UTF-8 (invalid byte at offset {exc.start})") from None
    return text[1:] if text.startswith(_UTF8_BOM) else text


@dataclass(frozen=True)
class Table:
    """The file as written: the header and each data row's fields, with the line each row starts on."""

    header: list[str]  # normalised names (trimmed, upper case)
    raw_header: list[str]
    rows: list[tuple[int, list[str]]]
    header_line: int


def read_table(body: bytes) -> Table:
    """Header and data rows, structure checked (README §7 points 1 and 2); blank lines are skipped."""
    reader = csv.reader(io.StringIO(decode(body), newline=""), strict=True)
    records = _records(reader)
    header_line, raw_header = next(records, (0, None))
    if raw_header is None:
        raise InvalidInput("CSV has no header row")
    header = [h.strip().upper() for h in raw_header]
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise InvalidInput(f"line {header_line}: column {name} appears twice in the header")
        seen.add(name)
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        raise InvalidInput(
            f"line {header_line}: no header row, or the header lacks required column(s) {', '.join(missing)}"
        )
    rows = []
    for line, raw in records:
        if len(raw) != len(header):
            raise InvalidInput(f"line {line}: {len(raw)} fields but the header has {len(header)}")
        rows.append((line, raw))
    return Table(header, raw_header, rows, header_line)


def to_row(table: Table, line: int, raw: list[str]) -> Row:
    values: dict[str, str | None] = {}
    for name, value in zip(table.header, raw, strict=True):
        if not name:
            continue
        value = value.strip()
        values[name] = None if not value or (value == "NULL" and name in _NULL_AS_TEXT_OK) else value
    return Row(line, values)


def read_rows(body: bytes) -> list[Row]:
    table = read_table(body)
    return [to_row(table, line, raw) for line, raw in table.rows]


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    line = 1
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidInput(f"line {reader.line_num}: broken CSV quoting or field ({exc})") from None
        start, line = line, reader.line_num + 1
        if raw and any(field.strip() for field in raw):
            yield start, raw


class _RowReader:
    """Typed values of one row, with the line number in every rejection."""

    def __init__(self, row: Row):
        self.row = row
        self.quality: list[dict[str, Any]] = []

    def fail(self, column: str, problem: str) -> InvalidInput:
        record_id = self.row.values.get("FACT_MISSING_PERSON_ID")
        return InvalidInput(f"line {self.row.line}, column {column}: {problem}", record_id=record_id)

    def text(self, column: str, *, required: bool = False) -> str | None:
        value = self.row.values.get(column)
        if value is None and required:
            raise self.fail(column, "required value is empty")
        return value

    def ident(self, column: str) -> str:
        value = self.text(column, required=True)
        assert value is not None
        if not is_plain_id(value):
            raise self.fail(column, "not an id (too long or control characters)")
        return value

    def code(self, column: str, allowed: Any, *, required: bool = False) -> str | None:
        value = self.text(column, required=required)
        if value is not None and value not in allowed:
            raise self.fail(column, f"not one of {', '.join(sorted(allowed))}")
        return value

    def flag(self, column: str) -> bool | None:
        value = self.code(column, codes.FLAGS)
        return None if value is None else codes.FLAGS[value]

    def dttm(self, column: str, *, required: bool = False) -> datetime | None:
        value = self.text(column, required=required)
        if value is None:
            return None
        match = _DTTM.match(value)
        if not match:
            raise self.fail(column, "date-time is not dd/mm/yyyy HH:MM")
        dd, mm, yyyy, hh, mi, ss = match.groups()
        try:
            local = datetime(int(yyyy), int(mm), int(dd), int(hh), int(mi), int(ss or 0))
            return to_utc(local, LONDON)
        except ValueError:
            raise self.fail(column, "date-time is not a real date and time (dd/mm/yyyy HH:MM)") from None

    def birth_date(self, column: str) -> str | None:
        """The date part of BIRTH_DTTM. The wrong shape rejects the file; the right shape with an
        impossible day is a bad date of birth, which never blocks a notice."""
        value = self.text(column, required=True)
        assert value is not None
        match = _DTTM.match(value)
        if not match:
            raise self.fail(column, "date-time is not dd/mm/yyyy HH:MM")
        dd, mm, yyyy = match.groups()[:3]
        try:
            return date(int(yyyy), int(mm), int(dd)).isoformat()
        except ValueError:
            self.quality.append(
                issue("child.date_of_birth", "date of birth is not a real calendar date", value)
            )
            return None

    def last_seen(self) -> datetime:
        """The date of START_DTTM at TIME_MISSING, local time; START_DTTM as it stands without a time."""
        start = self.text("START_DTTM", required=True)
        assert start is not None
        started = self.dttm("START_DTTM", required=True)
        assert started is not None
        clock = self.text("TIME_MISSING")
        if clock is None:
            return started
        match = _HHMM.match(clock)
        if not match:
            raise self.fail("TIME_MISSING", "time is not HH:MM")
        hh, mi, ss = match.groups()
        dd, mm, yyyy = _DTTM.match(start).groups()[:3]  # type: ignore[union-attr]  # checked by dttm()
        try:
            local = datetime.combine(date(int(yyyy), int(mm), int(dd)), time(int(hh), int(mi), int(ss or 0)))
        except ValueError:
            raise self.fail("TIME_MISSING", "time is not a real time (HH:MM)") from None
        return to_utc(local, LONDON)

    def risk_factors(self) -> list[str]:
        value = self.text("RISK_FACTORS")
        if value is None:
            return []
        factors = [f.strip() for f in value.split(";") if f.strip()]
        for factor in factors:
            if factor not in codes.RISK_FACTORS:
                raise self.fail("RISK_FACTORS", "a risk factor is not in the code list")
        return sorted({f.lower() for f in factors})


def read_record(row: Row) -> LcsRecord:
    """One data row, validated (README §7), as an :class:`LcsRecord`."""
    r = _RowReader(row)
    delta_action = r.code("DELTA_ACTION", codes.DELTA_ACTIONS, required=True)
    record_id = r.ident("FACT_MISSING_PERSON_ID")
    person_id = r.ident("DIM_PERSON_ID")
    forename = r.text("FORENAME", required=True)
    surname = r.text("SURNAME", required=True)
    dob = r.birth_date("BIRTH_DTTM")
    gender = r.code("GENDER_CODE", codes.GENDER)
    status = r.code("MISSING_STATUS", codes.MISSING_STATUS, required=True)
    location = r.code("LOCATION_MISSING_FROM", codes.LOCATION_MISSING_FROM)
    risk = r.code("RISK_LEVEL", codes.RISK_LEVEL)
    end_reason = r.code("DIM_LOOKUP_ICS_MISSING_END_REASON_CODE", codes.END_REASONS)
    changed_at = r.dttm("MODIFIED_DTTM", required=True)
    last_seen = r.last_seen()
    assert record_id and person_id and status and changed_at
    return LcsRecord(
        record_id=record_id,
        person_id=person_id,
        changed_at=changed_at,
        forename=forename,
        surname=surname,
        date_of_birth=dob,
        gender=codes.GENDER[gender] if gender else None,
        nhs_number=r.text("NHS_NUMBER"),
        upn=r.text("UPN"),
        legal_status_code=r.text("LEGAL_STATUS"),
        looked_after=r.flag("CLA_FLAG"),
        cp_plan=r.flag("CP_FLAG"),
        responsible_la=r.text("RESPONSIBLE_LA_CODE"),
        placement_la=r.text("PLACEMENT_LA_CODE"),
        placement_type_code=r.text("PLACEMENT_TYPE"),
        last_seen_at=last_seen,
        ended_at=r.dttm("END_DTTM"),
        category=codes.MISSING_STATUS[status],
        missing_from=codes.LOCATION_MISSING_FROM[location] if location else None,
        police_reference=r.text("POLICE_REFERENCE"),
        risk_level=codes.RISK_LEVEL[risk] if risk else None,
        risk_factors=r.risk_factors(),
        ri_offered=r.code("RETURN_INTERVIEW_OFFERED", codes.YES_NO_NA),
        ri_accepted=r.code("RETURN_INTERVIEW_ACCEPTED", codes.YES_NO_NA),
        ri_offered_at=r.dttm("RHI_OFFERED_DTTM"),
        ri_completed_at=r.dttm("RHI_COMPLETED_DTTM"),
        ri_provider=r.text("RHI_PROVIDER"),
        end_reason=end_reason,
        found_location=r.text("FOUND_LOCATION"),
        allocated_worker=r.text("ALLOCATED_WORKER"),
        team=r.text("TEAM"),
        delta_action=delta_action,
        quality=r.quality,
    )


def read_extract(body: bytes) -> list[LcsRecord]:
    return [read_record(row) for row in read_rows(body)]
