"""Liquidlogic behaviour beyond the contract: encodings, times, event types, data quality, XML."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources

import pytest
import structlog
from prometheus_client import REGISTRY

from adapters.base import AdapterError, HostileInput, RawInput
from adapters.liquidlogic.adapter import sniff
from adapters.registry import get_adapter
from gateway.model import MissingEpisodeEvent
from tests.adapters.contract import MAPPINGS, SPECIMENS
from tests.adapters.liquidlogic.helpers import (
    DELTA,
    FORM,
    LCS,
    Rows,
    cell,
    csv_variant,
    read,
    write,
    xml_variant,
)

INSTANCE = "stoke-on-trent-liquidlogic"
RECEIVED = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)


def parse(
    body: bytes, *, filename: str | None = None, content_type: str | None = None
) -> list[MissingEpisodeEvent]:
    adapter = get_adapter("liquidlogic", MAPPINGS)
    return adapter.parse(
        RawInput(
            body=body, instance=INSTANCE, received_at=RECEIVED, filename=filename, content_type=content_type
        )
    )


def keys(events: list[MissingEpisodeEvent]) -> list[str]:
    return [e.idempotency_key for e in events]


def quality(event: MissingEpisodeEvent) -> dict[str, str]:
    return {q.field: q.problem for q in event.data_quality}


def facts(events: list[MissingEpisodeEvent]) -> list[dict]:
    return [e.model_dump(mode="json", exclude={"event_id", "received_at"}) for e in events]


# --- encodings ------------------------------------------------------------------------------------
def test_bom_and_crlf_give_the_same_events_and_keys() -> None:
    plain = (LCS / DELTA).read_bytes()
    windows = b"\xef\xbb\xbf" + plain.replace(b"\n", b"\r\n")
    assert b"\r\n" in windows and not plain.startswith(b"\xef\xbb\xbf")
    assert facts(parse(windows)) == facts(parse(plain))
    assert keys(parse(windows)) == keys(parse(plain))


def test_columns_are_found_by_name_and_unknown_columns_ignored() -> None:
    header, rows = read(DELTA)
    shuffled = [*list(reversed(header)), "LOCAL_EXTRA"]
    for r in rows:
        r["LOCAL_EXTRA"] = "whatever"
    assert facts(parse(write(shuffled, rows))) == facts(parse((LCS / DELTA).read_bytes()))


def test_quoted_fields_keep_commas_quotes_and_line_breaks() -> None:
    body = csv_variant(DELTA, cell(0, "FOUND_LOCATION", 'Home, said "sorry"\r\nthen slept'))
    assert parse(body)[0].episode.found_location.text == 'Home, said "sorry"\r\nthen slept'  # type: ignore[union-attr]


def test_header_only_extract_has_no_events() -> None:
    header, _ = read(DELTA)
    assert parse(write(header, [])) == []


def test_sql_server_null_text_in_a_code_column_is_null() -> None:
    event = parse(csv_variant(DELTA, cell(1, "END_DTTM", "NULL")))[1]
    assert event.event_type == "reported"


# --- times ----------------------------------------------------------------------------------------
def test_a_naive_july_time_is_british_summer_time() -> None:
    def july(_: list[str], rows: Rows) -> None:
        rows[1].update(START_DTTM="14/07/2026 00:00", TIME_MISSING="21:40", MODIFIED_DTTM="14/07/2026 22:05")

    event = parse(csv_variant(DELTA, july))[1]
    assert event.episode.last_seen_at == datetime(2026, 7, 14, 20, 40, tzinfo=UTC)
    assert event.occurred_at == datetime(2026, 7, 14, 21, 5, tzinfo=UTC)
    assert event.source.event_id == "7730141@2026-07-14T21:05:00Z"


def test_readme_example_august_evening() -> None:
    event = parse(csv_variant(DELTA, cell(1, "MODIFIED_DTTM", "01/08/2026 21:00")))[1]
    assert event.occurred_at == datetime(2026, 8, 1, 20, 0, tzinfo=UTC)


def test_without_time_missing_last_seen_is_start_dttm() -> None:
    event = parse(csv_variant(DELTA, cell(1, "TIME_MISSING", "")))[1]
    assert event.episode.last_seen_at == datetime(2026, 3, 6, 0, 0, tzinfo=UTC)


# --- event types (README §3) ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "column, value, expected, at",
    [
        ("DELTA_ACTION", "DELETE", "cancelled", datetime(2026, 3, 6, 10, 22, tzinfo=UTC)),
        (
            "DIM_LOOKUP_ICS_MISSING_END_REASON_CODE",
            "ERR",
            "cancelled",
            datetime(2026, 3, 6, 10, 22, tzinfo=UTC),
        ),
        (
            "DIM_LOOKUP_ICS_MISSING_END_REASON_CODE",
            "DUP",
            "cancelled",
            datetime(2026, 3, 6, 10, 22, tzinfo=UTC),
        ),
        (
            "DIM_LOOKUP_ICS_MISSING_END_REASON_CODE",
            "TRANS",
            "closed",
            datetime(2026, 3, 5, 7, 40, tzinfo=UTC),
        ),
        (
            "DIM_LOOKUP_ICS_MISSING_END_REASON_CODE",
            "CEASED",
            "closed",
            datetime(2026, 3, 5, 7, 40, tzinfo=UTC),
        ),
        ("RETURN_INTERVIEW_OFFERED", "No", "found", datetime(2026, 3, 5, 7, 40, tzinfo=UTC)),
    ],
)
def test_the_furthest_milestone_decides_the_event(
    column: str, value: str, expected: str, at: datetime
) -> None:
    event = parse(csv_variant(DELTA, cell(0, column, value)))[0]
    assert (event.event_type, event.occurred_at) == (expected, at)


def test_interview_held() -> None:
    def held(_: list[str], rows: Rows) -> None:
        rows[0].update(RETURN_INTERVIEW_ACCEPTED="Yes", RHI_COMPLETED_DTTM="07/03/2026 16:00")

    event = parse(csv_variant(DELTA, held))[0]
    assert (event.event_type, event.occurred_at) == (
        "return_interview_completed",
        datetime(2026, 3, 7, 16, 0, tzinfo=UTC),
    )
    assert event.return_interview is not None
    assert (event.return_interview.declined, event.return_interview.completed_at) == (
        False,
        datetime(2026, 3, 7, 16, 0, tzinfo=UTC),
    )


def test_interview_declined_records_no_completion() -> None:
    def refused(_: list[str], rows: Rows) -> None:
        rows[0].update(RETURN_INTERVIEW_ACCEPTED="No", RHI_COMPLETED_DTTM="07/03/2026 16:00")

    event = parse(csv_variant(DELTA, refused))[0]
    assert (event.event_type, event.occurred_at) == (
        "return_interview_declined",
        datetime(2026, 3, 7, 16, 0, tzinfo=UTC),
    )
    assert event.return_interview is not None
    assert (event.return_interview.declined, event.return_interview.completed_at) == (True, None)


def test_an_update_of_an_open_episode_is_updated() -> None:
    event = parse(csv_variant(DELTA, cell(1, "DELTA_ACTION", "UPDATE")))[1]
    assert event.event_type == "updated"


def test_an_ended_episode_without_a_reason_is_found_and_flagged() -> None:
    def ended(_: list[str], rows: Rows) -> None:
        rows[1].update(END_DTTM="07/03/2026 09:00")

    event = parse(csv_variant(DELTA, ended))[1]
    assert (event.event_type, event.occurred_at) == ("found", datetime(2026, 3, 7, 9, 0, tzinfo=UTC))
    assert event.episode.found_at is None
    assert "episode.found_at" in quality(event)


# --- bad values are flagged, never a rejection ----------------------------------------------------
def test_an_nhs_number_failing_modulus_11_is_left_out_and_flagged() -> None:
    event = parse(csv_variant(DELTA, cell(1, "NHS_NUMBER", "9992317761")))[1]
    assert event.child.ids.nhs_number is None
    assert "child.ids.nhs_number" in quality(event)


@pytest.mark.parametrize("dob", ["01/01/2027 00:00", "31/02/2012 00:00"])
def test_a_future_or_impossible_date_of_birth_is_left_out_and_flagged(dob: str) -> None:
    event = parse(csv_variant(DELTA, cell(1, "BIRTH_DTTM", dob)))[1]
    assert event.child.date_of_birth is None
    assert "child.date_of_birth" in quality(event)


def test_found_before_last_seen_keeps_both_and_flags() -> None:
    event = parse(csv_variant(DELTA, cell(0, "END_DTTM", "04/03/2026 20:00")))[0]
    assert event.episode.found_at == datetime(2026, 3, 4, 20, 0, tzinfo=UTC)
    assert event.episode.last_seen_at == datetime(2026, 3, 4, 22, 10, tzinfo=UTC)
    assert "episode.found_at" in quality(event)


def test_a_bad_la_code_in_a_row_is_flagged_not_a_rejection() -> None:
    event = parse(csv_variant(DELTA, cell(1, "PLACEMENT_LA_CODE", "Staffs")))[1]
    assert event.care is not None and event.care.host_la is None
    assert "care.host_la" in quality(event)


# --- idempotency ----------------------------------------------------------------------------------
def test_the_same_row_gives_the_same_key_and_event_id() -> None:
    first = parse((LCS / DELTA).read_bytes())
    again = parse(b"\xef\xbb\xbf" + (LCS / DELTA).read_bytes().replace(b"\n", b"\r\n"))
    assert [(e.source.event_id, e.idempotency_key) for e in first] == [
        (e.source.event_id, e.idempotency_key) for e in again
    ]
    assert first[2].idempotency_key.startswith("liquidlogic:stoke-on-trent-liquidlogic:7730145:7730145@")


def test_two_changes_in_the_same_minute_do_not_share_a_key() -> None:
    events = parse(csv_variant(DELTA, cell(3, "MODIFIED_DTTM", "06/03/2026 21:10")))
    assert events[2].source.event_id == events[3].source.event_id  # the README's id cannot tell them apart
    assert events[2].idempotency_key != events[3].idempotency_key  # the key can


# --- format sniffing ------------------------------------------------------------------------------
def test_format_is_sniffed_from_the_bytes() -> None:
    assert sniff((LCS / DELTA).read_bytes()) == "csv"
    assert sniff(b"\xef\xbb\xbf" + (LCS / DELTA).read_bytes()) == "csv"
    assert sniff((LCS / FORM).read_bytes()) == "xml"
    assert sniff(b"\n  " + (LCS / FORM).read_bytes()) == "xml"
    assert sniff((LCS / FORM).read_text().encode("utf-16")) == "xml"
    assert len(parse((LCS / FORM).read_bytes(), filename="drop.csv", content_type="text/csv")) == 1


# --- XML ------------------------------------------------------------------------------------------
def test_a_form_that_is_not_a_missing_form_is_ignored_and_counted() -> None:
    labels = {"system": "liquidlogic", "instance": INSTANCE, "reason": "not_a_missing_form"}
    before = REGISTRY.get_sample_value("gateway_adapter_ignored_total", labels) or 0.0
    assert parse(xml_variant(b"<FormTypeCode>MISS_ABS", b"<FormTypeCode>CIN_REVIEW")) == []
    assert REGISTRY.get_sample_value("gateway_adapter_ignored_total", labels) == before + 1


def test_a_reopened_form_is_an_update_at_the_event_time() -> None:
    [event] = parse(xml_variant(b"FormFinalised", b"FormReopened"))
    assert (event.event_type, event.occurred_at) == ("updated", datetime(2026, 3, 10, 16, 22, 41, tzinfo=UTC))


def test_a_form_finalised_while_the_episode_is_open_is_an_update() -> None:
    body = (LCS / FORM).read_bytes()
    start, end = body.index(b"    <EndDateTime>"), body.index(b"    <PoliceReference>")
    body = body[:start] + body[end:]
    start, end = (
        body.index(b"    <ReturnInterview>"),
        body.index(b"</ReturnInterview>") + len(b"</ReturnInterview>\n"),
    )
    body = body[:start] + body[end:]
    [event] = parse(body)
    assert (event.event_type, event.occurred_at) == ("updated", datetime(2026, 3, 10, 16, 22, 41, tzinfo=UTC))
    assert event.episode.found_at is None


def test_xml_times_with_an_offset_are_taken_as_given() -> None:
    [event] = parse(
        xml_variant(
            b"<CompletedDateTime>2026-03-09T16:00:00", b"<CompletedDateTime>2026-03-09T16:00:00+01:00"
        )
    )
    assert event.occurred_at == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)


def test_an_nhs_number_failing_modulus_11_in_xml_is_flagged() -> None:
    [event] = parse(xml_variant(b"<NhsNumber>9993981435", b"<NhsNumber>9993981436"))
    assert event.child.ids.nhs_number is None
    assert "child.ids.nhs_number" in quality(event)


def test_hostile_xml_is_refused_even_behind_a_bom_and_whitespace() -> None:
    body = b'\xef\xbb\xbf  <?xml version="1.0"?><!doctype x [<!ENTITY a "b">]><x>&a;</x>'
    with pytest.raises(HostileInput):
        parse(body)


def test_schema_errors_never_repeat_the_childs_details() -> None:
    secrets = ["Mason", "Kettley", "2012-06-3", "99939814", "Whitmore"]
    for body in (
        xml_variant(b"<DateOfBirth>2012-06-21", b"<DateOfBirth>2012-06-31"),
        xml_variant(b"<NhsNumber>9993981435", b"<NhsNumber>99939814"),
        xml_variant(b"<GenderCode>M", b"<GenderCode>Mason"),
        xml_variant(b"<ClaFlag>Y", b"<ClaFlag>Kettley"),
        csv_variant(DELTA, cell(2, "GENDER_CODE", "Mason")),
        csv_variant(DELTA, cell(2, "BIRTH_DTTM", "Kettley")),
    ):
        with pytest.raises(AdapterError) as info:
            parse(body)
        assert not any(s in info.value.reason for s in secrets), info.value.reason


def test_logs_carry_ids_only() -> None:
    with structlog.testing.capture_logs() as logs:
        parse((LCS / DELTA).read_bytes())
        parse((LCS / FORM).read_bytes())
    text = json.dumps(logs, default=str)
    assert "7730145" in text
    assert not any(s in text for s in ("Mason", "Kettley", "9993981435", "2012-06-21", "Whitmore"))


def test_the_packaged_schema_is_the_published_one() -> None:
    packaged = (
        resources.files("adapters.liquidlogic").joinpath("schema", "form-notification.xsd").read_bytes()
    )
    assert packaged == (SPECIMENS / "liquidlogic" / "form-notification.xsd").read_bytes()
