"""Which canonical event a workflow-step event is, when it happened, and which episode it belongs to
(README §3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.common.quality import issue
from adapters.mosaic.answers import FormAnswers
from adapters.mosaic.envelope import Envelope
from adapters.mosaic.mapping import MosaicDeployment


@dataclass(frozen=True)
class Decision:
    event_type: str | None
    occurred_at: datetime | None
    ignored_reason: str | None = None


def _first(*times: datetime | None) -> datetime | None:
    return next((t for t in times if t is not None), None)


def decide(env: Envelope, deployment: MosaicDeployment, answers: FormAnswers) -> Decision:
    kind = deployment.step_kind(env.step_type_id)
    if kind is None:
        return Decision(None, None, "unmapped_step_type")
    values = answers.values()
    if kind == "episode":
        if env.step_event == "STARTED":
            return Decision(
                "reported", _first(values.get("episode.reported_at"), env.started_on, env.event_time)
            )
        if env.step_event == "UPDATED":
            risk = deployment.fields.get("episode.risk_level")
            if risk is not None and risk.code is not None and risk.code in answers.changed:
                return Decision(
                    "risk_changed", _first(values.get("episode.risk_assessed_at"), env.event_time)
                )
            return Decision("updated", env.event_time)
        if env.step_event == "COMPLETED":
            return Decision("found", _first(values.get("episode.found_at"), env.completed_on, env.event_time))
        if env.step_event == "CANCELLED":
            return Decision("cancelled", _first(env.cancelled_on, env.event_time))
        return Decision("updated", env.event_time)  # REOPENED
    if env.step_event == "STARTED":
        return Decision(
            "return_interview_offered",
            _first(values.get("return_interview.offered_at"), env.started_on, env.event_time),
        )
    if env.step_event == "COMPLETED":
        declined = values.get("return_interview.outcome") == "declined"
        return Decision(
            "return_interview_declined" if declined else "return_interview_completed",
            _first(values.get("return_interview.completed_at"), env.completed_on, env.event_time),
        )
    return Decision(None, None, "return_interview_step_event")


def record_id(env: Envelope, deployment: MosaicDeployment, quality: list[dict[str, Any]]) -> str:
    """The missing-episode step's id: a return interview step joins the episode step it follows."""
    if deployment.step_kind(env.step_type_id) == "episode":
        return str(env.step_id)
    for step in env.preceding:
        if step.type_id in deployment.missing_episode_step_types:
            return str(step.step_id)
    problem = (
        "preceding_steps is malformed" if env.malformed_preceding else "no preceding missing-episode step"
    )
    quality.append(
        issue(
            "source.record_id",
            f"{problem}: the return interview is filed under its own step id and may not join its episode",
            env.step_id,
        )
    )
    return str(env.step_id)
