"""Review items (possible matches) and episode splits: operators only, each decision audited with the
operator's identity (the authenticated key or token, never a name typed into the request)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from gateway.api.deps import SessionsDep
from gateway.episodes.review import ReviewError, decide_keep_apart, decide_merge, open_review_items, split
from gateway.security.audit import record_access
from gateway.security.deps import OperatorDep
from gateway.store.db import transaction

router = APIRouter(tags=["review"])


class Decision(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class SplitRequest(Decision):
    event_ids: list[uuid.UUID] = Field(min_length=1, max_length=10_000)


@router.get("/review-items")
def list_review_items(sessions: SessionsDep, _: OperatorDep) -> list[dict[str, Any]]:
    with sessions() as s:
        return open_review_items(s)


def _decide(
    request: Request, sessions: SessionsDep, action: str, episode_id: uuid.UUID | None, fn: Any, *args: Any
) -> Any:
    principal = request.state.principal
    try:
        with transaction(sessions) as s:
            result = fn(s, *args)
    except ReviewError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    record_access(
        sessions,
        principal=principal.id,
        role=principal.role,
        method=request.method,
        path=request.url.path,
        status=200,
        action=action,
        episode_id=result if isinstance(result, uuid.UUID) else episode_id,
    )
    return result


@router.post("/review-items/{item_id}/merge")
def merge_review_item(
    item_id: uuid.UUID, body: Decision, request: Request, sessions: SessionsDep, principal: OperatorDep
) -> dict[str, str]:
    survivor = _decide(
        request,
        sessions,
        "review.merge",
        None,
        decide_merge,
        item_id,
        principal.id,
        datetime.now(UTC),
        body.note,
        request.app.state.router.reconcile,
    )
    return {"status": "merged", "episode_id": str(survivor)}


@router.post("/review-items/{item_id}/keep-apart")
def keep_apart_review_item(
    item_id: uuid.UUID, body: Decision, request: Request, sessions: SessionsDep, principal: OperatorDep
) -> dict[str, str]:
    _decide(
        request,
        sessions,
        "review.keep_apart",
        None,
        decide_keep_apart,
        item_id,
        principal.id,
        datetime.now(UTC),
        body.note,
    )
    return {"status": "kept_apart"}


@router.post("/episodes/{episode_id}/split")
def split_episode(
    episode_id: uuid.UUID, body: SplitRequest, request: Request, sessions: SessionsDep, principal: OperatorDep
) -> dict[str, str]:
    new_id = _decide(
        request,
        sessions,
        "episode.split",
        episode_id,
        split,
        episode_id,
        set(body.event_ids),
        principal.id,
        datetime.now(UTC),
        body.note,
        request.app.state.router.reconcile,
    )
    return {"status": "split", "new_episode_id": str(new_id)}
