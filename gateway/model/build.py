"""Build a canonical event from an adapter's mapped values without letting a bad detail block a notice.

DESIGN.md "Data protection": a bad value in a non-essential field (an NHS number failing its check
digit, an impossible date of birth) never blocks a missing-child notice. Adapters hand their mapped
values to :func:`build_event`; it validates against the canonical model, moves each bad non-essential
value into ``data_quality`` and validates again. Only what identifies the report (its source record,
event type and times) and the presence of *some* identity of the child are essential; without those
the input is rejected with :class:`EventRejected` naming every bad field.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from gateway.model.event import MissingEpisodeEvent
from gateway.model.types import to_utc

# Top-level groups whose leaves may be dropped (and recorded) rather than reject the whole input.
_SALVAGEABLE_GROUPS = {
    "child",
    "episode",
    "care",
    "education",
    "health",
    "return_interview",
    "attachments",
    "recorded_at",
}
_ORIGINAL_MAX = 200


class EventRejected(ValueError):
    """The mapped values cannot make a canonical event. ``problems`` name each field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def idempotency_key(
    system: str, instance: str, record_id: str, change_id: str | None = None, content: bytes | None = None
) -> str:
    """``system:instance:record_id:event_id-or-content-hash`` (CANONICAL.md §1).

    The same input twice gives the same key, so a re-sent report creates nothing new.
    """
    if change_id:
        tail = change_id
    elif content is not None:
        tail = "sha256-" + hashlib.sha256(content).hexdigest()[:32]
    else:
        raise ValueError("an idempotency key needs the source's change id or the content")
    return f"{system}:{instance}:{record_id}:{tail}"


def _dotted(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _is_salvageable(loc: tuple[int | str, ...], error_type: str) -> bool:
    if error_type == "extra_forbidden":  # an unknown field is a mapping bug, not a bad value
        return False
    return len(loc) >= 1 and loc[0] in _SALVAGEABLE_GROUPS


def _get(data: Any, loc: tuple[int | str, ...]) -> Any:
    for part in loc:
        data = data[part]
    return data


def _removal_target(data: dict[str, Any], loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Cut ``loc`` at the first list index: a bad list item goes as a whole (an LA id without its code)."""
    node: Any = data
    for i, part in enumerate(loc):
        if isinstance(node, list | tuple | set):
            return loc[: i + 1]
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return loc[: i + 1]
    return loc


def _remove(data: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    parent: Any = data
    for part in loc[:-1]:
        parent = parent[part]
    last = loc[-1]
    if isinstance(parent, list):
        parent[int(last)] = _DROPPED
    elif isinstance(parent, dict):
        parent.pop(last, None)


_DROPPED = object()


def _purge_dropped(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _purge_dropped(v) for k, v in node.items()}
    if isinstance(node, list | tuple | set):
        return [_purge_dropped(v) for v in node if v is not _DROPPED]
    return node


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _as_utc(value: Any) -> datetime | None:
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return to_utc(parsed)


def _plausibility(data: dict[str, Any], quality: list[dict[str, Any]]) -> None:
    """Checks the model cannot make alone because they compare two fields."""
    child = data.get("child") if isinstance(data.get("child"), dict) else None
    facts = data.get("episode") if isinstance(data.get("episode"), dict) else None
    received = _as_utc(data.get("received_at"))
    last_seen = _as_utc(facts.get("last_seen_at")) if facts and facts.get("last_seen_at") else None
    if child and child.get("date_of_birth") is not None:
        dob = _as_date(child["date_of_birth"])
        problem = None
        if dob and received and dob > received.date():
            problem = "date of birth is in the future"
        elif dob and last_seen and dob > last_seen.date():
            problem = "date of birth is after the last-seen time"
        if problem:
            quality.append(
                {
                    "field": "child.date_of_birth",
                    "problem": problem,
                    "original": str(child.pop("date_of_birth"))[:_ORIGINAL_MAX],
                }
            )
    if facts and last_seen and facts.get("found_at"):
        found = _as_utc(facts["found_at"])
        if found and found < last_seen:
            # Both times kept: which one is wrong is for a person to decide.
            quality.append(
                {
                    "field": "episode.found_at",
                    "problem": "found time is before the last-seen time",
                    "original": str(facts["found_at"])[:_ORIGINAL_MAX],
                }
            )


def _has_child_identity(event: MissingEpisodeEvent) -> bool:
    c = event.child
    return bool(
        c.given_name
        or c.family_name
        or c.known_as
        or c.ids.nhs_number
        or c.ids.la_ids
        or c.ids.police_person_id
        or c.ids.upn
    )


def build_event(values: dict[str, Any], *, require_child_identity: bool = True) -> MissingEpisodeEvent:
    """Validate mapped values into a MissingEpisodeEvent, salvaging bad non-essential values."""
    data = copy.deepcopy(values)
    quality: list[dict[str, Any]] = list(data.pop("data_quality", None) or [])
    _plausibility(data, quality)
    for _ in range(100):  # each pass removes at least one value, so this ends
        try:
            event = MissingEpisodeEvent.model_validate({**data, "data_quality": quality})
        except ValidationError as exc:
            fatal: list[str] = []
            removals: list[tuple[int | str, ...]] = []
            for err in exc.errors():
                loc = tuple(err["loc"])
                if loc and loc[0] == "data_quality":
                    fatal.append(f"data_quality: {err['msg']}")
                elif _is_salvageable(loc, err["type"]):
                    removals.append(_removal_target(data, loc))
                else:
                    fatal.append(f"{_dotted(loc) or '(document)'}: {err['msg']}")
            if fatal:
                raise EventRejected(fatal) from None
            for loc in sorted(set(removals), key=lambda x: [str(p) for p in x], reverse=True):
                try:
                    original = _get(data, loc)
                except (KeyError, IndexError, TypeError):
                    continue
                msg = next(
                    (e["msg"] for e in exc.errors() if tuple(e["loc"])[: len(loc)] == loc), "invalid value"
                )
                quality.append(
                    {
                        "field": _dotted(loc),
                        "problem": msg,
                        "original": None if original is None else str(original)[:_ORIGINAL_MAX],
                    }
                )
                _remove(data, loc)
            data = _purge_dropped(data)
            continue
        if require_child_identity and not _has_child_identity(event):
            raise EventRejected(
                ["child: no identity of the child (name, NHS number, LA id, police person id or UPN)"]
            )
        return event
    raise EventRejected(["(document): too many invalid values to salvage"])
