"""The timer message: what the scheduler puts on ``missing.inbound`` for a due timer.

It carries ids only; the processor reads the timer row and the episode from the store, so a stale or
repeated message can do no harm (a fired or cancelled timer is ignored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from gateway.model.types import UtcDateTime

TIMER_SCHEMA = "gateway-timer/1"
KIND_HEADER = "x-gateway-kind"
TIMER_KIND = "timer"
TIMER_ROUTING_KEY = "gateway.timer"


class TimerMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    schema_: Literal["gateway-timer/1"] = Field(default="gateway-timer/1", alias="schema")
    timer_id: UUID
    episode_id: UUID
    rule_id: str
    due_at: UtcDateTime

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()

    @classmethod
    def of(cls, timer_id: UUID, episode_id: UUID, rule_id: str, due_at: datetime) -> TimerMessage:
        return cls(timer_id=timer_id, episode_id=episode_id, rule_id=rule_id, due_at=due_at)
