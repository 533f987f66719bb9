"""The ``mosaic-workflow-event/1`` envelope: what every event must carry, mapped step type or not
(README §6 points 1 to 5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from adapters.base import InvalidInput
from adapters.common.ids import bounded_id
from adapters.common.json_body import json_type, load_json_object
from adapters.common.times import parse_iso_datetime

SCHEMA = "mosaic-workflow-event/1"
STEP_EVENTS = ("STARTED", "UPDATED", "COMPLETED", "CANCELLED", "REOPENED")
STEP_STATUSES = ("PROPOSED", "INCOMING", "STARTED", "REOPENED", "COMPLETED", "CANCELLED")


@dataclass(frozen=True)
class PrecedingStep:
    step_id: int
    type_id: int


@dataclass(frozen=True)
class Envelope:
    event_id: str
    step_event: str
    event_time: datetime
    la_code: str
    step_id: int
    step_type_id: int
    step_status: str | None
    started_on: datetime | None
    completed_on: datetime | None
    cancelled_on: datetime | None
    preceding: list[PrecedingStep]
    malformed_preceding: bool
    subject: dict[str, Any]
    form: Any


def _obj(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise InvalidInput(
            f"{where}{key}: required object" + ("" if value is None else f", got a JSON {json_type(value)}")
        )
    return value


def _required(doc: dict[str, Any], key: str, where: str, kind: type) -> Any:
    value = doc.get(key)
    # A JSON true is a Python int: never let it pass for an id.
    if value is None or isinstance(value, bool) or not isinstance(value, kind):
        want = "integer" if kind is int else "string"
        got = "missing" if value is None else f"a JSON {json_type(value)}"
        raise InvalidInput(f"{where}{key}: required {want}, {got}")
    if isinstance(value, str) and not value.strip():
        raise InvalidInput(f"{where}{key}: required, empty")
    return value


def _time(value: Any, where: str, zone: ZoneInfo, *, required: bool = False) -> datetime | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: expected a date-time string" + (", missing" if value is None else ""))
    try:
        return parse_iso_datetime(value, zone)
    except ValueError:
        raise InvalidInput(f"{where}: date-time does not parse (YYYY-MM-DDTHH:MM:SS)") from None


def read_envelope(body: bytes, zone: ZoneInfo) -> Envelope:
    doc = load_json_object(body)
    schema = doc.get("schema")
    if schema != SCHEMA:
        raise InvalidInput(f"schema: expected {SCHEMA!r}" + ("" if schema is None else ", got another value"))
    event_id = _required(doc, "event_id", "", str)
    step_event = _required(doc, "step_event", "", str)
    if step_event not in STEP_EVENTS:
        raise InvalidInput(f"step_event: not one of {', '.join(STEP_EVENTS)}")
    event_time = _time(doc.get("event_time"), "event_time", zone, required=True)
    assert event_time is not None
    deployment = _obj(doc, "deployment", "")
    la_code = _required(deployment, "la_code", "deployment.", str)
    step = _obj(doc, "workflow_step", "")
    step_id = _required(step, "workflow_step_id", "workflow_step.", int)
    step_type_id = _required(step, "workflow_step_type_id", "workflow_step.", int)
    status = step.get("step_status")
    if status is not None and status not in STEP_STATUSES:
        raise InvalidInput(f"workflow_step.step_status: not one of {', '.join(STEP_STATUSES)}")
    subject = _obj(doc, "subject", "")
    for key in ("subject_compound_id", "forename", "surname", "date_of_birth"):
        _required(subject, key, "subject.", str)
    bounded_id(subject["subject_compound_id"], "subject.subject_compound_id")
    preceding, malformed = _preceding(step.get("preceding_steps"))
    return Envelope(
        event_id=bounded_id(event_id, "event_id"),
        step_event=step_event,
        event_time=event_time,
        la_code=la_code.strip(),
        step_id=step_id,
        step_type_id=step_type_id,
        step_status=status,
        started_on=_time(step.get("started_on"), "workflow_step.started_on", zone),
        completed_on=_time(step.get("completed_on"), "workflow_step.completed_on", zone),
        cancelled_on=_time(step.get("cancelled_on"), "workflow_step.cancelled_on", zone),
        preceding=preceding,
        malformed_preceding=malformed,
        subject=subject,
        form=doc.get("form"),
    )


def _preceding(value: Any) -> tuple[list[PrecedingStep], bool]:
    """Workflow links. A malformed entry is skipped rather than reject the event; the caller flags it
    when it mattered (a return interview that could not be joined to its episode)."""
    if value is None:
        return [], False
    if not isinstance(value, list):
        return [], True
    out: list[PrecedingStep] = []
    malformed = False
    for item in value:
        sid = item.get("workflow_step_id") if isinstance(item, dict) else None
        tid = item.get("workflow_step_type_id") if isinstance(item, dict) else None
        if (
            isinstance(sid, int)
            and isinstance(tid, int)
            and not isinstance(sid, bool)
            and not isinstance(tid, bool)
        ):
            out.append(PrecedingStep(sid, tid))
        else:
            malformed = True
    return out, malformed
