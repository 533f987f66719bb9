"""``gateway simulate SCENARIO.yaml``: what the gateway does, under the shipped rules, when these events
happen (contracts/CANONICAL.md §4). No broker: a virtual clock runs the REAL processor, router, rules
and timer scheduler in-process against a throw-away SQLite store built by the real migrations. Only the
clock and the transport differ from the live pipeline.

Clock: events are taken in file order, each arriving at its ``received_at`` (default: ``occurred_at``);
before each arrival, every timer due strictly earlier fires, at its due time and in due order; a timer
due at the very instant an event arrives fires just after it (so "still missing after exactly 24
hours" sees a "found" that arrived at that instant). After the last event the clock runs to ``until``
(inclusive; default: the last arrival). The clock never goes back: an event whose time is earlier than
the clock is processed at the clock's time (its ``occurred_at`` still orders the episode's facts).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.episodes.history import DEFAULT_WINDOWS
from gateway.episodes.processor import EventProcessor
from gateway.model import MissingEpisodeEvent
from gateway.model.build import idempotency_key
from gateway.model.types import UtcDateTime
from gateway.routing.router import Router
from gateway.rules.evaluate import Unresolved
from gateway.rules.loader import Rulebook, load_rulebook
from gateway.rules.yamlio import load_yaml
from gateway.store import tables
from gateway.store.db import make_engine, make_sessionmaker
from gateway.store.migrate import upgrade
from gateway.timers import store as timer_store
from gateway.timers.scheduler import DirectTransport, TimerScheduler

SIMULATION_NS = uuid.UUID("0f6f9b3e-8d4c-4c1a-a3f7-3c2d7f1e9a20")
MAX_TIMER_STEPS = 100_000


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "scenario"
    now: UtcDateTime | None = None
    until: UtcDateTime | None = None
    events: list[dict[str, Any]] = Field(min_length=1)


class ScenarioError(ValueError):
    pass


def load_scenario(path: Path) -> Scenario:
    try:
        return Scenario.model_validate(load_yaml(path))
    except Exception as exc:
        raise ScenarioError(f"{path}: {exc}") from exc


def scenario_events(scenario: Scenario) -> list[MissingEpisodeEvent]:
    """Fill in what a scenario may leave out (event_id, received_at, idempotency_key, child),
    deterministically, so the same scenario gives the same ids every run."""
    events = []
    for i, raw in enumerate(scenario.events):
        doc = dict(raw)
        source = doc.get("source") or {}
        doc.setdefault("event_id", str(uuid.uuid5(SIMULATION_NS, f"{scenario.name}|{i}")))
        doc.setdefault("received_at", doc.get("occurred_at"))
        # A follow-up event (CANONICAL.md §4's own "found") may leave the child out: it is matched to
        # its episode by its source record.
        doc.setdefault("child", {})
        if "idempotency_key" not in doc:
            doc["idempotency_key"] = idempotency_key(
                str(source.get("system")),
                str(source.get("instance")),
                str(source.get("record_id")),
                str(source.get("event_id") or f"simulated-{i}"),
            )
        try:
            events.append(MissingEpisodeEvent.model_validate(doc))
        except Exception as exc:
            raise ScenarioError(f"event {i + 1}: {exc}") from exc
    return events


@dataclass
class SimulationResult:
    notifications: list[dict[str, Any]]
    episodes: list[dict[str, Any]]
    review_items: list[dict[str, Any]]
    unresolved: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The CANONICAL.md §4 output: exactly these three keys."""
        return {
            "notifications": self.notifications,
            "episodes": self.episodes,
            "review_items": self.review_items,
        }


class _Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


# contracts/CANONICAL.md §4's example: the console's scenario form starts from it; tests run it.
EXAMPLE_SCENARIO = """\
name: Kent child placed in Staffordshire goes missing, found after 30 hours
now: 2026-03-02T09:00:00Z
until: 2026-03-10T00:00:00Z
events:
  - event_type: reported
    occurred_at: 2026-03-02T09:00:00Z
    source: {system: compact, instance: staffordshire-police, record_id: "MP/26/1234"}
    child: {given_name: Sam, family_name: Test, date_of_birth: 2011-05-01,
            ids: {la_ids: [{la_code: "886", id: "K123"}]}}
    episode: {category: missing, missing_from: care_placement, risk_level: medium,
              last_seen_at: 2026-03-02T08:30:00Z}
    care: {looked_after: true, legal_status: s31_care_order, responsible_la: "886", host_la: "860",
           case_status: open}
  - event_type: found
    occurred_at: 2026-03-03T15:00:00Z
    source: {system: compact, instance: staffordshire-police, record_id: "MP/26/1234"}
"""


_template_lock = threading.Lock()
_template: Path | None = None


def _fresh_store(target: Path) -> str:
    """A new SQLite store at ``target``, built by the migrations. The migrated file is made once per
    process and copied after that: every scenario still starts from exactly the schema the migrations
    build, without running them again (a test suite runs hundreds of scenarios)."""
    global _template
    with _template_lock:
        if _template is None or not _template.exists():
            folder = Path(tempfile.mkdtemp(prefix="gateway-simulate-template-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            upgrade(f"sqlite:///{folder / 'template.db'}")
            _template = folder / "template.db"
        shutil.copyfile(_template, target)
    return f"sqlite:///{target}"


def simulate(
    scenario: Scenario, *, mappings_dir: Path | None = None, rulebook: Rulebook | None = None
) -> SimulationResult:
    events = scenario_events(scenario)
    book = rulebook or load_rulebook(mappings_dir or Path(__file__).resolve().parents[1] / "mappings")
    arrivals = [e.received_at for e in events]
    clock = _Clock(scenario.now or min(arrivals))
    until = scenario.until or max([clock.now, *arrivals])
    unresolved: list[dict[str, Any]] = []

    def noted(episode: Any, u: Unresolved) -> None:
        unresolved.append(
            {
                "at": clock.now.isoformat(),
                "episode_id": str(episode.episode_id),
                "rule_id": u.rule_id,
                "action": u.where,
                "recipient": u.recipient,
                "reason": u.reason,
            }
        )

    with tempfile.TemporaryDirectory(prefix="gateway-simulate-") as tmp:
        url = _fresh_store(Path(tmp) / "simulate.db")
        engine = make_engine(url)
        try:
            sessions = make_sessionmaker(engine)
            router = Router(rulebook=book, on_unresolved=noted)
            processor = EventProcessor(
                sessions,
                router,
                clock=clock,
                transient_retry_s=0,
                windows=tuple(sorted(set(DEFAULT_WINDOWS) | set(book.windows()))),
            )
            scheduler = TimerScheduler(sessions, DirectTransport(processor.process_timer), clock=clock)

            def run_timers(to: datetime, *, inclusive: bool) -> None:
                for _ in range(MAX_TIMER_STEPS):
                    with sessions() as s:
                        due = s.scalar(
                            select(tables.Timer.due_at)
                            .where(tables.Timer.status == timer_store.PENDING)
                            .order_by(tables.Timer.due_at)
                            .limit(1)
                        )
                    if due is None or due > to or (due == to and not inclusive):
                        return
                    clock.now = max(clock.now, due)
                    scheduler.run_once(clock.now)
                raise ScenarioError(f"more than {MAX_TIMER_STEPS} timer firings before {to.isoformat()}")

            for event in events:
                run_timers(event.received_at, inclusive=False)
                clock.now = max(clock.now, event.received_at)
                processor.process(event)
            run_timers(until, inclusive=True)
            clock.now = max(clock.now, until)
            with sessions() as s:
                return SimulationResult(_notifications(s), _episodes(s), _review_items(s), unresolved)
        finally:
            engine.dispose()


def _notifications(s: Session) -> list[dict[str, Any]]:
    # Outbox ids are in the order the notifications were created (created_at ties within one cause).
    order = {
        m: i for i, m in enumerate(s.scalars(select(tables.Outbox.message_id).order_by(tables.Outbox.id)))
    }
    notes = list(s.scalars(select(tables.Notification)))
    notes.sort(key=lambda n: (n.created_at, order.get(str(n.notification_id), 0)))
    return [dict(n.body) for n in notes]


def _episodes(s: Session) -> list[dict[str, Any]]:
    query = select(tables.Episode).order_by(tables.Episode.opened_at)
    merged = getattr(tables.Episode, "merged_into", None)
    if merged is not None:
        query = query.where(merged.is_(None))
    return [dict(row.state) for row in s.scalars(query)]


def _review_items(s: Session) -> list[dict[str, Any]]:
    try:
        from gateway.episodes.review import open_review_items
    except ImportError:
        return []
    return list(open_review_items(s))
