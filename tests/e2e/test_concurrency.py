"""Two processors handling events of one episode (or of one new child) at once give one consistent result."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.broker.publisher import ConfirmedPublisher
from gateway.broker.topology import INBOUND
from gateway.model import Episode, MissingEpisodeEvent
from gateway.model.build import idempotency_key
from gateway.runtime import Worker, build_worker, declare_topology, open_store
from gateway.settings import Settings
from gateway.store import tables
from tests.e2e.conftest import count
from tests.helpers import nhs_number, wait_until
from tests.rulesupport import mappings


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """These tests count the baseline's front-door notices under concurrent workers; the area files'
    escalations (long due for these past dates) would add their own.
    So: the national baseline only (tests/areas covers the areas' own rules)."""
    return settings.model_copy(update={"mappings_dir": mappings(tmp_path)})


@pytest.fixture
def two_workers(settings: Settings) -> Iterator[list[Worker]]:
    declare_topology(settings)
    engine, sessions = open_store(settings)
    workers = [
        build_worker(settings.model_copy(update={"prefetch": 8}), sessions, name=f"worker-{i}").start()
        for i in range(2)
    ]
    for w in workers:
        wait_until(w.consumer.connected.is_set, what="worker consuming")
    yield workers
    for w in workers:
        w.stop()
    engine.dispose()


def _event(
    record: str,
    seq: int,
    *,
    system: str,
    instance: str,
    child: dict,
    event_type: str = "updated",
    **groups: object,
) -> MissingEpisodeEvent:
    t = datetime(2026, 5, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=seq)
    return MissingEpisodeEvent.model_validate(
        {
            "event_type": event_type,
            "occurred_at": t,
            "received_at": datetime.now(UTC),
            "source": {
                "system": system,
                "instance": instance,
                "record_id": record,
                "event_id": f"{record}-{seq}",
            },
            "idempotency_key": idempotency_key(system, instance, record, f"{record}-{seq}"),
            "child": child,
            **groups,
        }
    )


def _publish(settings: Settings, events: list[MissingEpisodeEvent]) -> None:
    publisher = ConfirmedPublisher(settings.amqp_url, name="concurrency-test").start()
    try:
        futures = [
            publisher.publish(
                INBOUND,
                f"{e.source.system.value}.{e.source.instance}",
                e.to_json(),
                message_id=str(e.event_id),
            )
            for e in events
        ]
        for f in futures:
            f.result(30)
    finally:
        publisher.close()


def test_two_workers_updating_one_episode_lose_nothing(settings: Settings, two_workers: list[Worker]) -> None:
    child = {"given_name": "Ash", "ids": {"nhs_number": nhs_number(7)}}
    events = [
        _event(
            "MP/9",
            i,
            system="compact",
            instance="staffordshire-police",
            child=child,
            event_type="reported" if i == 0 else "updated",
            episode={"circumstances": f"note {i}", "last_seen_at": "2026-05-01T10:00:00Z"},
            care={"responsible_la": "860"},
        )
        for i in range(40)
    ]
    _publish(settings, events)
    wait_until(lambda: count(settings, tables.Event) == 40, timeout=60, what="all events processed")
    engine, sessions = open_store(settings)
    with sessions() as s:
        [row] = s.scalars(select(tables.Episode)).all()
        episode = Episode.model_validate(row.state)
    engine.dispose()
    assert row.version == 40  # every update applied to the latest state, none overwritten
    assert {str(e) for e in episode.event_ids} == {str(e.event_id) for e in events}
    assert episode.episode.circumstances == "note 39"  # the latest occurred_at wins whatever the order
    # One front-door notice per event (the 72-hour UK Missing Persons Unit timer adds its own).
    assert count(settings, tables.Notification, tables.Notification.routing_key == "la.860.front_door") == 40


def test_two_workers_receiving_a_new_childs_reports_from_two_sources_open_one_episode(
    settings: Settings, two_workers: list[Worker]
) -> None:
    events = []
    for n in range(15):
        child = {"given_name": f"Kid{n}", "ids": {"nhs_number": nhs_number(100 + n)}}
        events.append(
            _event(
                f"MP/{n}",
                0,
                system="compact",
                instance="staffordshire-police",
                child=child,
                event_type="reported",
                episode={"last_seen_at": "2026-05-01T10:00:00Z"},
                care={"responsible_la": "886", "host_la": "860"},
            )
        )
        events.append(
            _event(
                f"MPP-{n}",
                0,
                system="liberi",
                instance="kent-liberi",
                child=child,
                event_type="reported",
                episode={"last_seen_at": "2026-05-01T10:05:00Z"},
                care={"responsible_la": "886", "host_la": "860"},
            )
        )
    _publish(settings, events)
    wait_until(lambda: count(settings, tables.Event) == len(events), timeout=60, what="all events processed")
    engine, sessions = open_store(settings)
    with sessions() as s:
        per_child = {}
        for row in s.scalars(select(tables.Episode)):
            ep = Episode.model_validate(row.state)
            per_child.setdefault(ep.child.ids.nhs_number, []).append(ep)
    engine.dispose()
    assert len(per_child) == 15
    assert all(len(eps) == 1 and len(eps[0].source_refs) == 2 for eps in per_child.values()), {
        k: len(v) for k, v in per_child.items()
    }
