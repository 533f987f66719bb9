"""``gateway simulate`` and the live pipeline (real broker, worker, scheduler; SQLite and PostgreSQL)
give the same notifications for the same events: recipients, rules, deadlines, event or timer.

The events are in March 2026, so every timer is already due when the live scheduler runs; the live
test feeds the events in the same order the virtual clock does (timers due before the "found" fire
before it is sent)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from gateway.broker.publisher import ConfirmedPublisher
from gateway.broker.topology import INBOUND
from gateway.rules.loader import load_rulebook
from gateway.runtime import Worker, build_scheduler, build_worker, declare_topology, open_store
from gateway.settings import Settings
from gateway.simulate import Scenario, scenario_events, simulate
from gateway.store import tables
from tests.e2e.conftest import count
from tests.helpers import wait_until
from tests.rulesupport import PROTOCOLS, mappings

pytestmark = pytest.mark.broker

SCENARIO = """
name: Warwickshire child placed in Staffordshire, missing six days
until: 2026-03-20T00:00:00Z
events:
  - event_type: reported
    occurred_at: 2026-03-02T09:00:00Z
    source: {system: compact, instance: staffordshire-police, record_id: "MP/26/777"}
    child: {given_name: Jo, family_name: Test, date_of_birth: 2012-02-10}
    episode: {category: missing, missing_from: care_placement, risk_level: medium,
              last_seen_at: 2026-03-02T08:30:00Z, reported_at: 2026-03-02T09:00:00Z,
              police: {force: E23000015, reference: "MP/26/777"}}
    care: {looked_after: true, legal_status: s20, responsible_la: "937", host_la: "860", case_status: open}
  - event_type: updated
    occurred_at: 2026-03-02T10:00:00Z
    source: {system: compact, instance: staffordshire-police, record_id: "MP/26/777"}
    education: {school_urn: "125678", school_name: "Test Academy"}
  - event_type: found
    occurred_at: 2026-03-08T14:00:00Z
    source: {system: compact, instance: staffordshire-police, record_id: "MP/26/777"}
    episode: {found_at: 2026-03-08T14:00:00Z, found_by: police}
"""


def signature(notes: list[dict]) -> Counter:
    return Counter(
        (
            f"{n['recipient']['kind']}.{n['recipient']['id']}.{n['recipient']['role']}",
            n["kind"],
            tuple(sorted(r["id"] for r in n["rules"])),
            n.get("due_by"),
            n.get("urgency"),
            "timer" if n.get("event_id") is None else "event",
        )
        for n in notes
    )


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    return mappings(
        tmp_path, "staffordshire", "warwickshire", calendars=[PROTOCOLS / "calendars" / "warwickshire.yaml"]
    )


@pytest.fixture
def live(settings: Settings, rules_dir: Path) -> Iterator[tuple[Settings, Worker]]:
    s = settings.model_copy(update={"mappings_dir": rules_dir})
    engine, sessions = open_store(s)
    w = build_worker(s, sessions, name="live-test", with_scheduler=False).start()
    wait_until(w.consumer.connected.is_set, what="worker consuming")
    yield s, w
    w.stop()
    engine.dispose()


def test_simulate_equals_the_live_pipeline(live: tuple[Settings, Worker], rules_dir: Path) -> None:
    settings, _worker = live
    scenario = Scenario.model_validate(yaml.safe_load(SCENARIO))
    simulated = simulate(scenario, rulebook=load_rulebook(rules_dir))

    events = scenario_events(scenario)
    declare_topology(settings)
    engine, sessions = open_store(settings)
    publisher = ConfirmedPublisher(settings.amqp_url, name="live-test-source").start()
    scheduler = build_scheduler(settings, sessions, publisher, name="live-test")

    def send(index: int) -> None:
        e = events[index]
        publisher.publish_and_wait(
            INBOUND, f"{e.source.system.value}.{e.source.instance}", e.to_json(), message_id=str(e.event_id)
        )
        wait_until(lambda: count(settings, tables.Event) == index + 1, what=f"event {index + 1} processed")

    def run_timers() -> None:
        # Every timer armed so far is in the past: fire them all, and wait until each is processed.
        while scheduler.run_once():
            pass
        wait_until(
            lambda: count(settings, tables.Timer, tables.Timer.status.in_(["pending", "firing"])) == 0,
            what="every due timer processed",
        )

    try:
        send(0)
        send(1)
        run_timers()  # the virtual clock fires these before the "found" of 8 March
        send(2)
        run_timers()  # the school's "found" digest, due the next school morning
        with sessions() as s:
            live_notes = [dict(n.body) for n in s.scalars(select(tables.Notification))]
    finally:
        publisher.close()
        engine.dispose()

    assert signature(live_notes) == signature(simulated.notifications)
    # And the scenario exercised what it meant to: escalations, the UKMPU, a school digest, the RHI task.
    rules = {r for n in simulated.notifications for r in (x["id"] for x in n["rules"])}
    assert {
        "staffordshire.escalate-24h",
        "staffordshire.escalate-72h",
        "staffordshire.escalate-5d",
        "national.ukmpu-72h",
        "warwickshire.school-missing",
        "warwickshire.school-found",
        "warwickshire.ops-manager-72h",
        "national.return-interview",
    } <= rules
    assert json.dumps(simulated.to_json(), default=str)  # serialisable as `--json` prints it
