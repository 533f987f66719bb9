"""Timers on SQLite and PostgreSQL (no broker: the scheduler calls the processor directly): armed when
the trigger happens, moved, cancelled and re-armed with the episode, fired exactly at their time,
exactly once, whatever crashes or races."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateway.faults import InjectedFault
from gateway.timers import store as timer_store
from gateway.timers.messages import TimerMessage
from gateway.timers.scheduler import DirectTransport, TimerScheduler
from tests.rulesupport import PLACED, Harness, book, event, keys, utc


@pytest.fixture
def harness_for(database_url: str, tmp_path: Path) -> Iterator:
    made: list[Harness] = []

    def make(*areas: str, **kwargs) -> Harness:
        h = Harness(database_url, book(tmp_path, *areas, **kwargs))
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def by_rule(h: Harness) -> dict[str, object]:
    return {t.rule_id: t for t in h.timers()}


def test_time_rules_become_timers_when_their_trigger_happens(harness_for) -> None:
    h = harness_for("staffordshire")
    h.process(event(**PLACED))
    timers = by_rule(h)
    assert {r: (t.due_at, t.status) for r, t in timers.items()} == {
        "staffordshire.escalate-24h": (utc("2026-03-03T08:30:00Z"), "pending"),
        "national.ukmpu-72h": (utc("2026-03-05T08:30:00Z"), "pending"),
        "staffordshire.escalate-72h": (utc("2026-03-05T08:30:00Z"), "pending"),
        "staffordshire.escalate-5d": (utc("2026-03-07T08:30:00Z"), "pending"),
    }


def test_a_timer_fires_at_exactly_its_due_time_and_not_a_second_before(harness_for) -> None:
    h = harness_for("staffordshire")
    h.process(event(**PLACED))
    assert h.tick("2026-03-03T08:29:59Z") == 0
    assert h.tick("2026-03-03T08:30:00Z") == 1
    [n] = [n for n in h.notes() if n["recipient"]["role"] == "service_manager"]
    assert n["recipient"] == {"kind": "la", "id": "886", "role": "service_manager"}
    assert n["rule"]["id"] == "staffordshire.escalate-24h" and n["rule"]["cite"] == "§14.1"
    assert n["event_id"] is None and n["created_at"] == "2026-03-03T08:30:00Z"
    assert n["purpose"] == "Still missing 24 hours after last seen: escalate to the service manager"
    assert by_rule(h)["staffordshire.escalate-24h"].status == "fired"


def test_found_cancels_what_no_longer_applies_in_the_same_transaction(harness_for) -> None:
    h = harness_for("staffordshire")
    h.process(event(**PLACED))
    # Found at the very instant the 24-hour escalation falls due: "missing for over 24 hours" is false.
    h.process(
        event("found", occurred_at="2026-03-03T08:30:00Z", episode={"found_at": "2026-03-03T08:30:00Z"}),
        at="2026-03-03T08:30:00Z",
    )
    assert h.live_timers() == []
    t = by_rule(h)["staffordshire.escalate-24h"]
    assert t.status == "cancelled" and "status is found" in t.payload["cancel_reason"]
    assert h.tick("2026-03-20T00:00:00Z") == 0
    assert not [n for n in h.notes() if n["recipient"]["role"] in ("service_manager", "ukmpu")]


def test_a_corrected_last_seen_time_moves_the_timers(harness_for) -> None:
    h = harness_for()
    h.process(event(**PLACED))
    h.process(
        event(
            "updated", occurred_at="2026-03-02T11:00:00Z", episode={"last_seen_at": "2026-03-01T20:00:00Z"}
        ),
        at="2026-03-02T11:00:00Z",
    )
    [t] = h.timers()
    assert t.due_at == utc("2026-03-04T20:00:00Z") and t.status == "pending"


def test_a_timer_is_cancelled_and_rearmed_as_its_condition_changes(harness_for) -> None:
    h = harness_for("derby")
    groups = {
        "episode": {
            **PLACED["episode"],
            "risk_level": "no_apparent_risk",
            "police": {"force": "E23000018", "reference": "D/1"},
        },
        "care": {**PLACED["care"], "responsible_la": "831", "host_la": "831"},
    }
    h.process(event(**groups))
    nar = by_rule(h)["derby.no-apparent-risk-24h"]
    assert nar.status == "pending" and nar.due_at == utc("2026-03-03T09:00:00Z")
    h.process(
        event("risk_changed", occurred_at="2026-03-02T12:00:00Z", episode={"risk_level": "medium"}),
        at="2026-03-02T12:00:00Z",
    )
    assert by_rule(h)["derby.no-apparent-risk-24h"].status == "cancelled"
    h.process(
        event("risk_changed", occurred_at="2026-03-02T13:00:00Z", episode={"risk_level": "no_apparent_risk"}),
        at="2026-03-02T13:00:00Z",
    )
    again = by_rule(h)["derby.no-apparent-risk-24h"]
    assert again.status == "pending" and again.id == nar.id and "rearmed_at" in again.payload
    h.tick("2026-03-03T09:00:00Z")
    [task] = [n for n in h.notes() if n["rule"]["id"] == "derby.no-apparent-risk-24h"]
    assert task["kind"] == "task" and task["recipient"] == {
        "kind": "police",
        "id": "E23000018",
        "role": "police_missing_team",
    }
    assert task["due_by"] == "2026-03-03T09:00:00Z"


def test_a_repeating_timer_arms_its_next_occurrence(harness_for) -> None:
    h = harness_for("kent")
    groups = {**PLACED, "episode": {**PLACED["episode"], "risk_factors": ["uasc"]}}
    h.process(event(**groups))
    h.tick("2026-03-30T08:30:00Z")  # 28 days after last seen
    uasc = [t for t in h.timers() if t.rule_id == "kent.uasc-28d"]
    assert [(t.payload["key"], t.status) for t in uasc] == [("0", "fired"), ("1", "pending")]
    assert uasc[1].due_at == utc("2026-04-27T07:30:00Z")  # 28 calendar days later, 08:30 BST
    h.process(event("found", occurred_at="2026-04-01T10:00:00Z"), at="2026-04-01T10:00:00Z")
    assert [t.status for t in h.timers() if t.rule_id == "kent.uasc-28d"] == ["fired", "cancelled"]


def test_when_the_area_stops_applying_its_timers_are_cancelled(harness_for) -> None:
    h = harness_for("staffordshire")
    h.process(event(**PLACED))
    # The child is moved from Staffordshire (860) to Kent (886) and the report moves to Kent Police.
    h.process(
        event(
            "updated",
            occurred_at="2026-03-02T10:00:00Z",
            care={"host_la": "886"},
            episode={"police": {"force": "E23000032", "reference": "K/9"}},
        ),
        at="2026-03-02T10:00:00Z",
    )
    timers = by_rule(h)
    assert timers["staffordshire.escalate-24h"].status == "cancelled"
    assert "no longer applies" in timers["staffordshire.escalate-24h"].payload["cancel_reason"]
    assert timers["national.ukmpu-72h"].status == "pending"


def _message(h: Harness) -> TimerMessage:
    [t] = [t for t in h.timers() if t.rule_id == "national.ukmpu-72h"]
    return TimerMessage.of(t.id, t.episode_id, t.rule_id, t.due_at)


def test_a_repeated_timer_message_changes_nothing(harness_for) -> None:
    h = harness_for()
    h.process(event(**PLACED))
    message = _message(h)
    h.clock.at("2026-03-05T09:00:00Z")
    first = h.processor.process_timer(message)
    second = h.processor.process_timer(message)
    assert not first.duplicate and len(first.notification_ids) == 1
    assert second.duplicate and second.notification_ids == []
    assert keys(h.notes()).count("national.ukmpu.ukmpu") == 1


def test_a_crash_before_commit_leaves_nothing_and_the_refire_notifies_once(
    harness_for, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness_for()
    h.process(event(**PLACED))
    monkeypatch.setenv("GATEWAY_FAILPOINTS", "timer.before_commit=raise")
    with pytest.raises(InjectedFault):
        h.tick("2026-03-05T09:00:00Z")
    # Rolled back: no notification; the claim stands until its lease runs out (the process "died").
    [t] = h.timers()
    assert t.status == "firing" and "national.ukmpu.ukmpu" not in keys(h.notes())
    monkeypatch.delenv("GATEWAY_FAILPOINTS")
    assert h.tick("2026-03-05T09:05:00Z") == 0
    assert h.tick("2026-03-05T09:10:01Z") == 1
    assert keys(h.notes()).count("national.ukmpu.ukmpu") == 1


class Lost:
    """A transport that says it delivered but the message never arrives (a broker lost it)."""

    def __init__(self) -> None:
        self.sent: list[TimerMessage] = []

    def send(self, messages: list[TimerMessage]) -> list[bool]:
        self.sent.extend(messages)
        return [True] * len(messages)


class Refused:
    def send(self, messages: list[TimerMessage]) -> list[bool]:
        return [False] * len(messages)


def test_a_claim_whose_message_was_lost_is_taken_again_after_the_lease(harness_for) -> None:
    h = harness_for()
    h.process(event(**PLACED))
    lost = Lost()
    losing = TimerScheduler(h.sessions, lost, clock=h.clock, lease=timedelta(minutes=10), name="losing")
    h.clock.at("2026-03-05T09:00:00Z")
    assert losing.run_once() == 1
    [t] = h.timers()
    assert t.status == "firing" and t.fired_at == utc("2026-03-05T09:00:00Z")
    assert h.tick("2026-03-05T09:09:59Z") == 0  # still within the lease: nobody takes it
    assert h.tick("2026-03-05T09:10:01Z") == 1  # lease over: taken again and processed
    [t] = h.timers()
    assert t.status == "fired" and t.payload["attempts"] == 2
    assert keys(h.notes()).count("national.ukmpu.ukmpu") == 1
    # The lost message turns up late: ignored.
    assert h.processor.process_timer(lost.sent[0]).duplicate


def test_a_timer_that_keeps_getting_lost_is_marked_failed_loudly(harness_for) -> None:
    h = harness_for()
    h.process(event(**PLACED))
    sched = TimerScheduler(h.sessions, Lost(), clock=h.clock, lease=timedelta(seconds=1), max_attempts=3)
    with capture_logs() as logs:
        for minute in range(5):
            sched.run_once(utc(f"2026-03-05T09:0{minute}:00Z"))
    [t] = h.timers()
    assert t.status == "failed"
    assert [e for e in logs if e["event"] == "timers.failed" and e["log_level"] == "error"]


def test_a_refused_publish_gives_the_claim_back(harness_for) -> None:
    h = harness_for()
    h.process(event(**PLACED))
    sched = TimerScheduler(h.sessions, Refused(), clock=h.clock)
    assert sched.run_once(utc("2026-03-05T09:00:00Z")) == 0
    [t] = h.timers()
    assert t.status == "pending" and t.fired_at is None


def test_two_schedulers_at_once_hand_each_timer_over_exactly_once(harness_for) -> None:
    h = harness_for("staffordshire")
    for i in range(12):
        h.process(
            event(
                source={"record_id": f"MP/{i}"},
                child={"given_name": f"C{i}", "date_of_birth": "2012-01-01"},
                episode={**PLACED["episode"], "police": {"force": "E23000015", "reference": f"MP/{i}"}},
                care=PLACED["care"],
            )
        )
    assert len([t for t in h.timers() if t.status == "pending"]) == 48

    class Recording:
        def __init__(self) -> None:
            self.ids: list[str] = []
            self.lock = threading.Lock()

        def send(self, messages: list[TimerMessage]) -> list[bool]:
            with self.lock:
                self.ids.extend(str(m.timer_id) for m in messages)
            return [True] * len(messages)

    seen = Recording()
    start = threading.Barrier(2)
    now = utc("2026-03-10T00:00:00Z")

    def run(name: str) -> None:
        s = TimerScheduler(h.sessions, seen, clock=lambda: now, batch_size=5, name=name)
        start.wait()
        while s.run_once(now):
            pass

    threads = [threading.Thread(target=run, args=(f"s{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(seen.ids) == 48 and len(set(seen.ids)) == 48
    assert {t.status for t in h.timers()} == {timer_store.FIRING}


def test_direct_transport_reports_failures_when_asked_not_to_raise(harness_for) -> None:
    h = harness_for()
    h.process(event(**PLACED))

    def boom(_: TimerMessage) -> None:
        raise RuntimeError("processor down")

    sched = TimerScheduler(h.sessions, DirectTransport(boom, raise_errors=False), clock=h.clock)
    assert sched.run_once(utc("2026-03-05T09:00:00Z")) == 0
    assert [t.status for t in h.timers()] == ["pending"]
