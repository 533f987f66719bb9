"""Lifecycle (open → found → closed, cancelled; out of order) and the child's history windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.model import Episode
from gateway.store import tables
from tests.episodes.conftest import Harness, ev

KID = {
    "given_name": "Sam",
    "family_name": "Example",
    "date_of_birth": "2011-05-01",
    "ids": {"nhs_number": "9993093807"},
}


def report(record: str, last_seen: datetime, **extra: object):
    return ev(
        "compact",
        "derbyshire-police",
        record,
        occurred_at=(last_seen + timedelta(hours=2)).isoformat(),
        child=KID,
        episode={"last_seen_at": last_seen.isoformat(), "category": "missing", **extra},
    )


def state(harness: Harness, episode_id) -> Episode:
    with harness.sessions() as s:
        return Episode.model_validate(s.get(tables.Episode, episode_id).state)


def test_a_found_before_its_report_still_ends_as_one_found_episode(harness: Harness) -> None:
    t = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
    found = ev(
        "compact",
        "derbyshire-police",
        "MP/1",
        "found",
        occurred_at=(t + timedelta(hours=20)).isoformat(),
        child=KID,
        episode={"found_at": (t + timedelta(hours=20)).isoformat()},
    )
    [rf] = harness.process(found)
    [rr] = harness.process(report("MP/1", t, risk_level="high"))
    assert rf.episode_id == rr.episode_id
    ep = state(harness, rf.episode_id)
    assert ep.status.value == "found" and ep.episode.risk_level.value == "high"
    assert ep.opened_at == t + timedelta(hours=2)


def test_closed_then_cancelled_and_late_updates_do_not_reopen(harness: Harness) -> None:
    t = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
    [r] = harness.process(report("MP/2", t))
    harness.process(
        ev(
            "compact",
            "derbyshire-police",
            "MP/2",
            "closed",
            occurred_at=(t + timedelta(days=2)).isoformat(),
            child=KID,
        )
    )
    harness.process(
        ev(
            "compact",
            "derbyshire-police",
            "MP/2",
            "updated",
            occurred_at=(t + timedelta(hours=5)).isoformat(),
            child=KID,
            episode={"circumstances": "late note"},
        )
    )
    assert state(harness, r.episode_id).status.value == "closed"
    harness.process(
        ev(
            "compact",
            "derbyshire-police",
            "MP/2",
            "cancelled",
            occurred_at=(t + timedelta(days=3)).isoformat(),
            child=KID,
        )
    )
    assert state(harness, r.episode_id).status.value == "cancelled"


def test_a_new_report_after_a_found_episode_starts_a_new_episode(harness: Harness) -> None:
    t = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
    [first] = harness.process(report("MP/3", t))
    harness.process(
        ev(
            "compact",
            "derbyshire-police",
            "MP/3",
            "found",
            occurred_at=(t + timedelta(hours=6)).isoformat(),
            child=KID,
            episode={"found_at": (t + timedelta(hours=6)).isoformat()},
        )
    )
    # Found but not closed; the child goes missing again two days later. An LA record of the new absence
    # (different system, no police reference) must not join the found one.
    again = ev(
        "liberi",
        "kent-liberi",
        "MPP-2",
        occurred_at=(t + timedelta(days=2, hours=1)).isoformat(),
        child=KID,
        episode={"last_seen_at": (t + timedelta(days=2)).isoformat()},
    )
    [second] = harness.process(again)
    assert second.episode_id != first.episode_id
    assert state(harness, second.episode_id).episode_count_30d == 2


@pytest.mark.parametrize(("days_before", "counted"), [(90, True), (89, True), (91, False)])
def test_window_counts_include_an_episode_exactly_90_days_earlier(
    harness: Harness, days_before: int, counted: bool
) -> None:
    now = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
    harness.process(report("MP/old", now - timedelta(days=days_before)))
    harness.process(
        ev(
            "compact",
            "derbyshire-police",
            "MP/old",
            "found",
            occurred_at=(now - timedelta(days=days_before) + timedelta(hours=3)).isoformat(),
            child=KID,
            episode={"found_at": (now - timedelta(days=days_before) + timedelta(hours=3)).isoformat()},
        )
    )
    [r] = harness.process(report("MP/new", now))
    ep = state(harness, r.episode_id)
    assert ep.episode_count_90d == (2 if counted else 1)
    assert ep.episode_count_30d == 1
    assert ep.episode_counts == {"30d": 1, "90d": ep.episode_count_90d}


def test_three_episodes_in_90_days_are_counted_for_the_third(harness: Harness) -> None:
    start = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    ids = []
    for i, offset in enumerate((0, 20, 45)):
        t = start + timedelta(days=offset)
        [r] = harness.process(report(f"MP/r{i}", t))
        harness.process(
            ev(
                "compact",
                "derbyshire-police",
                f"MP/r{i}",
                "found",
                occurred_at=(t + timedelta(hours=4)).isoformat(),
                child=KID,
                episode={"found_at": (t + timedelta(hours=4)).isoformat()},
            )
        )
        ids.append(r.episode_id)
    assert [state(harness, i).episode_count_90d for i in ids] == [1, 2, 3]
    assert [state(harness, i).episode_count_30d for i in ids] == [1, 2, 2]
    with harness.sessions() as s:
        assert s.scalar(select(tables.Episode.version).where(tables.Episode.episode_id == ids[2])) == 2
