"""A batch must decide exactly what the same events decide one at a time (docs/performance.md).

The batch mode reads some things once for the whole batch (repeats, source records, locks) and writes
the insert-only rows at its end (gateway/store/pending.py), so an event later in a batch has to find
what an earlier one did without the database: its source record, its idempotency key, its notices.
This test runs one stream of events through the processor twice on the same (emptied) store, once
event by event and once in batches of mixed sizes, with all five local protocols loaded and a fixed
clock, and compares everything the store holds, with episode ids (random) replaced by the first event
of each episode."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.episodes.processor import EventProcessor
from gateway.model import MissingEpisodeEvent
from gateway.routing.router import Router
from gateway.rules.loader import load_rulebook
from gateway.settings import REPO_ROOT
from gateway.store import tables
from gateway.store.db import make_engine, make_sessionmaker
from tests.helpers import another_child

EXAMPLE = json.loads((REPO_ROOT / "examples" / "canonical-event.json").read_text())
NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


def _event(child: int, kind: str, n: int, *, record: str | None = None, repeat_of: str | None = None) -> dict:
    doc = another_child(EXAMPLE, child)
    base = datetime(2026, 3, 3, 22, 15, tzinfo=UTC) + timedelta(minutes=n)
    doc["event_type"] = kind
    doc["occurred_at"] = base.isoformat()
    if record:
        doc["source"]["record_id"] = record
    if kind == "risk_changed":
        doc["episode"]["risk_level"] = "high"
    if kind == "found":
        doc["episode"]["found_at"] = base.isoformat()
    if child % 3 == 0:  # some placed out of area, some at home in their own council
        doc["care"]["host_la"] = "937"
    if child % 4 == 1:
        doc["care"] = {"looked_after": False, "responsible_la": "886", "case_status": "open"}
    doc |= {
        "event_id": str(uuid.uuid4()),
        "received_at": base.isoformat(),
        "idempotency_key": repeat_of or f"equivalence:{child}:{kind}:{record}:{n}",
    }
    return doc


def stream() -> list[MissingEpisodeEvent]:
    """Twelve children, interleaved: a report, a risk change and a found on the same record, a second
    system's record of the same child (found by its NHS number), and a partner's repeat."""
    docs: list[dict] = []
    for step in range(4):
        for child in range(12):
            if step == 0:
                docs.append(_event(child, "reported", 0))
            elif step == 1:
                docs.append(_event(child, "risk_changed", 10))
                if child % 2 == 0:
                    second = _event(child, "updated", 11, record=f"OTHER-{child}")
                    second["source"] = {**second["source"], "instance": "other"}
                    docs.append(second)
            elif step == 2 and child % 3 != 2:
                docs.append(_event(child, "found", 20))
            elif step == 3 and child % 2 == 1:
                docs.append(_event(child, "reported", 0, repeat_of=docs[child]["idempotency_key"]))
    return [MissingEpisodeEvent.model_validate(d) for d in docs]


def _wipe(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        for table in reversed(tables.Base.metadata.sorted_tables):
            s.execute(delete(table))


def _snapshot(sessions: sessionmaker[Session], events: list[MissingEpisodeEvent]) -> dict[str, Any]:
    order = {e.event_id: i for i, e in enumerate(events)}
    with sessions() as s:
        stored = s.execute(select(tables.Event.event_id, tables.Event.episode_id)).all()
        first: dict[uuid.UUID, int] = {}
        for event_id, episode_id in sorted(stored, key=lambda r: order[r[0]]):
            first.setdefault(episode_id, order[event_id])

        def ep(episode_id: uuid.UUID | None) -> int | str:
            return first.get(episode_id, "?") if episode_id is not None else "-"

        return {
            "events": sorted((order[e], ep(p)) for e, p in stored),
            "episodes": sorted(
                (
                    ep(r.episode_id),
                    r.status,
                    r.version,
                    r.responsible_la,
                    r.host_la,
                    json.dumps(r.state, sort_keys=True),
                ).__repr__().replace(str(r.episode_id), "EPISODE")
                for r in s.scalars(select(tables.Episode))
            ),
            "sources": sorted(
                (r.system, r.instance, r.record_id, ep(r.episode_id))
                for r in s.scalars(select(tables.EpisodeSource))
            ),
            "keys": sorted((r.key, r.kind, ep(r.episode_id)) for r in s.scalars(select(tables.EpisodeKey))),
            "notifications": Counter(
                (
                    order.get(n.event_id, -1) if n.event_id else -1,
                    ep(n.episode_id),
                    n.routing_key,
                    n.kind,
                    n.rule_id,
                    n.profile,
                )
                for n in s.scalars(select(tables.Notification))
            ),
            "disclosures": Counter(
                (ep(d.episode_id), d.recipient_kind, d.recipient_id, d.rule_id, tuple(sorted(d.fields)))
                for d in s.scalars(select(tables.Disclosure))
            ),
            "outbox": Counter((o.exchange, o.routing_key) for o in s.scalars(select(tables.Outbox))),
            "timers": Counter(
                (ep(t.episode_id), t.rule_id, t.status, t.due_at.isoformat(), (t.payload or {}).get("kind"))
                for t in s.scalars(select(tables.Timer))
            ),
            "reviews": Counter(
                (ep(r.episode_id), ep(r.candidate_episode_id), r.score)
                for r in s.scalars(select(tables.ReviewItem))
            ),
        }


def test_batches_decide_what_single_events_decide(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    events = stream()
    processor = EventProcessor(
        sessions, Router(rulebook=load_rulebook(REPO_ROOT / "mappings")), clock=lambda: NOW
    )
    try:
        for e in events:
            processor.process(e)
        one_by_one = _snapshot(sessions, events)
        _wipe(sessions)
        # Batches that hold several events of one child (a report and its update, a found, a
        # repeat), and a batch of one.
        sizes = iter([20, 1, 23])
        i = 0
        while i < len(events):
            size = next(sizes, 32)
            processor.process_batch(events[i : i + size])
            i += size
        batched = _snapshot(sessions, events)
    finally:
        engine.dispose()
    assert sum(one_by_one["notifications"].values()) > len(events)  # the stream does route (can fail)
    assert len({p for _, p in one_by_one["events"]}) < len(one_by_one["events"])  # and does correlate
    for part in one_by_one:
        assert batched[part] == one_by_one[part], part
