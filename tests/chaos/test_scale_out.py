"""Scale-out (issue 11): two processors and two outbox relays against one broker and one PostgreSQL
give the same result as one of each: the same episodes, the same notifications for the same events,
each published once to its recipient's queue.

The events come in waves (every child's report, then every child's update, ...): within a wave the
two processors work on different children at once and share the outbox; between waves each child's
events keep their order. Why waves: with competing consumers two events of ONE child can be processed
in either order, and which notices an event causes depends on what the episode already knew (an
"updated" processed before its "reported" opens the episode itself). One processor follows queue
order; two do not. The episode converges either way (DESIGN.md "Order"); the notices may differ. A
source that needs its own order kept must not send the next event before the previous one's 202.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pika
import pytest
from sqlalchemy import select

from bench.stack import ALL_RECIPIENTS, stable_mappings
from gateway.broker.publisher import ConfirmedPublisher
from gateway.broker.topology import INBOUND
from gateway.delivery.provision import declare_recipient
from gateway.model import MissingEpisodeEvent
from gateway.model.build import idempotency_key
from gateway.runtime import build_worker, declare_topology, open_store
from gateway.settings import Settings
from gateway.store import tables
from gateway.store.migrate import upgrade
from tests.conftest import Broker, _postgres_database
from tests.helpers import nhs_number, wait_until

CHILDREN = 40
RUN = uuid.uuid4().hex[:6]


def _events() -> list[MissingEpisodeEvent]:
    base = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    out = []
    for c in range(CHILDREN):
        responsible, host = [("886", "860"), ("831", "831"), ("212", "886"), ("861", "860")][c % 4]
        for seq, kind in enumerate(["reported", "updated", "risk_changed", "found"][: 1 + c % 4]):
            record = f"SCALE/{RUN}/{c}"
            t = base + timedelta(minutes=10 * seq)
            doc = {
                "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{record}/{seq}")),
                "event_type": kind,
                "occurred_at": t.isoformat(),
                "received_at": t.isoformat(),
                "source": {"system": "manual", "instance": "demo", "record_id": record, "event_id": f"{seq}"},
                "idempotency_key": idempotency_key("manual", "demo", record, f"{seq}"),
                "child": {
                    "given_name": "Alex",
                    "family_name": f"Scale{c}",
                    "date_of_birth": f"201{c % 5}-0{1 + c % 9}-1{c % 9}",
                    "ids": {"nhs_number": nhs_number(20_000 + c)},
                },
                "episode": {
                    "category": "missing",
                    "last_seen_at": base.isoformat(),
                    "risk_level": "high" if kind == "risk_changed" else "medium",
                    **({"found_at": t.isoformat()} if kind == "found" else {}),
                },
                "care": {"looked_after": True, "responsible_la": responsible, "host_la": host},
            }
            out.append(MissingEpisodeEvent.model_validate(doc))
    return out


@pytest.fixture
def two_deployments(broker: Broker, tmp_path: Path) -> Iterator[list[Settings]]:
    """Two empty deployments (own vhost, own PostgreSQL database) with the same rules: the statutory
    baseline and an AMQP queue for every council recipient (bench.stack.stable_mappings)."""
    stable_mappings(tmp_path / "mappings", ALL_RECIPIENTS)
    made: list[Settings] = []
    gens = []
    vhosts = []
    with broker.api() as api:
        for _ in range(2):
            name = f"gw-scale-{uuid.uuid4().hex[:10]}"
            api.put(f"/api/vhosts/{name}").raise_for_status()
            api.put(
                f"/api/permissions/{name}/{urllib.parse.quote(broker.user)}",
                json={"configure": ".*", "write": ".*", "read": ".*"},
            ).raise_for_status()
            vhosts.append(name)
            gen = _postgres_database()
            url = next(gen)
            gens.append(gen)
            upgrade(url)
            made.append(
                Settings(
                    amqp_url=broker.url_for(name),
                    database_url=url,
                    mappings_dir=tmp_path / "mappings",
                    relay_poll_interval_s=0.05,
                    prefetch=8,
                    process_batch_size=4,
                    environment="test",
                )
            )
    yield made
    for gen in gens:
        for _ in gen:
            pass
    with broker.api() as api:
        for name in vhosts:
            api.delete(f"/api/vhosts/{name}")


def _run(settings: Settings, copies: int, events: list[MissingEpisodeEvent]) -> dict[str, object]:
    declare_topology(settings)
    engine, sessions = open_store(settings)
    workers = [
        build_worker(
            settings,
            sessions,
            name=f"scale-{i}",
            with_scheduler=False,
            with_delivery=False,
            parts=frozenset({"processor", "relay"}),
        ).start()
        for i in range(copies)
    ]
    try:
        for w in workers:
            wait_until(w.consumer.connected.is_set, what="worker consuming")
        publisher = ConfirmedPublisher(settings.amqp_url, name="scale-source").start()
        sent = 0
        try:
            for wave in sorted({e.source.event_id for e in events}):
                batch = [e for e in events if e.source.event_id == wave]
                futures = [
                    publisher.publish(INBOUND, "manual.demo", e.to_json(), message_id=str(e.event_id))
                    for e in batch
                ]
                for f in futures:
                    f.result(30)
                sent += len(batch)

                def settled(n: int = sent) -> bool:
                    with sessions() as s:
                        done = len(s.scalars(select(tables.Event.event_id)).all()) == n
                        unpublished = s.scalars(
                            select(tables.Outbox.id).where(tables.Outbox.published_at.is_(None))
                        ).all()
                        return done and not unpublished

                wait_until(settled, timeout=180, what="the wave processed and published")
        finally:
            publisher.close()
        with sessions() as s:
            notes = (
                s.execute(
                    select(
                        tables.Notification.event_id,
                        tables.Notification.routing_key,
                        tables.Notification.kind,
                    )
                )
                .tuples()
                .all()
            )
            episodes = s.execute(select(tables.Episode.episode_id, tables.Episode.state)).tuples().all()
            note_ids = {str(n) for n in s.scalars(select(tables.Notification.notification_id))}
        by_episode = {
            str(eid): tuple(sorted(str(x) for x in state.get("event_ids", []))) for eid, state in episodes
        }
        # What reached the recipients' queues, by notification id.
        conn = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
        received: Counter[str] = Counter()
        try:
            ch = conn.channel()
            for rk in {rk for _, rk, _ in notes}:
                declare_recipient(ch, rk, rk)
                while True:
                    method, _props, body = ch.basic_get(rk, auto_ack=True)
                    if method is None:
                        break
                    received[json.loads(body)["notification_id"]] += 1
        finally:
            conn.close()
        return {
            "notifications": Counter((str(e), rk, k) for e, rk, k in notes),
            "episodes": sorted(by_episode.values()),
            "note_ids": note_ids,
            "received": received,
        }
    finally:
        for w in workers:
            w.stop()
        engine.dispose()


def test_two_processors_and_two_relays_give_the_same_result_as_one(two_deployments: list[Settings]) -> None:
    events = _events()
    one = _run(two_deployments[0], 1, events)
    two = _run(two_deployments[1], 2, events)
    assert one["notifications"], "the events notified nobody: the comparison would prove nothing"
    assert len(one["episodes"]) == CHILDREN  # type: ignore[arg-type]
    assert two["episodes"] == one["episodes"], "the events were grouped into different episodes"
    assert two["notifications"] == one["notifications"], "different notifications for the same events"
    for run in (one, two):
        assert set(run["received"]) == run["note_ids"], "a notification did not reach its queue"  # type: ignore[arg-type]
        assert max(run["received"].values()) == 1, "a notification was published twice"  # type: ignore[union-attr]
