"""One episode per child per absence, never two, and never two children merged."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from gateway.episodes.review import (
    ReviewError,
    decide_keep_apart,
    decide_merge,
    merge,
    open_review_items,
    split,
)
from gateway.model import Episode
from gateway.store import tables
from gateway.store.db import transaction
from tests.episodes.conftest import Harness, ev

NHS = "9996501388"
TIA = {"given_name": "Tia Louise", "family_name": "Hollings", "date_of_birth": "2010-11-03"}
POLICE = {"force": "E23000015", "reference": "MP/2026/001234"}


def police_report():
    return ev(
        "compact",
        "staffordshire-police",
        "MP/2026/001234",
        occurred_at="2026-03-03T22:15:00Z",
        child={**TIA, "ids": {"nhs_number": NHS, "police_person_id": "4188730"}},
        episode={
            "category": "missing",
            "last_seen_at": "2026-03-03T19:30:00Z",
            "reported_at": "2026-03-03T22:15:00Z",
            "risk_level": "medium",
            "police": POLICE,
        },
        care={"looked_after": True, "responsible_la": "886", "host_la": "860"},
    )


def la_report():
    # Kent's Liberi pathway: its own ids, the child's Kent id, no police reference.
    return ev(
        "liberi",
        "kent-liberi",
        "MPP-0031875",
        occurred_at="2026-03-03T23:05:00Z",
        child={
            "given_name": "Tia",
            "family_name": "Hollings",
            "date_of_birth": "2010-11-03",
            "ids": {"nhs_number": NHS, "la_ids": [{"la_code": "886", "id": "K2210455"}]},
        },
        episode={"category": "missing", "last_seen_at": "2026-03-03T19:30:00Z"},
        care={"looked_after": True, "responsible_la": "886", "host_la": "860", "case_status": "open"},
    )


def nhs_found():
    # An Emergency Department sees the child: NHS number only, and only the time she was found.
    return ev(
        "nhs",
        "nhs-test",
        "Flag/ED-77",
        "found",
        occurred_at="2026-03-04T15:00:00Z",
        child={"ids": {"nhs_number": NHS}},
        episode={"found_at": "2026-03-04T15:00:00Z", "found_by": "health"},
    )


def count(harness: Harness, table: type) -> int:
    with harness.sessions() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def episodes(harness: Harness) -> list[Episode]:
    with harness.sessions() as s:
        return [
            Episode.model_validate(r.state)
            for r in s.scalars(select(tables.Episode).where(tables.Episode.merged_into.is_(None)))
        ]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_police_la_and_nhs_events_in_any_order_make_one_episode(
    harness: Harness, order: tuple[int, ...]
) -> None:
    makers = [police_report, la_report, nhs_found]
    results = harness.process(*(makers[i]() for i in order))
    assert len({r.episode_id for r in results}) == 1
    [episode] = episodes(harness)
    assert episode.status.value == "found"
    assert {r.system.value for r in episode.source_refs} == {"compact", "liberi", "nhs"}
    assert episode.child.ids.nhs_number == NHS
    assert episode.episode.risk_level is not None and episode.episode.risk_level.value == "medium"
    assert {(i.la_code, i.id) for i in episode.child.ids.la_ids} == {("886", "K2210455")}
    assert count(harness, tables.ReviewItem) == 0


def test_the_police_reference_links_an_la_record_that_carries_it(harness: Harness) -> None:
    first = harness.process(police_report())[0]
    la = ev(
        "mosaic",
        "wandsworth-mosaic",
        "WS-1",
        "updated",
        occurred_at="2026-03-04T09:00:00Z",
        child={"given_name": "T", "ids": {"la_ids": [{"la_code": "212", "id": "W1"}]}},
        episode={"police": POLICE},
    )
    assert harness.process(la)[0].episode_id == first.episode_id


def test_two_children_with_the_same_name_and_birthday_in_different_areas_are_kept_apart(
    harness: Harness,
) -> None:
    a = ev(
        "compact",
        "staffordshire-police",
        "MP/2026/000001",
        occurred_at="2026-03-03T22:00:00Z",
        child={"given_name": "Jordan", "family_name": "Smith", "date_of_birth": "2012-01-01"},
        episode={"last_seen_at": "2026-03-03T20:00:00Z", "police": {"force": "E23000015", "reference": "A1"}},
        care={"responsible_la": "860"},
    )
    b = ev(
        "mosaic",
        "wandsworth-mosaic",
        "WS-77",
        occurred_at="2026-03-03T23:00:00Z",
        child={"given_name": "Jordan", "family_name": "Smith", "date_of_birth": "2012-01-01"},
        episode={"last_seen_at": "2026-03-03T21:00:00Z"},
        care={"responsible_la": "212"},
    )
    ra, rb = harness.process(a, b)
    assert ra.episode_id != rb.episode_id
    assert len(episodes(harness)) == 2
    with harness.sessions() as s:
        [item] = open_review_items(s)
    assert item["episode_id"] == str(rb.episode_id) and item["candidate_episode_id"] == str(ra.episode_id)
    assert 0.6 <= item["score"] < 1.0
    assert set(item["reasons"]) == {"family name", "given name", "date of birth"}


def test_different_nhs_numbers_are_never_matched_on_demographics(harness: Harness) -> None:
    a = police_report()
    b = ev(
        "liberi",
        "kent-liberi",
        "MPP-9",
        occurred_at="2026-03-03T23:00:00Z",
        child={**TIA, "ids": {"nhs_number": "9993981435"}},
        episode={"last_seen_at": "2026-03-03T19:30:00Z"},
        care={"responsible_la": "886", "host_la": "860"},
    )
    ra, rb = harness.process(a, b)
    assert ra.episode_id != rb.episode_id
    assert count(harness, tables.ReviewItem) == 0


def test_a_full_demographic_match_in_the_same_area_merges_automatically(harness: Harness) -> None:
    a = ev(
        "compact",
        "staffordshire-police",
        "MP/2026/000002",
        occurred_at="2026-03-03T22:00:00Z",
        child={"given_name": "Jordan", "family_name": "Smith", "date_of_birth": "2012-01-01"},
        episode={"last_seen_at": "2026-03-03T20:00:00Z"},
        care={"responsible_la": "860"},
    )
    b = ev(
        "liquidlogic",
        "stoke-on-trent-liquidlogic",
        "7730145",
        occurred_at="2026-03-04T08:00:00Z",
        child={"given_name": "JORDAN", "family_name": "Smith", "date_of_birth": "2012-01-01"},
        episode={"last_seen_at": "2026-03-03T20:30:00Z"},
        care={"host_la": "860"},
    )
    ra, rb = harness.process(a, b)
    assert ra.episode_id == rb.episode_id


def test_merge_and_split_round_trip_keeping_every_event_and_notification(harness: Harness) -> None:
    a = ev(
        "compact",
        "staffordshire-police",
        "MP/2026/000003",
        occurred_at="2026-03-03T22:00:00Z",
        child={"given_name": "Jordan", "family_name": "Smith", "date_of_birth": "2012-01-01"},
        episode={"last_seen_at": "2026-03-03T20:00:00Z", "risk_level": "high"},
        care={"responsible_la": "860"},
    )
    b = ev(
        "mosaic",
        "wandsworth-mosaic",
        "WS-78",
        occurred_at="2026-03-03T23:00:00Z",
        child={"given_name": "Jordan", "family_name": "Smith", "date_of_birth": "2012-01-01"},
        episode={"last_seen_at": "2026-03-03T21:00:00Z"},
        care={"responsible_la": "212"},
    )
    ra, rb = harness.process(a, b)
    now = datetime(2026, 3, 5, tzinfo=UTC)
    with transaction(harness.sessions) as s:
        [item] = open_review_items(s)
        survivor = decide_merge(s, uuid.UUID(item["id"]), "reviewer-1", now)
    assert survivor == ra.episode_id  # the one that started first survives
    [merged] = episodes(harness)
    assert {str(i) for i in merged.event_ids} == {str(ra.event_id), str(rb.event_id)}
    with harness.sessions() as s:
        assert set(s.scalars(select(tables.Notification.episode_id))) == {ra.episode_id}
        assert set(s.scalars(select(tables.Disclosure.episode_id))) == {ra.episode_id}
        audit = s.scalars(select(tables.EpisodeAudit)).one()
    assert audit.action == "merge" and audit.actor == "reviewer-1" and audit.other_episode_id == rb.episode_id
    # A later event from the merged-away record follows it to the survivor.
    later = ev(
        "mosaic",
        "wandsworth-mosaic",
        "WS-78",
        "updated",
        occurred_at="2026-03-04T10:00:00Z",
        child={"given_name": "Jordan"},
    )
    assert harness.process(later)[0].episode_id == ra.episode_id

    with transaction(harness.sessions) as s:
        new_id = split(s, ra.episode_id, {rb.event_id, later.event_id}, "reviewer-2", now)
    with harness.sessions() as s:
        moved = set(s.scalars(select(tables.Event.event_id).where(tables.Event.episode_id == new_id)))
        stayed = set(s.scalars(select(tables.Event.event_id).where(tables.Event.episode_id == ra.episode_id)))
        notes_new = set(
            s.scalars(select(tables.Notification.event_id).where(tables.Notification.episode_id == new_id))
        )
        source = s.scalar(
            select(tables.EpisodeSource.episode_id).where(tables.EpisodeSource.record_id == "WS-78")
        )
        first = Episode.model_validate(s.get(tables.Episode, ra.episode_id).state)
    assert moved == {rb.event_id, later.event_id} and stayed == {ra.event_id}
    assert notes_new == {rb.event_id, later.event_id}
    assert source == new_id
    assert first.episode.risk_level is not None and first.care and first.care.responsible_la == "860"


def test_keep_apart_is_recorded_and_cannot_be_decided_twice(harness: Harness) -> None:
    test_two_children_with_the_same_name_and_birthday_in_different_areas_are_kept_apart(harness)
    now = datetime(2026, 3, 5, tzinfo=UTC)
    with harness.sessions() as s:
        [item] = open_review_items(s)
    with transaction(harness.sessions) as s:
        decide_keep_apart(s, uuid.UUID(item["id"]), "reviewer-1", now, note="different schools")
    with pytest.raises(ReviewError, match="already decided"), transaction(harness.sessions) as s:
        decide_merge(s, uuid.UUID(item["id"]), "reviewer-1", now)
    assert len(episodes(harness)) == 2


def test_merging_an_episode_with_itself_is_refused(harness: Harness) -> None:
    [r] = harness.process(police_report())
    with pytest.raises(ReviewError), transaction(harness.sessions) as s:
        merge(s, r.episode_id, r.episode_id, "x", datetime.now(UTC))
