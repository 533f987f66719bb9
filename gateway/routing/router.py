"""The sharing-rules engine at the processor's seam: episode change → notifications, and timers.

``Router.route(session, episode, event, now)`` runs inside the processor's transaction:

1. the area files that apply (national, the responsible LA's, the host LA's, the police area's);
2. ``normalise`` rules, recorded in the episode's ``data_quality`` and saved with it;
3. event rules → candidates → one notification per recipient per cause (:mod:`gateway.routing.merge`);
   digests become timers that send them before the next school day;
4. time rules → timers armed, moved, re-armed or cancelled to match the episode as it now stands (a
   found, closed or cancelled episode cancels, in this same transaction, what no longer applies).

``Router.fire`` is the other half: a due timer (and any other timer of the episode due at the same
instant) is re-checked against the current episode and turned into notifications.

A recipient whose id expression has no value (no school URN) is never dropped silently: it is logged
with the rule id, counted, and recorded in the episode's ``data_quality`` for operators.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy.orm import Session

from gateway.model import DataQualityIssue, Episode, EventType, MissingEpisodeEvent
from gateway.routing.merge import Routed, materialise, notification_id
from gateway.routing.metrics import NORMALISED, UNRESOLVED
from gateway.routing.profiles import Profile
from gateway.rules.conditions import holds
from gateway.rules.evaluate import (
    Candidate,
    Unresolved,
    actions_of,
    digest_due,
    evaluate_event,
    fire_checks,
    normalise,
    plan_time_rule,
)
from gateway.rules.loader import LoadedFile, Rulebook, load_rulebook
from gateway.settings import REPO_ROOT
from gateway.store import pending, tables
from gateway.timers import store as timer_store

log = structlog.get_logger(__name__)

__all__ = ["Routed", "Router", "notification_id"]


class Router:
    def __init__(
        self,
        profiles: dict[str, Profile] | None = None,
        rulebook: Rulebook | None = None,
        *,
        mappings_dir: Path | None = None,
        on_unresolved: Callable[[Episode, Unresolved], None] | None = None,
    ):
        """``Router(profiles)`` (the interim signature) loads the rules shipped in ``mappings/``;
        pass ``rulebook`` (``load_rulebook(dir)``) to use others. Invalid rules raise at once."""
        if rulebook is None:
            rulebook = load_rulebook(mappings_dir or REPO_ROOT / "mappings", profiles=profiles)
        self.rulebook = rulebook
        self.profiles = rulebook.profiles
        self._on_unresolved = on_unresolved

    # --- events -----------------------------------------------------------------------------
    def route(
        self, session: Session, episode: Episode, event: MissingEpisodeEvent, now: datetime
    ) -> list[Routed]:
        """Notifications this event causes; timers armed/cancelled in the same transaction."""
        book = self.rulebook
        files = book.applicable(episode)
        before = episode
        episode, applied = normalise([f for f, _ in files], episode, now, book)
        for rule_id in applied:
            NORMALISED.labels(rule_id=rule_id).inc()
            log.info("routing.normalised", episode_id=str(episode.episode_id), rule_id=rule_id)
        outcome = evaluate_event(book, files, episode, event, now)
        episode = self._unresolved(episode, outcome.unresolved)
        if episode != before:
            self._save_state(session, episode)

        def defer(c: Candidate) -> None:
            due = digest_due(c.rule, episode, c.trigger_at, book)
            once = bool(c.cause and c.cause.startswith("once:"))
            # A once-per-episode digest is held once per episode; any other, once per event.
            key = f"once:{c.where}" if once else f"{event.event_id}:{c.where}"
            timer_store.arm(
                session,
                episode.episode_id,
                c.rule.id,
                "digest",
                key,
                due,
                now,
                {
                    "where": c.where,
                    "event_id": str(event.event_id),
                    "event_type": event.event_type.value,
                    "trigger_at": c.trigger_at.isoformat(),
                    "area": c.rule.area,
                    "once": once,
                },
            )

        routed = materialise(
            session,
            episode,
            outcome.candidates,
            self.profiles,
            cause=f"event:{event.event_id}",
            event_id=event.event_id,
            now=now,
            defer_digest=defer,
        )
        self._reconcile(session, [f for f, _ in files], episode, now)
        return routed

    def reconcile(self, session: Session, episode: Episode, now: datetime) -> None:
        """Bring the episode's timers in line with its current state (e.g. after a merge or split)."""
        self._reconcile(session, [f for f, _ in self.rulebook.applicable(episode)], episode, now)

    # --- timers -----------------------------------------------------------------------------
    def fire(self, session: Session, episode: Episode, timer: tables.Timer, now: datetime) -> list[Routed]:
        """Notifications of a due timer and of every other live timer of the episode due at the same
        instant (one cause, so a recipient asked for by several of them gets one notice)."""
        if timer.status not in timer_store.LIVE:
            return []
        book = self.rulebook
        areas = {f.area for f, _ in book.applicable(episode)}
        everything = timer_store.timers_of(session, episode.episode_id)
        group = [t for t in everything if t.due_at == timer.due_at and t.status in timer_store.LIVE]
        if all(t.id != timer.id for t in group):
            group.append(timer)
        # Rule order (national first), as for an event, so the notices come out in a stable order.
        group.sort(key=lambda t: (book.rules[t.rule_id].order if t.rule_id in book.rules else -1, str(t.id)))
        fired = {timer_store.identity(t) for t in everything if t.status == timer_store.FIRED}
        candidates: list[Candidate] = []
        unresolved: list[Unresolved] = []
        for t in group:
            lr = book.rules.get(t.rule_id)
            payload = t.payload or {}
            kind = payload.get("kind", "after")
            reason = None
            if lr is None:
                reason = "rule no longer configured"
                log.error("timers.unknown_rule", timer_id=str(t.id), rule_id=t.rule_id)
            elif lr.area not in areas:
                reason = "the rule's area no longer applies to this episode"
            elif timer_store.identity(t) in fired:
                reason = "duplicate of a timer that already fired (episodes merged)"
            else:
                checks = fire_checks(lr, episode, now, book, digest=kind == "digest")
                if not holds(checks):
                    reason = "; ".join(c.detail for c in checks if not c.ok)
            if reason is not None or lr is None:
                timer_store.cancel(t, now, reason or "")
                log.info(
                    "timers.lapsed", timer_id=str(t.id), rule_id=t.rule_id, episode_id=str(episode.episode_id)
                )
                continue
            if kind == "digest":
                cands, missing = actions_of(
                    lr,
                    episode,
                    datetime.fromisoformat(payload["trigger_at"]),
                    EventType(payload["event_type"]),
                    book,
                    only=payload.get("where"),
                )  # once-ness was settled when it was armed (one timer per episode): merge by due time
            else:
                cands, missing = actions_of(lr, episode, t.due_at, None, book)
            candidates.extend(cands)
            unresolved.extend(missing)
            timer_store.mark_fired(t, now, timer.id)
            fired.add(timer_store.identity(t))
            after = lr.rule.after
            if kind == "after" and after is not None and after.every is not None:
                occurrence = int(payload.get("key", "0")) + 1
                plan = plan_time_rule(lr, episode, now, book, occurrence)
                if plan.due_at is not None:
                    timer_store.arm(
                        session,
                        episode.episode_id,
                        lr.id,
                        "after",
                        str(occurrence),
                        plan.due_at,
                        now,
                        {"anchor": plan.anchor, "area": lr.area},
                    )
        annotated = self._unresolved(episode, unresolved)
        if annotated != episode:
            self._save_state(session, annotated)
        return materialise(
            session,
            annotated,
            candidates,
            self.profiles,
            cause=f"timer:{timer.due_at.isoformat()}",
            event_id=None,
            now=now,
        )

    # --- internals --------------------------------------------------------------------------
    def _reconcile(self, session: Session, files: list[LoadedFile], episode: Episode, now: datetime) -> None:
        book = self.rulebook
        written = pending.of(session)
        if written is not None and episode.episode_id in written.new_episodes:
            timers = timer_store.timers_in_session(written.new_episodes[episode.episode_id])
        else:
            timers = timer_store.timers_of(session, episode.episode_id)
        known = {t.id for t in timers}
        applicable = {lr.id for f in files for lr in f.rules}
        handled: set[str] = set()
        for f in files:
            for lr in f.rules:
                if lr.rule.after is None:
                    continue
                handled.add(lr.id)
                rows = [
                    t
                    for t in timers
                    if t.rule_id == lr.id and (t.payload or {}).get("kind", "after") == "after"
                ]
                occurrence = max((int((t.payload or {}).get("key", "0")) for t in rows), default=0)
                current = [t for t in rows if (t.payload or {}).get("key", "0") == str(occurrence)]
                # After a merge two episodes' copies of one timer can meet: keep one.
                current.sort(key=lambda t: (t.status != timer_store.FIRED, t.due_at))
                for extra in current[1:]:
                    if extra.status in timer_store.LIVE:
                        timer_store.cancel(
                            extra, now, "duplicate of another timer for this rule (episodes merged)"
                        )
                row = current[0] if current else None
                if row is not None and row.status == timer_store.FIRED:
                    continue
                plan = plan_time_rule(lr, episode, now, book, occurrence)
                if plan.wanted:
                    assert plan.due_at is not None
                    if row is None:
                        armed = timer_store.arm(
                            session,
                            episode.episode_id,
                            lr.id,
                            "after",
                            str(occurrence),
                            plan.due_at,
                            now,
                            {"anchor": plan.anchor, "area": lr.area},
                            absent=timer_store.timer_id(episode.episode_id, lr.id, "after", str(occurrence))
                            not in known,
                        )
                        known.add(armed.id)
                    elif row.status == timer_store.PENDING and row.due_at != plan.due_at:
                        timer_store.reschedule(row, plan.due_at)
                    elif row.status == timer_store.CANCELLED:
                        timer_store.rearm(row, plan.due_at, now)
                elif row is not None and row.status in timer_store.LIVE:
                    why = (
                        plan.anchor
                        if plan.due_at is None
                        else "; ".join(c.detail for c in plan.checks if not c.ok)
                    )
                    timer_store.cancel(row, now, why)
        for t in timers:
            if t.status not in timer_store.LIVE or t.rule_id in handled:
                continue
            found = book.rules.get(t.rule_id)
            if found is None:
                timer_store.cancel(t, now, "rule no longer configured")
            elif t.rule_id not in applicable:
                timer_store.cancel(t, now, "the rule's area no longer applies to this episode")
            elif (t.payload or {}).get("kind") == "digest":
                checks = fire_checks(found, episode, now, book, digest=True)
                # Time-of-day predicates are for the moment it fires, not now.
                if not holds(
                    [c for c in checks if c.name not in ("time_of_day", "working_day", "school_day")]
                ):
                    timer_store.cancel(t, now, "; ".join(c.detail for c in checks if not c.ok))

    def _unresolved(self, episode: Episode, unresolved: list[Unresolved]) -> Episode:
        if not unresolved:
            return episode
        issues = list(episode.data_quality)
        for u in unresolved:
            UNRESOLVED.labels(rule_id=u.rule_id, field=u.field).inc()
            log.warning(
                "routing.recipient_unresolved",
                episode_id=str(episode.episode_id),
                rule_id=u.rule_id,
                action=u.where,
                recipient=u.recipient,
                field=u.field,
            )
            if self._on_unresolved is not None:
                self._on_unresolved(episode, u)
            issue = DataQualityIssue(
                field=u.field,
                problem=f"rule {u.rule_id} could not address {u.recipient}: {u.reason}",
            )
            if issue not in issues:
                issues.append(issue)
        return episode.model_copy(update={"data_quality": issues})

    @staticmethod
    def _save_state(session: Session, episode: Episode) -> None:
        """Store what routing added to the episode (normalised values, data-quality notes) in the row
        the processor saved in this transaction; the version is not bumped: it is the same change."""
        row = session.get(tables.Episode, episode.episode_id)
        if row is not None:
            row.state = episode.model_dump(mode="json", by_alias=True, exclude_none=True)
