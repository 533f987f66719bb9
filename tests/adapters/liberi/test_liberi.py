"""Liberi behaviour beyond the contract: the secret, replay protection, retries, event types and
data quality."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from prometheus_client import REGISTRY

from adapters.base import RawInput, Unauthenticated, WrongInstance
from adapters.liberi.adapter import LiberiAdapter
from adapters.registry import get_adapter
from gateway.model import MissingEpisodeEvent
from tests.adapters.contract import MAPPINGS
from tests.adapters.liberi.helpers import (
    LIBERI,
    OPENED,
    SECRET,
    SECRET_ENV,
    received_for,
    setv,
    signed,
    variant,
)

PUBLISHED = datetime(2026, 3, 3, 22, 52, 12, tzinfo=UTC)  # specimen 01's publishedAt


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


def adapter() -> LiberiAdapter:
    a = get_adapter("liberi", MAPPINGS)
    assert isinstance(a, LiberiAdapter)
    return a


def raw(
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    received: datetime | None = None,
    instance: str = "kent-liberi",
) -> RawInput:
    return RawInput(
        body=body,
        instance=instance,
        received_at=received or received_for(body),
        content_type="application/json; charset=utf-8",
        headers=signed(body) if headers is None else headers,
    )


def deliver(body: bytes, **kw: object) -> list[MissingEpisodeEvent]:
    """What the ingest layer does: authenticate, then parse."""
    r = raw(body, **kw)  # type: ignore[arg-type]
    adapter().authenticate(r)
    return adapter().parse(r)


def one(body: bytes, **kw: object) -> MissingEpisodeEvent:
    events = deliver(body, **kw)
    assert len(events) == 1
    return events[0]


def quality(event: MissingEpisodeEvent) -> dict[str, str]:
    return {q.field: q.problem for q in event.data_quality}


OPENED_BYTES = (LIBERI / OPENED).read_bytes()


# --- the secret -----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [None, "", "   "])
def test_no_secret_configured_refuses_every_request(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(SECRET_ENV, raising=False)
    else:
        monkeypatch.setenv(SECRET_ENV, value)
    with pytest.raises(Unauthenticated) as info:
        adapter().authenticate(raw(OPENED_BYTES, headers=signed(OPENED_BYTES, "")))
    assert "no webhook secret configured" in info.value.reason
    assert info.value.http_status == 401
    assert SECRET_ENV not in info.value.reason  # configuration is for the operator log, not the sender


def test_a_short_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "short")
    with pytest.raises(Unauthenticated, match="too short"):
        adapter().authenticate(raw(OPENED_BYTES, headers=signed(OPENED_BYTES, "short")))


def test_a_mapping_names_the_variable_never_the_secret() -> None:
    text = (MAPPINGS / "sources" / "liberi" / "kent-liberi.yaml").read_text()
    assert f"secret_env: {SECRET_ENV}" in text
    assert SECRET not in text


# --- the signature --------------------------------------------------------------------------------
def test_header_names_are_case_insensitive_and_hex_case_is_ignored() -> None:
    value = signed(OPENED_BYTES)["X-Liberi-Signature"]
    assert one(OPENED_BYTES, headers={"x-liberi-signature": value}).event_type == "reported"
    assert (
        one(OPENED_BYTES, headers={"X-LIBERI-SIGNATURE": "sha256=" + value[7:].upper()}).event_type
        == "reported"
    )


def test_a_signature_with_non_ascii_junk_is_refused_not_crashed() -> None:
    with pytest.raises(Unauthenticated):
        adapter().authenticate(raw(OPENED_BYTES, headers={"X-Liberi-Signature": "sha256=\u00e9\u00e9"}))


def test_reasons_never_reveal_the_secret_or_the_expected_signature() -> None:
    expected = signed(OPENED_BYTES)["X-Liberi-Signature"]
    with pytest.raises(Unauthenticated) as info:
        adapter().authenticate(raw(OPENED_BYTES, headers={"X-Liberi-Signature": "sha256=00"}))
    assert SECRET not in info.value.reason and expected[7:] not in info.value.reason


# --- replay protection ----------------------------------------------------------------------------
def test_a_retry_within_liberis_24_hour_window_is_accepted() -> None:
    retry = variant(OPENED, setv("deliveryAttempt", 9))
    event = one(retry, received=PUBLISHED + timedelta(hours=24, minutes=30))
    assert event.idempotency_key == one(OPENED_BYTES).idempotency_key  # deliveryAttempt is not identity


def test_a_request_older_than_the_window_is_refused() -> None:
    with pytest.raises(Unauthenticated, match="replay window"):
        adapter().authenticate(raw(OPENED_BYTES, received=PUBLISHED + timedelta(hours=26, seconds=1)))


def test_a_request_from_the_future_is_refused_beyond_the_clock_skew() -> None:
    adapter().authenticate(raw(OPENED_BYTES, received=PUBLISHED - timedelta(seconds=299)))
    with pytest.raises(Unauthenticated, match="future"):
        adapter().authenticate(raw(OPENED_BYTES, received=PUBLISHED - timedelta(minutes=10)))


def test_a_signed_body_without_published_at_is_not_lost() -> None:
    body = variant(OPENED, lambda d: d.pop("publishedAt"))
    assert one(body, received=PUBLISHED + timedelta(days=30)).event_type == "reported"


def test_a_signed_body_with_a_bad_published_at_is_rejected_by_the_parser() -> None:
    from adapters.base import InvalidInput

    body = variant(OPENED, setv("publishedAt", "yesterday"))
    adapter().authenticate(raw(body))
    with pytest.raises(InvalidInput, match="publishedAt"):
        adapter().parse(raw(body))


# --- event types (README §3) ----------------------------------------------------------------------
def test_an_update_that_does_not_change_the_risk_is_updated() -> None:
    body = variant(
        "02-missing-episode-updated-risk-high.json", setv("changedFields", ["episode.circumstances"])
    )
    assert one(body).event_type == "updated"


def test_declined_conversation() -> None:
    def change(doc: dict) -> None:
        doc["eventType"] = "MissingConversationDeclined"
        doc["occurredAt"] = "2026-03-06T10:00:00Z"
        doc["missingConversation"].update(declined=True, declinedReason="Did not want to talk")

    event = one(variant("04-missing-conversation-offered.json", change))
    assert event.event_type == "return_interview_declined"
    assert event.occurred_at == datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
    assert event.return_interview is not None and event.return_interview.declined is True
    assert "Did not want" not in event.model_dump_json()  # declinedReason is not mapped


def test_a_declined_event_whose_flag_disagrees_is_recorded_as_declined_and_flagged() -> None:
    event = one(
        variant("04-missing-conversation-offered.json", setv("eventType", "MissingConversationDeclined"))
    )
    assert event.return_interview is not None and event.return_interview.declined is True
    assert "return_interview.declined" in quality(event)


def test_cancelled_pathway() -> None:
    def change(doc: dict) -> None:
        doc.update(eventType="MissingEpisodeCancelled", pathwayStatus="Cancelled")

    assert one(variant(OPENED, change)).event_type == "cancelled"


def test_an_unexpected_pathway_status_is_flagged_not_refused() -> None:
    event = one(variant(OPENED, setv("pathwayStatus", "Closed")))
    assert event.event_type == "reported"
    assert "event_type" in quality(event)


def test_other_event_types_are_ignored_and_counted() -> None:
    labels = {"system": "liberi", "instance": "kent-liberi", "reason": "unhandled_event_type"}
    before = REGISTRY.get_sample_value("gateway_adapter_ignored_total", labels) or 0.0
    body = json.dumps(
        {
            "specVersion": "1.2",
            "eventId": "e-1",
            "eventType": "PersonAddressChanged",
            "publishedAt": "2026-03-03T22:52:12Z",
            "tenant": {"laCode": "886"},
        }
    ).encode()
    assert deliver(body) == []
    assert REGISTRY.get_sample_value("gateway_adapter_ignored_total", labels) == before + 1


def test_an_ignored_event_type_from_another_council_is_still_refused() -> None:
    body = json.dumps(
        {
            "specVersion": "1.2",
            "eventId": "e-1",
            "eventType": "PersonAddressChanged",
            "tenant": {"laCode": "860"},
        }
    ).encode()
    with pytest.raises(WrongInstance):
        deliver(body)


def test_a_later_minor_spec_version_is_accepted() -> None:
    assert one(variant(OPENED, setv("specVersion", "1.3"))).event_type == "reported"


# --- mapping details ------------------------------------------------------------------------------
def test_without_a_placement_the_tenant_is_responsible_and_the_home_la_is_host() -> None:
    event = one(variant(OPENED, setv("placement", None)))
    assert event.care is not None
    assert (event.care.responsible_la, event.care.host_la, event.care.placement) == ("886", "860", None)


def test_given_name_without_middle_names() -> None:
    assert one(variant(OPENED, setv("child.middleNames", None))).child.given_name == "Tia"


# --- bad values are flagged, never a rejection ----------------------------------------------------
def test_an_nhs_number_failing_modulus_11_is_left_out_and_flagged() -> None:
    event = one(variant(OPENED, setv("child.nhsNumber", "9996501389")))
    assert event.child.ids.nhs_number is None
    assert "child.ids.nhs_number" in quality(event)


@pytest.mark.parametrize("value", [None, ""])
def test_an_absent_nhs_number_is_flagged_once(value: str | None) -> None:
    event = one(variant(OPENED, setv("child.nhsNumber", value)))
    assert [q.problem for q in event.data_quality] == ["NHS number is absent"]


@pytest.mark.parametrize("dob", ["2027-01-01", "2010-02-30"])
def test_a_future_or_impossible_date_of_birth_is_left_out_and_flagged(dob: str) -> None:
    event = one(variant(OPENED, setv("child.dateOfBirth", dob)))
    assert event.child.date_of_birth is None
    assert "child.date_of_birth" in quality(event)


def test_found_before_last_seen_is_flagged_with_both_times_kept() -> None:
    event = one(
        variant("03-child-found.json", setv("episode.foundAt", "2026-03-03T18:00:00Z")),
        received=datetime(2026, 3, 5, 8, 12, 5, tzinfo=UTC),
    )
    assert event.episode.found_at == datetime(2026, 3, 3, 18, 0, tzinfo=UTC)
    assert "episode.found_at" in quality(event)


def test_optional_values_of_the_wrong_type_are_flagged() -> None:
    def change(doc: dict) -> None:
        doc["child"]["languages"] = "en"
        doc["child"]["lookedAfter"] = "yes"
        doc["episode"]["lastSeenLocation"] = "the shop"
        doc["child"]["homeLaCode"] = "Staffordshire"

    event = one(variant(OPENED, change))
    assert {"child.languages", "care.looked_after", "episode.last_seen_location"} <= set(quality(event))
    assert event.care is not None and event.care.host_la == "860"  # from the placement


def test_logs_carry_ids_only() -> None:
    with structlog.testing.capture_logs() as logs:
        deliver(OPENED_BYTES)
        with pytest.raises(Unauthenticated):
            adapter().authenticate(raw(OPENED_BYTES, headers={}))
    text = json.dumps(logs, default=str)
    assert "MPP-0031875" in text
    assert not any(s in text for s in ("Tia", "Hollings", "9996501388", "2010-11-03", SECRET))


def test_unknown_instance(tmp_path: Path) -> None:
    from adapters.base import UnknownInstance

    with pytest.raises(UnknownInstance):
        adapter().authenticate(raw(OPENED_BYTES, instance="nowhere-liberi"))
