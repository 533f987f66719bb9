"""Apply one event to an episode: a pure function, so simulate and the live pipeline share it.

Out-of-order arrival is normal (a "found" before its "reported"), so each field keeps the value from
the event that *occurred* last, not the one that arrived last, and the status only moves forward
(open → found → closed; cancelled, for a report recorded in error, wins over everything).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from gateway.model import Episode, EpisodeStatus, EventType, MissingEpisodeEvent, RiskEntry, SourceRef

FACT_GROUPS = ("child", "episode", "care", "education", "health", "return_interview")
_STATUS_RANK = {
    EpisodeStatus.open: 0,
    EpisodeStatus.found: 1,
    EpisodeStatus.closed: 2,
    EpisodeStatus.cancelled: 3,
}
_STATUS_OF_EVENT = {
    EventType.found: EpisodeStatus.found,
    EventType.closed: EpisodeStatus.closed,
    EventType.cancelled: EpisodeStatus.cancelled,
}


def _leaves(prefix: str, value: Any) -> dict[str, Any]:
    """Flatten nested dicts to dotted leaves; lists and sets are leaves (replaced whole)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_leaves(f"{prefix}.{key}" if prefix else key, inner))
        return out
    return {prefix: value}


def _is_set(value: Any) -> bool:
    return value is not None and value != [] and value != {} and value != set()


def _put(doc: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = doc
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


def new_episode(episode_id: UUID, event: MissingEpisodeEvent) -> Episode:
    opened = event.episode.reported_at or event.occurred_at
    return Episode(episode_id=episode_id, opened_at=opened)


def apply_event(episode: Episode, field_times: dict[str, str], event: MissingEpisodeEvent) -> Episode:
    """Return the episode with ``event`` applied. ``field_times`` (dotted path → ISO occurred_at of the
    event that set it) is updated in place."""
    doc = episode.model_dump(mode="json", by_alias=True)
    event_doc = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    when = event.occurred_at
    for group in FACT_GROUPS:
        for path, value in _leaves(group, event_doc.get(group, {})).items():
            if not _is_set(value):
                continue
            previous = field_times.get(path)
            if previous is not None and datetime.fromisoformat(previous) > when:
                continue  # a newer event already set this field
            _put(doc, path, value)
            field_times[path] = when.isoformat()
            doc["field_sources"][path] = str(event.event_id)

    doc["status"] = _next_status(EpisodeStatus(doc["status"]), event).value
    found_time = event.episode.found_at or (
        when if event.event_type in (EventType.found, EventType.safe_and_well_completed) else None
    )
    if found_time and doc["status"] != EpisodeStatus.open and not doc.get("found_at"):
        doc["found_at"] = found_time
    if event.event_type in (EventType.closed, EventType.cancelled):
        doc["closed_at"] = when
    # The episode opened when the child was reported; an earlier report arriving late moves it back.
    reported = event.episode.reported_at or (when if event.event_type is EventType.reported else None)
    if reported is not None and reported < episode.opened_at:
        doc["opened_at"] = reported

    ref = {
        "system": event.source.system.value,
        "instance": event.source.instance,
        "record_id": event.source.record_id,
    }
    if ref not in doc["source_refs"]:
        doc["source_refs"].append(ref)
    if str(event.event_id) not in doc["event_ids"]:
        doc["event_ids"].append(str(event.event_id))
    for issue in event_doc.get("data_quality", []):
        if issue not in doc["data_quality"]:
            doc["data_quality"].append(issue)

    updated = Episode.model_validate(doc)
    return _with_risk(updated, event)


def _next_status(current: EpisodeStatus, event: MissingEpisodeEvent) -> EpisodeStatus:
    target = _STATUS_OF_EVENT.get(event.event_type)
    if target is None and event.event_type is EventType.safe_and_well_completed:
        target = EpisodeStatus.found  # a safe and well check means the child is back
    if target is None:
        return current
    return target if _STATUS_RANK[target] > _STATUS_RANK[current] else current


def _with_risk(episode: Episode, event: MissingEpisodeEvent) -> Episode:
    level = event.episode.risk_level
    if level is None:
        return episode
    entry = RiskEntry(
        level=level, at=event.episode.risk_assessed_at or event.occurred_at, by=event.episode.risk_assessed_by
    )
    if entry in episode.risk_history:
        return episode
    history = sorted([*episode.risk_history, entry], key=lambda e: e.at)
    return episode.model_copy(update={"risk_history": history})


def source_ref(event: MissingEpisodeEvent) -> SourceRef:
    return SourceRef(
        system=event.source.system, instance=event.source.instance, record_id=event.source.record_id
    )
