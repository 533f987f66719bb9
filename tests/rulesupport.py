"""Helpers for the sharing-rules tests: rule books built from fixture files, canonical events, and a
processor + timer scheduler on a real database with a virtual clock (no broker)."""

from __future__ import annotations

import itertools
import shutil
import textwrap
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.episodes import lifecycle
from gateway.episodes.processor import EventProcessor, ProcessResult
from gateway.model import Episode, MissingEpisodeEvent
from gateway.model.build import idempotency_key
from gateway.routing.router import Router
from gateway.rules.loader import Rulebook, load_rulebook
from gateway.settings import REPO_ROOT
from gateway.store import tables
from gateway.store.db import make_engine, make_sessionmaker
from gateway.timers import store as timer_store
from gateway.timers.scheduler import DirectTransport, TimerScheduler

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "rules"
PROTOCOLS = FIXTURES / "protocols"
_seq = itertools.count(1)


def utc(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def mappings(
    tmp: Path,
    *areas: str | Path,
    national: bool = True,
    yaml: dict[str, str] | None = None,
    calendars: Iterable[Path] = (),
) -> Path:
    """A mappings directory: the shipped profiles, the shipped national.yaml (unless ``national`` is
    False), the named fixture areas (``"kent"`` → tests/fixtures/rules/protocols/areas/kent.yaml or a
    path), inline ``yaml`` files ({name: text}) and calendars."""
    root = tmp / f"mappings-{next(_seq)}"
    (root / "areas").mkdir(parents=True)
    (root / "calendars").mkdir()
    shutil.copy(REPO_ROOT / "mappings" / "profiles.yaml", root / "profiles.yaml")
    # The live pipeline also reads the source mappings and the recipient directory.
    shutil.copytree(REPO_ROOT / "mappings" / "sources", root / "sources")
    shutil.copytree(REPO_ROOT / "mappings" / "directory", root / "directory")
    if national:
        shutil.copy(REPO_ROOT / "mappings" / "areas" / "national.yaml", root / "areas" / "national.yaml")
    for area in areas:
        src = Path(area) if isinstance(area, Path) else PROTOCOLS / "areas" / f"{area}.yaml"
        shutil.copy(src, root / "areas" / src.name)
    for name, text in (yaml or {}).items():
        (root / "areas" / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    for cal in calendars:
        shutil.copy(cal, root / "calendars" / cal.name)
    return root


def book(tmp: Path, *areas: str | Path, **kwargs: Any) -> Rulebook:
    return load_rulebook(mappings(tmp, *areas, **kwargs))


def event(
    event_type: str = "reported", *, occurred_at: str = "2026-03-02T09:00:00Z", **groups: Any
) -> MissingEpisodeEvent:
    """A canonical event; groups (child, episode, care, education, health, source...) override defaults."""
    n = next(_seq)
    source = {"system": "compact", "instance": "test-police", "record_id": "MP/1", "event_id": f"c{n}"}
    source.update(groups.pop("source", {}))
    doc: dict[str, Any] = {
        "event_type": event_type,
        "occurred_at": occurred_at,
        "received_at": groups.pop("received_at", occurred_at),
        "source": source,
        "idempotency_key": idempotency_key(
            source["system"], source["instance"], source["record_id"], source["event_id"]
        ),
        "child": groups.pop(
            "child", {"given_name": "Sam", "family_name": "Test", "date_of_birth": "2012-05-01"}
        ),
    }
    doc.update(groups)
    return MissingEpisodeEvent.model_validate(doc)


PLACED = {
    "episode": {
        "category": "missing",
        "missing_from": "care_placement",
        "risk_level": "medium",
        "last_seen_at": "2026-03-02T08:30:00Z",
        "reported_at": "2026-03-02T09:00:00Z",
        "police": {"force": "E23000015", "reference": "MP/26/1"},
    },
    "care": {
        "looked_after": True,
        "legal_status": "s31_care_order",
        "responsible_la": "886",
        "host_la": "860",
        "case_status": "open",
    },
}


def episode_of(*events: MissingEpisodeEvent, **updates: Any) -> Episode:
    """The episode these events make (pure lifecycle; no correlation or history)."""
    ep = lifecycle.new_episode(uuid.uuid4(), events[0])
    times: dict[str, str] = {}
    for e in events:
        ep = lifecycle.apply_event(ep, times, e)
    return ep.model_copy(update=updates) if updates else ep


class Clock:
    def __init__(self, start: str):
        self.now = utc(start)

    def __call__(self) -> datetime:
        return self.now

    def at(self, text: str) -> Clock:
        self.now = utc(text)
        return self


class Harness:
    """The real processor and a scheduler on a real store; the clock is set by the test."""

    def __init__(self, database_url: str, rulebook: Rulebook, start: str = "2026-03-02T09:00:00Z"):
        self.engine = make_engine(database_url)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.clock = Clock(start)
        self.router = Router(rulebook=rulebook)
        self.processor = EventProcessor(
            self.sessions, self.router, clock=self.clock, transient_retry_s=0, windows=(30, 90)
        )
        self.scheduler = TimerScheduler(
            self.sessions, DirectTransport(self.processor.process_timer), clock=self.clock
        )

    def close(self) -> None:
        self.engine.dispose()

    def process(self, ev: MissingEpisodeEvent, at: str | None = None) -> ProcessResult:
        if at:
            self.clock.at(at)
        return self.processor.process(ev)

    def tick(self, at: str) -> int:
        self.clock.at(at)
        return self.scheduler.run_once()

    def notes(self) -> list[dict[str, Any]]:
        with self.sessions() as s:
            order = {
                m: i
                for i, m in enumerate(s.scalars(select(tables.Outbox.message_id).order_by(tables.Outbox.id)))
            }
            rows = list(s.scalars(select(tables.Notification)))
        rows.sort(key=lambda n: order.get(str(n.notification_id), 0))
        return [dict(r.body) for r in rows]

    def timers(self) -> list[tables.Timer]:
        with self.sessions() as s:
            return list(s.scalars(select(tables.Timer).order_by(tables.Timer.due_at)))

    def episode(self, episode_id: uuid.UUID) -> Episode:
        with self.sessions() as s:
            row = s.get(tables.Episode, episode_id)
            assert row is not None
            return Episode.model_validate(row.state)

    def live_timers(self) -> list[tables.Timer]:
        return [t for t in self.timers() if t.status in timer_store.LIVE]


def keys(notes: list[dict[str, Any]]) -> list[str]:
    r = [n["recipient"] for n in notes]
    return [f"{x['kind']}.{x['id']}.{x['role']}" for x in r]
