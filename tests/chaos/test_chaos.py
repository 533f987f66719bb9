"""Fault injection (issue 11): 10,000 events through the real processes while they are killed.

During the run the two processors, the outbox relay and the delivery worker are each killed with
SIGKILL at random moments (several times) and restarted, RabbitMQ is restarted once and PostgreSQL is
stopped for 30 seconds. The sources behave as real ones do: anything but a 202 is sent again.
Afterwards:

- every ingested event produced exactly the notifications the rule engine says it should (computed
  independently, by ``gateway.rules.explain`` on each event shape, without broker or store), keyed by
  the source record and the recipient's routing key: nothing lost, nothing extra;
- the delivery layer recorded each notification delivered exactly once per channel endpoint (the
  ``deliveries`` row, unique per notification and endpoint, in status ``delivered``), and every
  notification id is in its recipient's queue;
- the dead-letter queue is empty and no delivery is dead.

Copies of one notification id in a recipient queue can exceed one: the outbox relay is at least once
(a relay killed after the broker's confirm and before its commit publishes the batch again), which is
why recipients deduplicate on ``notification_id`` (DESIGN.md). The test counts those copies, checks
each repeat is byte-identical to the first (so deduplication on the id is safe), and prints them.

Private broker and database (tests/chaos/services.py): the shared ones are never touched. Seeded by
``GATEWAY_CHAOS_SEED`` (printed), size by ``GATEWAY_CHAOS_EVENTS`` (default 10,000).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pika
import pytest
from sqlalchemy import func, select

from bench.stack import ALL_RECIPIENTS, stable_mappings
from gateway.delivery.directory import directory_from_settings
from gateway.delivery.provision import declare_recipient
from gateway.rules.explain import explain, subject_from_document
from gateway.rules.loader import load_rulebook
from gateway.settings import Settings
from gateway.store import tables
from gateway.store.db import make_engine, make_sessionmaker, transaction
from gateway.store.migrate import upgrade
from tests.chaos.cluster import Cluster
from tests.chaos.services import PG_BIN, RABBIT_BIN, PrivatePostgres, PrivateRabbit, free_port
from tests.helpers import nhs_number

pytestmark = pytest.mark.chaos

# 10,000 as the issue asks: about 6 minutes on two shared cores (docs/performance.md). A slower machine
# can run fewer with GATEWAY_CHAOS_EVENTS (the faults are the same).
EVENTS = int(os.environ.get("GATEWAY_CHAOS_EVENTS", "10000"))
SEED = int(os.environ.get("GATEWAY_CHAOS_SEED", str(time.time_ns() % 1_000_000)))
PER_REQUEST = 50
PG_OUTAGE_S = 30.0
SETTLE_TIMEOUT_S = float(os.environ.get("GATEWAY_CHAOS_SETTLE_S", "600"))

# Event shapes: (responsible LA, host LA, police force). Out of area in both directions, in area, and
# a police-only report with no care details.
SHAPES: list[tuple[str | None, str | None, str]] = [
    ("886", "860", "E23000015"),  # Kent child placed in Staffordshire
    ("831", "831", "E23000018"),  # Derby child at home
    ("212", "886", "E23000032"),  # Wandsworth child placed in Kent
    ("861", "860", "E23000015"),  # Stoke child placed in Staffordshire
    (None, "937", "E23000017"),  # police-only: Warwickshire address, no responsible LA known
]


def _letters(n: int) -> str:
    return "".join(chr(ord("a") + (n // 26**k) % 26) for k in range(4))


def make_event(i: int, now: datetime) -> dict[str, Any]:
    responsible, host, force = SHAPES[i % len(SHAPES)]
    # last seen just now: the national 72-hour timer is not due during the run (timers are not run here).
    seen = now - timedelta(minutes=30)
    care: dict[str, Any] = {"case_status": "open"}
    if responsible:
        care |= {"looked_after": True, "legal_status": "s31_care_order", "responsible_la": responsible}
    if host:
        care["host_la"] = host
    return {
        "event_type": "reported",
        "occurred_at": now.isoformat(),
        "source": {"record_id": f"CHAOS/{i:06d}", "event_id": f"chaos-{i}"},
        "child": {
            "given_name": "Sam",
            "family_name": "Chaos" + _letters(i),
            "date_of_birth": (datetime(2010, 1, 1) + timedelta(days=i % 2500)).date().isoformat(),
            "ids": {"nhs_number": nhs_number(i)},
        },
        "episode": {
            "category": "missing",
            "missing_from": "care_placement" if responsible else "home",
            "last_seen_at": seen.isoformat(),
            "reported_at": now.isoformat(),
            "risk_level": "medium",
            "police": {"force": force, "reference": f"MP/2026/{700000 + i:06d}"},
        },
        "care": care,
    }


def expected_routing_keys(mappings: Path, now: datetime) -> list[set[str]]:
    """Per shape, the recipients the rule engine notifies for such an event (no broker, no store)."""
    book = load_rulebook(mappings)
    out = []
    for shape in range(len(SHAPES)):
        doc = make_event(shape, now)
        doc["source"] |= {"system": "manual", "instance": "demo"}
        episode, event = subject_from_document(doc)
        keys = {
            r.notification.recipient.routing_key for r in explain(book, episode, event, now).notifications
        }
        assert keys, f"shape {shape} notifies nobody: the test would prove nothing"
        out.append(keys)
    return out


@pytest.fixture
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="gateway-chaos-"))
    path.chmod(0o755)  # the postgres user must reach its cluster's directory
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def services(base: Path) -> Iterator[tuple[PrivateRabbit, PrivatePostgres]]:
    missing = [str(p) for p in (RABBIT_BIN / "rabbitmq-server", PG_BIN / "initdb") if not p.exists()]
    if missing:
        pytest.fail(
            f"fault injection starts its own RabbitMQ and PostgreSQL and needs {', '.join(missing)}: "
            "install the Debian packages rabbitmq-server and postgresql-15 (scripts/ensure-services.sh "
            "does when run as root)"
        )
    pg = PrivatePostgres(base)
    rabbit = PrivateRabbit(base)
    try:
        pg.init()
        pg.start()
        rabbit.start()
        yield rabbit, pg
    finally:
        rabbit.stop()
        pg.stop()


class Loader(threading.Thread):
    """A source posting batches of events and sending again until each batch gets its 202."""

    def __init__(self, url: str, key: str, docs: list[dict[str, Any]]):
        super().__init__(name="chaos-loader", daemon=True)
        self.url, self.key, self.docs = url, key, docs
        self.statuses: Counter[str] = Counter()
        self.accepted = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=60) as c:
                for start in range(0, len(self.docs), PER_REQUEST):
                    body = orjson.dumps(self.docs[start : start + PER_REQUEST])
                    deadline = time.monotonic() + 300
                    while True:
                        try:
                            r = c.post(
                                "/ingest/manual/demo",
                                content=body,
                                headers={
                                    "Authorization": f"Bearer {self.key}",
                                    "Content-Type": "application/json",
                                },
                            )
                            self.statuses[str(r.status_code)] += 1
                            if r.status_code == 202:
                                self.accepted += len(r.json()["event_ids"])
                                break
                            assert r.status_code >= 500 or r.status_code == 429, r.text
                        except httpx.HTTPError as exc:
                            self.statuses[type(exc).__name__] += 1
                        assert time.monotonic() < deadline, "a batch was refused for 5 minutes"
                        time.sleep(0.5)
        except BaseException as exc:  # reported by the test thread
            self.error = exc


def faults(cluster: Cluster, rabbit: PrivateRabbit, pg: PrivatePostgres, rng: random.Random) -> list[str]:
    """Kill -9 each part at random moments (and restart it), restart RabbitMQ once, stop PostgreSQL
    for 30 s once; in a random order with random gaps. Returns what was done, for the report."""
    steps: list[str] = (
        ["processor-1", "processor-2", "processor-1", "processor-2"]
        + ["relay"] * 3
        + ["deliver"] * 2
        + ["rabbitmq", "postgresql"]
    )
    rng.shuffle(steps)
    done = []
    for step in steps:
        time.sleep(rng.uniform(2.0, 9.0))
        t = time.monotonic()
        if step == "rabbitmq":
            rabbit.stop()
            time.sleep(rng.uniform(1.0, 3.0))
            rabbit.start()
        elif step == "postgresql":
            pg.stop()
            time.sleep(PG_OUTAGE_S)
            pg.start()
        else:
            cluster.kill9(step)
            time.sleep(rng.uniform(0.2, 3.0))
            cluster.start(step)
        done.append(f"{step} ({time.monotonic() - t:.1f}s)")
    return done


def _count(sessions: Any, stmt: Any) -> int:
    with sessions() as s:
        return int(s.scalar(stmt) or 0)


def drain_queue(url: str, queue: str) -> list[tuple[str, bytes]]:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    out: list[tuple[str, bytes]] = []
    try:
        ch = conn.channel()
        declare_recipient(ch, queue, queue)  # a recipient nobody notified has no queue yet
        while True:
            method, props, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                return out
            out.append((props.message_id, body))
    finally:
        conn.close()


def queue_depth(url: str, queue: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return int(conn.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        conn.close()


@pytest.mark.timeout(1500)
def test_chaos_nothing_lost_nothing_doubled(
    services: tuple[PrivateRabbit, PrivatePostgres], base: Path
) -> None:
    chaos_run(services, base, EVENTS)


def chaos_run(services: tuple[PrivateRabbit, PrivatePostgres], base: Path, events: int) -> None:
    rabbit, pg = services
    rng = random.Random(SEED)
    print(f"\nchaos: seed {SEED}, {events} events")
    db_url = pg.url
    upgrade(db_url)
    mappings = base / "mappings"
    # Stable rules and a directory where every recipient reads an AMQP queue (see stable_mappings).
    stable_mappings(mappings, ALL_RECIPIENTS)
    settings = Settings(amqp_url=rabbit.url, database_url=db_url, mappings_dir=mappings, environment="test")
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    from gateway.security.keys import create_key

    with transaction(sessions) as s:
        key = create_key(s, name="chaos source", role="source", scopes=["ingest:manual/demo"]).secret
        operator = create_key(s, name="chaos probe", role="operator", scopes=[]).secret

    now = datetime.now(UTC)
    per_shape = expected_routing_keys(mappings, now)
    docs = [make_event(i, now) for i in range(events)]
    expected = {
        (d["source"]["record_id"], rk) for i, d in enumerate(docs) for rk in per_shape[i % len(SHAPES)]
    }

    port = free_port()
    logs = base / "logs"
    logs.mkdir()
    cluster = Cluster(
        {
            "GATEWAY_AMQP_URL": rabbit.url,
            "GATEWAY_DATABASE_URL": db_url,
            "GATEWAY_MAPPINGS_DIR": str(mappings),
            "GATEWAY_ENVIRONMENT": "test",
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_API_PORT": str(port),
            "GATEWAY_RATE_LIMIT_PER_MINUTE": "100000",
            # Each kill -9 and the broker restart return a consumer's unacked messages and count as a
            # delivery; the limit is for poison messages, so it is above the number of faults injected.
            "GATEWAY_DELIVERY_LIMIT": "20",
            "GATEWAY_PUBLISH_CONFIRM_TIMEOUT_S": "10",
            "GATEWAY_HEARTBEAT_S": "10",
        },
        logs,
    )
    loader: Loader | None = None
    try:
        cluster.add("api", "serve")
        cluster.wait_api(f"http://127.0.0.1:{port}", operator)
        cluster.add("processor-1", "worker", "--only", "processor")
        cluster.add("processor-2", "worker", "--only", "processor")
        cluster.add("relay", "worker", "--only", "relay")
        cluster.add("deliver", "deliver")
        started = time.monotonic()
        loader = Loader(f"http://127.0.0.1:{port}", key, docs)
        loader.start()
        done = faults(cluster, rabbit, pg, rng)
        print(f"faults done after {time.monotonic() - started:.0f}s:", ", ".join(done), flush=True)
        loader.join(600)
        assert not loader.is_alive(), "the source could not deliver its events"
        assert loader.error is None, f"source failed: {loader.error!r}"
        print(f"ingest: {loader.accepted} events accepted, responses {dict(loader.statuses)}")
        assert all(cluster.alive().values()), cluster.alive()

        # Let the pipeline finish: every event processed, every outbox row published, every
        # notification's delivery recorded, nothing waiting in gateway.process.
        chaos_events = select(func.count(func.distinct(tables.Event.source_record_id)))
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while True:
            processed = _count(sessions, chaos_events)
            unpublished = _count(
                sessions,
                select(func.count()).select_from(tables.Outbox).where(tables.Outbox.published_at.is_(None)),
            )
            notified = _count(sessions, select(func.count()).select_from(tables.Notification))
            delivered = _count(
                sessions,
                select(func.count(func.distinct(tables.Delivery.notification_id))).where(
                    tables.Delivery.status == "delivered"
                ),
            )
            settled = processed >= events and unpublished == 0 and delivered >= notified > 0
            if settled and queue_depth(rabbit.url, "gateway.process") == 0:
                break
            if int(time.monotonic() - started) % 30 == 0:
                print(
                    f"  t={time.monotonic() - started:.0f}s: {processed} events, {unpublished} unpublished, "
                    f"{delivered}/{notified} delivered",
                    flush=True,
                )
            assert time.monotonic() < deadline, (
                f"not settled: {processed}/{events} events, {unpublished} unpublished, "
                f"{delivered}/{notified} delivered"
            )
            time.sleep(1.0)
        elapsed = time.monotonic() - started
        print(f"settled after {elapsed:.0f}s: {processed} events, {notified} notifications")
        time.sleep(2.0)  # late duplicates from a re-published relay batch are counted too

        # What the recipients received, by notification id.
        directory = directory_from_settings(settings)
        queues = sorted(
            str(ep.settings()["queue"])
            for e in directory.entries.values()
            for ep in e.endpoints()
            if ep.channel == "amqp"
        )
        copies: Counter[str] = Counter()
        first_body: dict[str, bytes] = {}
        changed: list[str] = []
        received: set[str] = set()
        for q in queues:
            for message_id, body in drain_queue(rabbit.url, q):
                copies[message_id] += 1
                if message_id in first_body and first_body[message_id] != body:
                    changed.append(message_id)
                first_body.setdefault(message_id, body)
                received.add(message_id)

        with sessions() as s:
            record_of = dict(
                s.execute(select(tables.Event.event_id, tables.Event.source_record_id)).tuples().all()
            )
            notes = (
                s.execute(
                    select(
                        tables.Notification.notification_id,
                        tables.Notification.event_id,
                        tables.Notification.routing_key,
                    )
                )
                .tuples()
                .all()
            )
            per_endpoint = (
                s.execute(
                    select(tables.Delivery.notification_id, tables.Delivery.endpoint, tables.Delivery.status)
                )
                .tuples()
                .all()
            )
            dead_deliveries = [r for r in per_endpoint if r[2] != "delivered"]
            receipts = Counter(
                (n, e)
                for n, e in s.execute(
                    select(tables.DeliveryReceipt.notification_id, tables.DeliveryReceipt.endpoint).where(
                        tables.DeliveryReceipt.outcome == "delivered"
                    )
                ).tuples()
            )

        actual = Counter((record_of[e], rk) for _, e, rk in notes)
        duplicates_in_store = {k: v for k, v in actual.items() if v > 1}
        missing = expected - set(actual)
        extra = set(actual) - expected
        note_ids = {str(n) for n, _, _ in notes}
        kills = {n: p.kills for n, p in cluster.parts.items()}
        print(
            f"recipients: {sum(copies.values())} copies of {len(copies)} notification ids in "
            f"{len(queues)} queues; {sum(v - 1 for v in copies.values())} repeat copies "
            f"(at-least-once relay); kills {kills}"
        )
        assert loader.accepted >= events
        assert not missing, f"{len(missing)} expected notifications never made, e.g. {sorted(missing)[:5]}"
        assert not extra, f"{len(extra)} notifications nobody expected, e.g. {sorted(extra)[:5]}"
        assert not duplicates_in_store, (
            f"an event notified a recipient twice: {list(duplicates_in_store.items())[:5]}"
        )
        assert note_ids - received == set(), (
            f"{len(note_ids - received)} notification ids never reached their queue"
        )
        assert received - note_ids == set(), "a queue holds a notification the store does not know"
        assert not changed, f"repeats of a notification id differ: {changed[:5]}"
        # Once per channel: one deliveries row per notification and endpoint, delivered, one receipt.
        assert not dead_deliveries, f"{len(dead_deliveries)} deliveries not delivered: {dead_deliveries[:5]}"
        per_note = Counter(n for n, _, _ in per_endpoint)
        assert set(map(str, per_note)) == note_ids
        assert all(v == 1 for v in per_note.values()), "a notification has two delivery rows for one endpoint"
        assert all(v == 1 for v in receipts.values()), (
            f"delivered twice on one channel: {[k for k, v in receipts.items() if v > 1][:5]}"
        )
        assert queue_depth(rabbit.url, "missing.dead") == 0, "the dead-letter queue is not empty"
    finally:
        cluster.stop_all()
        engine.dispose()
        if loader is not None and loader.is_alive():
            print("loader still running at teardown")
        for name in cluster.parts:
            tail = cluster.log(name)[-1500:]
            if "Traceback" in tail:
                print(f"--- {name} log tail ---\n{tail}")


def test_expected_notifications_are_computed_from_the_rules() -> None:
    """The oracle itself can fail: an out-of-area shape notifies both authorities, an in-area one one."""
    now = datetime.now(UTC)
    mappings = Path(tempfile.mkdtemp(prefix="gateway-chaos-rules-"))
    try:
        stable_mappings(mappings / "m", ALL_RECIPIENTS)
        keys = expected_routing_keys(mappings / "m", now)
    finally:
        shutil.rmtree(mappings, ignore_errors=True)
    assert {"la.886.front_door", "la.860.front_door"} <= keys[0]
    assert keys[1] == {"la.831.front_door"}
