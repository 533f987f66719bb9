"""The file-drop watermark: a re-read file or an overlapping delta creates nothing twice, and nothing
is ever lost to it (README "Watermark")."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.base import RawInput
from adapters.liquidlogic.watermark import (
    LiquidlogicWatermark,
    commit_watermark,
    default_state_path,
    filter_new_rows,
)
from adapters.registry import get_adapter
from gateway.model import MissingEpisodeEvent
from tests.adapters.contract import MAPPINGS
from tests.adapters.liquidlogic.helpers import DELTA, ENDED, FORM, LCS, Rows, csv_variant, read, write

INSTANCE = "stoke-on-trent-liquidlogic"


def parse(body: bytes) -> list[MissingEpisodeEvent]:
    adapter = get_adapter("liquidlogic", MAPPINGS)
    return adapter.parse(
        RawInput(body=body, instance=INSTANCE, received_at=datetime(2026, 3, 12, tzinfo=UTC))
    )


def deliver(body: bytes, state: Path) -> list[MissingEpisodeEvent]:
    """What the watcher does with one file: filter, ingest, then commit."""
    fresh = filter_new_rows(body, state, instance=INSTANCE)
    events = parse(fresh)
    commit_watermark(fresh, state, instance=INSTANCE)
    return events


def rows_of(name: str, *indexes: int) -> bytes:
    header, rows = read(name)
    return write(header, [rows[i] for i in indexes])


def test_rereading_a_file_creates_nothing(tmp_path: Path) -> None:
    state = default_state_path(tmp_path)
    first = deliver((LCS / DELTA).read_bytes(), state)
    assert len(first) == 4
    assert deliver((LCS / DELTA).read_bytes(), state) == []
    # The same file written by another tool (BOM, CRLF) is the same rows.
    windows = b"\xef\xbb\xbf" + (LCS / DELTA).read_bytes().replace(b"\n", b"\r\n")
    assert deliver(windows, state) == []


def test_an_overlapping_delta_gives_only_the_new_rows_with_the_same_keys(tmp_path: Path) -> None:
    state = default_state_path(tmp_path)
    monday = deliver(rows_of(DELTA, 0, 1, 2), state)
    tuesday_file = rows_of(DELTA, 1, 2, 3)
    tuesday = deliver(tuesday_file, state)
    assert [e.source.event_id for e in tuesday] == ["7730145@2026-03-06T22:05:00Z"]
    # Read directly (no watermark), the overlap has exactly the keys Monday already delivered.
    assert [e.idempotency_key for e in parse(tuesday_file)][:2] == [e.idempotency_key for e in monday][1:]


def test_rows_are_remembered_only_after_commit(tmp_path: Path) -> None:
    state = default_state_path(tmp_path)
    body = (LCS / DELTA).read_bytes()
    fresh = filter_new_rows(body, state, instance=INSTANCE)
    # Ingest failed (broker down, crash): no commit, so the next look delivers the rows again.
    assert filter_new_rows(body, state, instance=INSTANCE) == fresh
    assert len(parse(fresh)) == 4


def test_a_late_row_older_than_the_high_water_mark_is_still_delivered(tmp_path: Path) -> None:
    state = default_state_path(tmp_path)
    deliver(rows_of(ENDED, 0), state)  # high water 09/03/2026 09:12

    def late(_: list[str], rows: Rows) -> None:
        del rows[1:]
        rows[0].update(FACT_MISSING_PERSON_ID="7730999", MODIFIED_DTTM="07/03/2026 08:00")

    events = deliver(csv_variant(DELTA, late), state)
    assert [e.source.record_id for e in events] == ["7730999"]


def test_a_row_changed_in_the_same_minute_is_delivered(tmp_path: Path) -> None:
    state = default_state_path(tmp_path)
    deliver(rows_of(DELTA, 2), state)  # INSERT at 21:10

    def same_minute(_: list[str], rows: Rows) -> None:
        del rows[:3]
        rows[0]["MODIFIED_DTTM"] = "06/03/2026 21:10"  # UPDATE, also 21:10

    events = deliver(csv_variant(DELTA, same_minute), state)
    assert [e.event_type for e in events] == ["updated"]


def test_instances_sharing_a_folder_are_kept_apart(tmp_path: Path) -> None:
    state = default_state_path(tmp_path)
    body = (LCS / DELTA).read_bytes()
    commit_watermark(body, state, instance=INSTANCE)
    assert filter_new_rows(body, state, instance="another-liquidlogic") == filter_new_rows(
        body, tmp_path / "empty.json", instance="another-liquidlogic"
    )


def test_state_file_is_small_json_written_atomically(tmp_path: Path) -> None:
    state = default_state_path(tmp_path)
    deliver((LCS / DELTA).read_bytes(), state)
    doc = json.loads(state.read_text())
    mine = doc["instances"][INSTANCE]
    assert doc["version"] == 1
    assert mine["high_water"] == "2026-03-06T22:05:00Z"
    assert len(mine["seen"]) == 4
    assert all(key.startswith(("7729980@", "7730141@", "7730145@")) for key in mine["seen"])
    assert "Kettley" not in state.read_text()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    assert state.name.startswith(".")  # never taken for an input file


def test_a_corrupt_state_file_delivers_everything_and_is_kept_aside(tmp_path: Path) -> None:
    state = default_state_path(tmp_path)
    state.write_text("{ not json")
    assert len(deliver((LCS / DELTA).read_bytes(), state)) == 4
    assert json.loads(state.read_text())["instances"][INSTANCE]["high_water"] == "2026-03-06T22:05:00Z"
    assert [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]


def test_input_that_is_not_a_readable_delta_passes_through_untouched(tmp_path: Path) -> None:
    state = default_state_path(tmp_path)
    for body in (
        (LCS / FORM).read_bytes(),
        b"not,a\ncsv",
        csv_variant(DELTA, lambda h, r: r[1].update(GENDER_CODE="X")),
    ):
        result = LiquidlogicWatermark(state, INSTANCE).filter(body)
        assert result.passthrough and result.body == body
        commit_watermark(body, state, instance=INSTANCE)
    assert not state.exists()


def test_old_keys_are_forgotten_after_the_retention_period(tmp_path: Path) -> None:
    state = default_state_path(tmp_path)
    mark = LiquidlogicWatermark(state, INSTANCE, retention=timedelta(days=2))
    mark.commit(rows_of(DELTA, 0))  # 06/03 10:22
    mark.commit(rows_of(ENDED, 1))  # 09/03 11:30
    seen = json.loads(state.read_text())["instances"][INSTANCE]["seen"]
    assert [k.split("#")[0] for k in seen] == ["7712003@2026-03-09T11:30:00Z"]
    # Forgotten does not mean lost: an old row seen again is delivered, and its key dedupes it downstream.
    assert mark.filter(rows_of(DELTA, 0)).new_rows == 1


def test_filter_reports_what_it_did(tmp_path: Path) -> None:
    mark = LiquidlogicWatermark(default_state_path(tmp_path), INSTANCE)
    body = (LCS / DELTA).read_bytes()
    assert (mark.filter(body).new_rows, mark.filter(body).dropped_rows) == (4, 0)
    mark.commit(body)
    result = mark.filter(body)
    assert (result.new_rows, result.dropped_rows, result.passthrough) == (0, 4, False)
    assert parse(result.body) == []  # header only: a valid, empty delta


class _Outcome:
    def __init__(self, status: str):
        self.status = status


def test_the_watcher_wrapper_remembers_only_accepted_ingests(tmp_path: Path) -> None:
    from adapters.liquidlogic.watermark import watermarked

    state = default_state_path(tmp_path)
    sent: list[int] = []
    status = "rejected"

    def ingest(body: bytes, content_type: str | None, filename: str) -> _Outcome:
        sent.append(len(parse(body)))
        return _Outcome(status)

    call = watermarked(ingest, state, instance=INSTANCE)
    body = (LCS / DELTA).read_bytes()
    assert call(body, "text/csv", "delta.csv").status == "rejected"
    status = "accepted"
    call(body, "text/csv", "delta.csv")
    call(body, "text/csv", "delta-again.csv")
    assert sent == [4, 4, 0]  # rejected: nothing remembered; accepted: remembered; re-read: nothing new


def test_the_watcher_wrapper_passes_xml_through(tmp_path: Path) -> None:
    from adapters.liquidlogic.watermark import watermarked

    seen: list[bytes] = []
    call = watermarked(
        lambda b, c, f: seen.append(b) or _Outcome("accepted"),
        default_state_path(tmp_path),
        instance=INSTANCE,
    )
    call((LCS / FORM).read_bytes(), "application/xml", "form.xml")
    assert seen == [(LCS / FORM).read_bytes()]
    assert not default_state_path(tmp_path).exists()
