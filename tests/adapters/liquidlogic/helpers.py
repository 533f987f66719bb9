"""Liquidlogic test inputs built from the shared specimens, changed one cell or element at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from tests.adapters.contract import SPECIMENS

LCS = SPECIMENS / "liquidlogic"
DELTA = "01-daily-delta-2026-03-06.csv"
ENDED = "02-episodes-ended-2026-03-09.csv"
ABSENT = "03-absent-away-without-authorisation-2026-03-11.csv"
FORM = "04-form-finalised-missing-absent.xml"

Rows = list[dict[str, str]]


def read(name: str) -> tuple[list[str], Rows]:
    text = (LCS / name).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or []), list(reader)


def write(header: list[str], rows: Rows, *, line_end: str = "\n") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=header, lineterminator=line_end, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def csv_variant(name: str, change: Callable[[list[str], Rows], object]) -> bytes:
    header, rows = read(name)
    change(header, rows)
    return write(header, rows)


def cell(row: int, column: str, value: str) -> Callable[[list[str], Rows], None]:
    def change(_: list[str], rows: Rows) -> None:
        rows[row][column] = value

    return change


def without_column(column: str) -> Callable[[list[str], Rows], None]:
    def change(header: list[str], rows: Rows) -> None:
        header.remove(column)
        for r in rows:
            del r[column]

    return change


def xml_variant(old: bytes, new: bytes) -> bytes:
    body = (LCS / FORM).read_bytes()
    assert old in body, old
    return body.replace(old, new)
