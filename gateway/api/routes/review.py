"""Review items (possible matches) and episode splits.

Until API authentication lands (security issue), ``decided_by`` comes from the request body; it will
then be the authenticated operator, and these routes will require the operator role.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from gateway.api.deps import SessionsDep
from gateway.episodes.review import ReviewError, decide_keep_apart, decide_merge, open_review_items, split
from gateway.store.db import transaction

router = APIRouter(tags=["review"])


class Decision(BaseModel):
    decided_by: str = Field(min_length=1, max_length=128)
    note: str | None = Field(default=None, max_length=2000)


class SplitRequest(Decision):
    event_ids: list[uuid.UUID] = Field(min_length=1)


@router.get("/review-items")
def list_review_items(sessions: SessionsDep) -> list[dict[str, Any]]:
    with sessions() as s:
        return open_review_items(s)


def _decide(sessions: SessionsDep, fn: Any, *args: Any) -> Any:
    try:
        with transaction(sessions) as s:
            return fn(s, *args)
    except ReviewError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


@router.post("/review-items/{item_id}/merge")
def merge_review_item(item_id: uuid.UUID, body: Decision, sessions: SessionsDep) -> dict[str, str]:
    survivor = _decide(sessions, decide_merge, item_id, body.decided_by, datetime.now(UTC), body.note)
    return {"status": "merged", "episode_id": str(survivor)}


@router.post("/review-items/{item_id}/keep-apart")
def keep_apart_review_item(item_id: uuid.UUID, body: Decision, sessions: SessionsDep) -> dict[str, str]:
    _decide(sessions, decide_keep_apart, item_id, body.decided_by, datetime.now(UTC), body.note)
    return {"status": "kept_apart"}


@router.post("/episodes/{episode_id}/split")
def split_episode(episode_id: uuid.UUID, body: SplitRequest, sessions: SessionsDep) -> dict[str, str]:
    new_id = _decide(
        sessions, split, episode_id, set(body.event_ids), body.decided_by, datetime.now(UTC), body.note
    )
    return {"status": "split", "new_episode_id": str(new_id)}
