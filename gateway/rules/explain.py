"""``gateway rules explain``: which rules fire for an episode (and an event), and why; which do not,
and why not. Pure: nothing is stored or sent. The same evaluator as the live router."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.model import Episode, MissingEpisodeEvent
from gateway.routing.merge import Routed, materialise
from gateway.rules.conditions import holds
from gateway.rules.evaluate import (
    Candidate,
    Verdict,
    actions_of,
    digest_due,
    evaluate_event,
    fire_checks,
    normalise,
    plan_time_rule,
)
from gateway.rules.loader import Rulebook


@dataclass
class Explanation:
    at: datetime
    episode: Episode
    event: MissingEpisodeEvent | None
    areas: list[tuple[str, str]]
    normalised: list[str]
    verdicts: list[Verdict] = field(default_factory=list)
    notifications: list[Routed] = field(default_factory=list)
    digests: list[tuple[Candidate, datetime]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "episode_id": str(self.episode.episode_id),
            "event_type": self.event.event_type.value if self.event else None,
            "areas": [{"area": a, "why": why} for a, why in self.areas],
            "normalised_by": self.normalised,
            "rules": [
                {
                    "id": v.rule.id,
                    "area": v.rule.area,
                    "cite": v.rule.rule.cite,
                    "applies": v.applies,
                    "trigger": v.trigger,
                    "fires": v.fires,
                    "outcome": v.outcome,
                    "due_at": v.due_at.isoformat() if v.due_at else None,
                    "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in v.checks],
                    "unresolved": [
                        {"action": u.where, "recipient": u.recipient, "reason": u.reason}
                        for u in v.unresolved
                    ],
                }
                for v in self.verdicts
            ],
            "notifications": [
                r.notification.model_dump(mode="json", by_alias=True, exclude={"payload"}, exclude_none=True)
                | {"fields": r.fields}
                for r in self.notifications
            ],
            "digests": [
                {"rule": c.rule.id, "recipient": c.recipient.routing_key, "sent_at": when.isoformat()}
                for c, when in self.digests
            ],
        }


def explain(book: Rulebook, episode: Episode, event: MissingEpisodeEvent | None, at: datetime) -> Explanation:
    files = book.applicable(episode)
    episode, applied = normalise([f for f, _ in files], episode, at, book)
    out = Explanation(at, episode, event, [(f.area, why) for f, why in files], applied)
    applicable = {f.area: why for f, why in files}
    candidates: list[Candidate] = []
    if event is not None:
        outcome = evaluate_event(book, files, episode, event, at, explain=True)
        out.verdicts.extend(outcome.verdicts)
        candidates.extend(outcome.candidates)
    for f in book.files:
        for lr in f.rules:
            rule = lr.rule
            why = applicable.get(f.area)
            if rule.normalise is not None:
                v = Verdict(lr, why, rule.trigger, why is not None)
                v.outcome = (
                    ("applied" if lr.id in applied else "does not change this episode")
                    if why
                    else "area does not apply"
                )
                out.verdicts.append(v)
            elif rule.after is not None:
                v = Verdict(lr, why, rule.trigger, why is not None)
                if why is None:
                    v.outcome = "area does not apply to this episode"
                else:
                    plan = plan_time_rule(lr, episode, at, book)
                    v.due_at = plan.due_at
                    if plan.due_at is None:
                        v.triggered = False
                        v.outcome = f"no timer: {plan.anchor}"
                    elif plan.due_at > at:
                        v.checks = plan.checks
                        v.outcome = (
                            f"timer armed, due {plan.due_at.isoformat()}"
                            if plan.wanted
                            else "no timer: conditions do not hold now"
                        )
                        v.triggered = False
                    else:
                        v.checks = fire_checks(lr, episode, at, book, digest=False)
                        if holds(v.checks):
                            cands, missing = actions_of(lr, episode, plan.due_at, None, book)
                            v.candidates, v.unresolved = cands, missing
                            candidates.extend(cands)
                            v.outcome = f"due since {plan.due_at.isoformat()}: fires"
                        else:
                            v.outcome = f"due since {plan.due_at.isoformat()}: conditions do not hold"
                out.verdicts.append(v)
            elif event is None:
                v = Verdict(lr, why, rule.trigger, False)
                v.outcome = (
                    "event rule: give an event to see whether it fires" if why else "area does not apply"
                )
                out.verdicts.append(v)

    def defer(c: Candidate) -> None:
        out.digests.append((c, digest_due(c.rule, episode, c.trigger_at, book)))

    out.notifications = materialise(
        None,
        episode,
        candidates,
        book.profiles,
        cause="explain",
        event_id=event.event_id if event else None,
        now=at,
        defer_digest=defer,
    )
    out.verdicts.sort(key=lambda v: v.rule.order)
    return out


EXPLAIN_NS = uuid.UUID("6a0c3c55-5a3d-4f52-8f0b-9d3e4d0b7a11")
"""Stable ids for an explained event or episode, so the same file explains the same way twice."""


def subject_from_document(doc: dict[str, Any]) -> tuple[Episode, MissingEpisodeEvent | None]:
    """The episode to explain: the one an event would open, or an Episode document as given."""
    if "event_type" in doc:
        from gateway.episodes import lifecycle  # building the episode an event would open

        doc = dict(doc)
        doc.setdefault("event_id", str(uuid.uuid5(EXPLAIN_NS, json.dumps(doc, sort_keys=True, default=str))))
        doc.setdefault("received_at", doc.get("occurred_at"))
        doc.setdefault("idempotency_key", "explain:" + doc["event_id"])
        event = MissingEpisodeEvent.model_validate(doc)
        episode = lifecycle.new_episode(uuid.uuid5(EXPLAIN_NS, str(event.event_id)), event)
        return lifecycle.apply_event(episode, {}, event), event
    return Episode.model_validate(doc), None
