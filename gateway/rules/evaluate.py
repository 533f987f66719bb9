"""Evaluate rules against an episode: pure functions (no database), shared by the live router,
``gateway simulate`` and ``gateway rules explain``.

The output is *candidates* (one per notify/task action whose rule fires and whose recipient resolves)
and *unresolved* recipients (an id expression with no value: visible, never dropped silently). Turning
candidates into deduplicated notifications is :mod:`gateway.routing.merge`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gateway.model import (
    DataQualityIssue,
    Episode,
    EpisodeStatus,
    EventType,
    MissingEpisodeEvent,
    NotificationKind,
    Recipient,
    Urgency,
)
from gateway.routing.profiles import allows
from gateway.rules.conditions import Check, Conditions, EvalContext, evaluate, holds
from gateway.rules.durations import Anchor, Due, NextDay, add_due, add_span, next_day
from gateway.rules.loader import LoadedFile, LoadedRule, Rulebook
from gateway.rules.model import EVENT_PLACEHOLDER, NotifyAction, Rule, TaskAction
from gateway.rules.paths import ROUTABLE_ID, get_value, is_set

DEFAULT_DIGEST_DUE = Due.model_validate("next_school_day 08:00")

WHAT_HAPPENED = {
    EventType.reported: "reported missing",
    EventType.updated: "report updated",
    EventType.risk_changed: "risk level changed",
    EventType.found: "found",
    EventType.safe_and_well_completed: "safe and well check completed",
    EventType.return_interview_offered: "return interview offered",
    EventType.return_interview_completed: "return interview completed",
    EventType.return_interview_declined: "return interview declined",
    EventType.closed: "episode closed",
    EventType.cancelled: "report cancelled (recorded in error)",
}
SINCE_WORDS = {
    Anchor.last_seen_at: "the child was last seen",
    Anchor.reported_at: "the report",
    Anchor.found_at: "the child was found",
    Anchor.opened_at: "the episode opened",
}


@dataclass(frozen=True)
class Candidate:
    """One action of one rule that fired, addressed to a resolved recipient."""

    rule: LoadedRule
    where: str
    kind: NotificationKind
    recipient: Recipient
    topic: str
    profile: str
    urgency: Urgency
    due_by: datetime | None
    purpose: str
    trigger_at: datetime
    cause: str | None = None  # None: the cause of the routing pass (the event or the timer group)


@dataclass(frozen=True)
class Unresolved:
    rule_id: str
    where: str
    recipient: str
    reason: str
    field: str


@dataclass
class Verdict:
    """Why a rule does or does not fire (``gateway rules explain``)."""

    rule: LoadedRule
    applies: str | None
    trigger: str
    triggered: bool
    checks: list[Check] = field(default_factory=list)
    outcome: str = ""
    candidates: list[Candidate] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)
    due_at: datetime | None = None

    @property
    def fires(self) -> bool:
        return self.triggered and holds(self.checks)


@dataclass
class EventOutcome:
    candidates: list[Candidate] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)


# --- small pieces ---------------------------------------------------------------------------


def anchor_time(episode: Episode, anchor: Anchor) -> tuple[datetime | None, str]:
    """The time a duration counts from. ``last_seen_at`` falls back to ``reported_at`` then
    ``opened_at``: a report without a last-seen time must still escalate (the fallback is named)."""
    facts = episode.episode
    if anchor is Anchor.last_seen_at:
        if facts.last_seen_at:
            return facts.last_seen_at, "last_seen_at"
        if facts.reported_at:
            return facts.reported_at, "reported_at (last_seen_at unknown)"
        return episode.opened_at, "opened_at (last_seen_at unknown)"
    if anchor is Anchor.reported_at:
        if facts.reported_at:
            return facts.reported_at, "reported_at"
        return episode.opened_at, "opened_at (reported_at unknown)"
    if anchor is Anchor.found_at:
        found = episode.found_at or facts.found_at
        return found, "found_at"
    if anchor is Anchor.opened_at:
        return episode.opened_at, "opened_at"
    raise ValueError(f"{anchor} is not an episode time")


def context(
    rule: LoadedRule, episode: Episode, now: datetime, book: Rulebook, *, defer_time: bool = False
) -> EvalContext:
    return EvalContext(episode, now, book.calendars, rule.file.authorities, defer_time)


def host_la(episode: Episode) -> str | None:
    return episode.care.host_la if episode.care else None


def resolve(action: NotifyAction | TaskAction, episode: Episode) -> tuple[Recipient | None, str]:
    """The first id expression that gives a routable id; otherwise why none did."""
    reasons = []
    for expr in action.id:
        if "." not in expr:
            return Recipient(kind=action.kind, id=expr, role=action.role), ""
        value = get_value(episode, expr)
        if not is_set(value):
            reasons.append(f"{expr} has no value")
            continue
        text = str(getattr(value, "value", value))
        if not ROUTABLE_ID.match(text):
            reasons.append(f"{expr} is not a usable id")
            continue
        return Recipient(kind=action.kind, id=text, role=action.role), ""
    return None, "; ".join(reasons)


def due_by(
    action: NotifyAction | TaskAction, episode: Episode, trigger_at: datetime, book: Rulebook
) -> datetime | None:
    due = action.due
    if due is None and isinstance(action, NotifyAction) and action.urgency is Urgency.digest:
        due = DEFAULT_DIGEST_DUE
    if due is None:
        return None
    start = trigger_at
    if due.since is not Anchor.trigger:
        anchored, _ = anchor_time(episode, due.since)
        start = anchored or trigger_at  # e.g. found_at not recorded: count from the trigger instead
    return add_due(start, due, book.calendars, host_la(episode))


def _render(template: str, episode: Episode, event_words: str) -> str:
    def value(name: str) -> str:
        if name == EVENT_PLACEHOLDER:
            return event_words
        v = get_value(episode, name)
        return "unknown" if v is None else str(getattr(v, "value", v))

    out, i = [], 0
    while i < len(template):
        j = template.find("{", i)
        k = template.find("}", j) if j >= 0 else -1
        if j < 0 or k < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        out.append(value(template[j + 1 : k]))
        i = k + 1
    return "".join(out)


def purpose(
    action: NotifyAction | TaskAction,
    rule: LoadedRule,
    episode: Episode,
    event_type: EventType | None,
    book: Rulebook,
) -> str:
    words = WHAT_HAPPENED[event_type] if event_type else "still subject to a time rule"
    if isinstance(action, TaskAction):
        return _render(action.what, episode, words)
    if action.purpose:
        return _render(action.purpose, episode, words)
    if event_type is not None:
        text = f"Child {words}"
    else:
        after = rule.rule.after
        text = (
            f"{after.span.describe().capitalize()} since {SINCE_WORDS[after.anchor]}"
            if after
            else "Time rule"
        )
    # The placement clause names two LA codes: only where the profile itself discloses both.
    care = episode.care
    profile = book.profiles[action.profile]
    if (
        care
        and care.responsible_la
        and care.host_la
        and care.responsible_la != care.host_la
        and allows(profile, "care.responsible_la")
        and allows(profile, "care.host_la")
    ):
        text += f" (placed by {care.responsible_la} in {care.host_la})"
    return text


def actions_of(
    lr: LoadedRule,
    episode: Episode,
    trigger_at: datetime,
    event_type: EventType | None,
    book: Rulebook,
    *,
    only: str | None = None,
    once: bool = False,
) -> tuple[list[Candidate], list[Unresolved]]:
    """Candidates for a rule that fires (``only``: one action, e.g. ``notify[1]`` for a digest)."""
    cands: list[Candidate] = []
    unresolved: list[Unresolved] = []
    actions: list[tuple[str, NotifyAction | TaskAction]] = [
        (f"notify[{i}]", a) for i, a in enumerate(lr.rule.notify)
    ]
    actions += [(f"task[{i}]", a) for i, a in enumerate(lr.rule.task)]
    for where, action in actions:
        if only is not None and where != only:
            continue
        recipient, why = resolve(action, episode)
        if recipient is None:
            unresolved.append(
                Unresolved(lr.id, where, f"{action.kind.value}.?.{action.role.value}", why, action.id[0])
            )
            continue
        is_task = isinstance(action, TaskAction)
        topic = (action.topic or action.what) if isinstance(action, TaskAction) else ""
        cause = None
        if once:
            # Once per episode: a task is one per topic (two rules asking for the same task merge, and
            # a second never repeats it); a notice is one per rule.
            cause = once_cause(f"task:{topic}") if is_task else once_cause(lr.id)
        cands.append(
            Candidate(
                rule=lr,
                where=where,
                kind=NotificationKind.task if is_task else NotificationKind.notify,
                recipient=recipient,
                topic=topic,
                profile=action.profile,
                urgency=action.urgency,
                due_by=due_by(action, episode, trigger_at, book),
                purpose=purpose(action, lr, episode, event_type, book),
                trigger_at=trigger_at,
                cause=cause,
            )
        )
    return cands, unresolved


# --- normalisation ----------------------------------------------------------------------------


def normalise(
    files: list[LoadedFile], episode: Episode, now: datetime, book: Rulebook
) -> tuple[Episode, list[str]]:
    """Apply every normalise rule that applies, in rule order; return the episode and the rule ids
    applied. Each change is recorded in ``data_quality`` (the original value stays in risk_history)."""
    applied: list[str] = []
    for f in files:
        for lr in f.rules:
            norm = lr.rule.normalise
            if norm is None:
                continue
            if not holds(evaluate(lr.rule.when, context(lr, episode, now, book))):
                continue
            current = get_value(episode, norm.field)
            current_text = getattr(current, "value", current)
            if current_text not in norm.from_:
                continue
            doc = episode.model_dump(mode="json", by_alias=True)
            group, leaf = norm.field.split(".", 1)
            doc[group][leaf] = norm.to
            issue = DataQualityIssue(
                field=norm.field,
                problem=f"recorded as {norm.to} by rule {lr.id} ({lr.rule.cite})"
                + (f": {norm.note}" if norm.note else ""),
                original=str(current_text),
            )
            issues = doc.setdefault("data_quality", [])
            entry = issue.model_dump(mode="json", exclude_none=True)
            if entry not in issues:
                issues.append(entry)
            episode = Episode.model_validate(doc)
            applied.append(lr.id)
    return episode, applied


# --- event rules ------------------------------------------------------------------------------


def once_cause(key: str) -> str:
    return f"once:{key}"


def evaluate_event(
    book: Rulebook,
    files: list[tuple[LoadedFile, str]],
    episode: Episode,
    event: MissingEpisodeEvent,
    now: datetime,
    *,
    explain: bool = False,
) -> EventOutcome:
    """Event-triggered rules (``on`` and ``episodes``) for one event."""
    out = EventOutcome()
    applicable = {f.area: why for f, why in files}
    for f in book.files:
        why = applicable.get(f.area)
        if why is None and not explain:
            continue
        for lr in f.rules:
            rule = lr.rule
            if rule.normalise is not None or rule.after is not None:
                continue
            if rule.on is not None:
                triggered = event.event_type in rule.on
                verb = "is" if triggered else "is not"
                trigger = f"{event.event_type.value} {verb} in on: {[e.value for e in rule.on]}"
            else:
                triggered = True
                trigger = "episode-count trigger: checked on every event, fires once per episode"
            verdict = Verdict(lr, why, trigger, triggered)
            if why is None:
                verdict.outcome = "area does not apply to this episode"
                out.verdicts.append(verdict)
                continue
            if triggered:
                ctx = context(lr, episode, now, book)
                verdict.checks = evaluate(rule.when, ctx)
                if rule.episodes is not None:
                    verdict.checks = [*evaluate_count(rule, ctx), *verdict.checks]
            if verdict.fires:
                once = rule.once or rule.episodes is not None
                cands, unresolved = actions_of(
                    lr, episode, event.occurred_at, event.event_type, book, once=once
                )
                verdict.candidates, verdict.unresolved = cands, unresolved
                out.candidates.extend(cands)
                out.unresolved.extend(unresolved)
                verdict.outcome = "fires" + (" (once per episode)" if once else "")
            else:
                verdict.outcome = "not triggered by this event" if not triggered else "conditions do not hold"
            out.verdicts.append(verdict)
    return out


def evaluate_count(rule: Rule, ctx: EvalContext) -> list[Check]:
    return evaluate(Conditions(episodes=rule.episodes), ctx)


# --- time rules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimePlan:
    """Where a time rule stands for an episode: the due time of occurrence ``occurrence`` (None: no
    anchor yet) and whether its conditions currently hold."""

    due_at: datetime | None
    anchor: str
    checks: list[Check]

    @property
    def wanted(self) -> bool:
        return self.due_at is not None and holds(self.checks)


def plan_time_rule(
    lr: LoadedRule, episode: Episode, now: datetime, book: Rulebook, occurrence: int = 0
) -> TimePlan:
    after = lr.rule.after
    assert after is not None
    anchored, label = anchor_time(episode, after.anchor)
    if anchored is None:
        return TimePlan(None, f"{after.since.value} not known yet", [])
    due = add_span(anchored, after.span, book.calendars, host_la(episode))
    if occurrence and after.every is not None:
        for _ in range(occurrence):
            due = add_span(due, after.every, book.calendars, host_la(episode))
    ctx = context(lr, episode, now, book, defer_time=True)
    checks = [*evaluate(lr.rule.while_, ctx), *evaluate(lr.rule.when, ctx)]
    if episode.status is EpisodeStatus.cancelled:
        checks.append(Check("status", False, "the report was cancelled (recorded in error)"))
    return TimePlan(due, label, checks)


def fire_checks(
    lr: LoadedRule, episode: Episode, now: datetime, book: Rulebook, *, digest: bool
) -> list[Check]:
    """Re-checked when a timer fires, time predicates included. A digest re-checks only its ``while``
    (its ``when`` held when the event happened)."""
    ctx = context(lr, episode, now, book)
    checks = evaluate(lr.rule.while_, ctx)
    if not digest:
        checks += evaluate(lr.rule.when, ctx)
    if episode.status is EpisodeStatus.cancelled:
        checks.append(Check("status", False, "the report was cancelled (recorded in error)"))
    return checks


def digest_due(lr: LoadedRule, episode: Episode, trigger_at: datetime, book: Rulebook) -> datetime:
    """When a digest is sent: the area's digest time on the first school day after the trigger."""
    return next_day(trigger_at, NextDay(day="school", at=lr.digest_time), book.calendars, host_la(episode))
