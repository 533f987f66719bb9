"""The canonical models: field names, time handling, NHS numbers, errors that name the field."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gateway.model import Episode, MissingEpisodeEvent, Notification
from gateway.model.nhs_number import is_valid_nhs_number, nhs_number_problem

BASE = {
    "event_type": "reported",
    "occurred_at": "2026-03-03T22:15:00Z",
    "received_at": "2026-03-03T22:16:00Z",
    "source": {"system": "compact", "instance": "staffordshire-police", "record_id": "MP/2026/001234"},
    "idempotency_key": "compact:staffordshire-police:MP/2026/001234:AUD-1",
    "child": {"given_name": "Tia", "family_name": "Test"},
}


def event(**changes: object) -> MissingEpisodeEvent:
    return MissingEpisodeEvent.model_validate({**BASE, **changes})


@pytest.mark.parametrize("number", ["9996501388", "9993981435", "9993093807", "999 650 1388", "943 476 5919"])
def test_valid_nhs_numbers_pass_modulus_11(number: str) -> None:
    assert is_valid_nhs_number(number)


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("9996501389", "check digit"),
        ("999650138", "10 digits"),
        ("99965013888", "10 digits"),
        ("99965O1388", "10 digits"),
        ("", "10 digits"),
    ],
)
def test_invalid_nhs_numbers_say_why(number: str, why: str) -> None:
    problem = nhs_number_problem(number)
    assert problem is not None and why in problem


def _check_digit(nine: str) -> int | None:
    total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1)))
    check = 11 - total % 11
    return 0 if check == 11 else None if check == 10 else check


@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.integers(0, 9))
def test_modulus_11_accepts_exactly_the_right_check_digit(nine: str, last: int) -> None:
    expected = _check_digit(nine)
    assert is_valid_nhs_number(nine + str(last)) == (expected == last)


def test_the_event_rejects_an_nhs_number_failing_its_check_digit_naming_the_field() -> None:
    with pytest.raises(ValidationError) as exc:
        event(child={"ids": {"nhs_number": "9996501389"}})
    assert exc.value.errors()[0]["loc"] == ("child", "ids", "nhs_number")


def test_naive_times_are_london_time_stored_as_utc() -> None:
    summer = event(occurred_at="2026-07-14T21:40:00")
    winter = event(occurred_at="2026-01-14T21:40:00")
    assert summer.occurred_at == datetime(2026, 7, 14, 20, 40, tzinfo=UTC)
    assert winter.occurred_at == datetime(2026, 1, 14, 21, 40, tzinfo=UTC)
    assert summer.occurred_at.tzinfo is UTC


def test_times_with_an_offset_are_taken_as_given() -> None:
    assert event(occurred_at="2026-07-14T21:40:00+01:00").occurred_at == datetime(
        2026, 7, 14, 20, 40, tzinfo=UTC
    )


def test_bst_change_nights_are_handled() -> None:
    # 29 March 2026: clocks go forward at 01:00 GMT; 25 October 2026: back at 02:00 BST.
    assert event(occurred_at="2026-03-29T00:30:00").occurred_at == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert event(occurred_at="2026-03-29T03:00:00").occurred_at == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)
    # The repeated hour in October: read as the first (BST) occurrence, the earlier instant.
    assert event(occurred_at="2026-10-25T01:30:00").occurred_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value", "loc"),
    [
        ("event_type", "vanished", ("event_type",)),
        ("source", {"system": "telepathy", "instance": "x", "record_id": "1"}, ("source", "system")),
        ("episode", {"risk_level": "severe"}, ("episode", "risk_level")),
        ("care", {"legal_status": "s99"}, ("care", "legal_status")),
        ("care", {"responsible_la": "88"}, ("care", "responsible_la")),
    ],
)
def test_unknown_enum_values_and_bad_codes_fail_naming_the_field(
    field: str, value: object, loc: tuple
) -> None:
    with pytest.raises(ValidationError) as exc:
        event(**{field: value})
    assert loc in [e["loc"] for e in exc.value.errors()]


@pytest.mark.parametrize("missing", ["event_type", "occurred_at", "source", "idempotency_key", "child"])
def test_missing_required_fields_fail_naming_the_field(missing: str) -> None:
    data = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(ValidationError) as exc:
        MissingEpisodeEvent.model_validate(data)
    assert (missing,) in [e["loc"] for e in exc.value.errors()]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        event(child={"given_name": "A", "favourite_colour": "red"})
    assert exc.value.errors()[0]["type"] == "extra_forbidden"


def test_event_json_uses_the_contract_names() -> None:
    doc = event().model_dump(mode="json", by_alias=True)
    assert doc["schema"] == "missing-episode-event/1"
    assert {
        "event_id",
        "event_type",
        "occurred_at",
        "received_at",
        "source",
        "idempotency_key",
        "child",
        "episode",
        "data_quality",
        "attachments",
    } <= set(doc)
    again = MissingEpisodeEvent.model_validate_json(event().to_json())
    assert again.source.record_id == "MP/2026/001234"


def test_episode_and_notification_carry_their_schema_names() -> None:
    ep = Episode(
        episode_id="00000000-0000-0000-0000-000000000001", opened_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert ep.model_dump(by_alias=True)["schema"] == "missing-episode/1"
    assert Notification.model_fields["notification_id"].is_required()
    assert (
        date(2011, 5, 1)
        == event(child={"date_of_birth": "2011-05-01", "given_name": "A"}).child.date_of_birth
    )
