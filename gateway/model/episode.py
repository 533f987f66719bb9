"""Episode (``missing-episode/1``): the gateway's merged view of one absence of one child.

The fact groups keep the event's names (``child``, ``episode``, ``care``...), so a dotted path such as
``episode.risk_level`` or ``care.host_la`` means the same thing in an event, an episode, a rule and a
minimisation profile. ``field_sources`` records which event set each leaf value (CANONICAL.md §2:
"latest known value, with the event that set it").
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from gateway.model.enums import EpisodeStatus, RiskLevel, SourceSystem
from gateway.model.event import (
    Canonical,
    CareContext,
    Child,
    DataQualityIssue,
    Education,
    EpisodeFacts,
    HealthContext,
    ReturnInterview,
)
from gateway.model.types import UtcDateTime

EPISODE_SCHEMA = "missing-episode/1"


class RiskEntry(Canonical):
    level: RiskLevel
    at: UtcDateTime
    by: str | None = None


class SourceRef(Canonical):
    system: SourceSystem
    instance: str
    record_id: str


class Episode(Canonical):
    schema_: Literal["missing-episode/1"] = Field(default="missing-episode/1", alias="schema")
    episode_id: UUID
    status: EpisodeStatus = EpisodeStatus.open
    child: Child = Field(default_factory=Child)
    episode: EpisodeFacts = Field(default_factory=EpisodeFacts)
    care: CareContext | None = None
    education: Education | None = None
    health: HealthContext | None = None
    return_interview: ReturnInterview | None = None
    field_sources: dict[str, UUID] = Field(default_factory=dict)
    risk_history: list[RiskEntry] = Field(default_factory=list)
    source_refs: list[SourceRef] = Field(default_factory=list)
    event_ids: list[UUID] = Field(default_factory=list)
    data_quality: list[DataQualityIssue] = Field(default_factory=list)
    opened_at: UtcDateTime
    found_at: UtcDateTime | None = None
    closed_at: UtcDateTime | None = None
    episode_count_90d: int = 1
    episode_count_30d: int = 1
    episode_counts: dict[str, int] = Field(default_factory=dict)
    """Every configured window (``"30d"``, ``"90d"``, ``"365d"``...): the child's episodes that started
    within that many days before this one's start, inclusive, this one included."""
