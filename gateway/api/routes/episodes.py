"""Episodes for operators: by id, by police reference, by source record; who received what about an
episode (disclosure audit) and who viewed it over the API (access audit). Every view is audited."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import select

from gateway.api.deps import SessionsDep
from gateway.routing.record import disclosure_record
from gateway.security.audit import record_access
from gateway.security.deps import OperatorDep
from gateway.security.tables import AccessAudit
from gateway.store import tables

router = APIRouter(tags=["episodes"])


def _viewed(request: Request, sessions: SessionsDep, action: str, episode_ids: list[uuid.UUID]) -> None:
    p = request.state.principal
    for episode_id in episode_ids or [None]:  # type: ignore[list-item]
        record_access(
            sessions,
            principal=p.id,
            role=p.role,
            method=request.method,
            path=request.url.path,
            status=200,
            action=action,
            episode_id=episode_id,
        )


@router.get("/episodes/{episode_id}")
def get_episode(
    episode_id: uuid.UUID, request: Request, sessions: SessionsDep, _: OperatorDep
) -> dict[str, Any]:
    with sessions() as s:
        row = s.get(tables.Episode, episode_id)
        if row is None:
            raise HTTPException(status_code=404, detail="no such episode")
        doc = {**row.state, "merged_into": str(row.merged_into) if row.merged_into else None}
    _viewed(request, sessions, "episode.view", [episode_id])
    return doc


@router.get("/episodes")
def find_episodes(
    request: Request,
    sessions: SessionsDep,
    _: OperatorDep,
    police_reference: str | None = Query(default=None, max_length=64),
    system: str | None = Query(default=None, max_length=32),
    instance: str | None = Query(default=None, max_length=64),
    record_id: str | None = Query(default=None, max_length=128),
) -> list[dict[str, Any]]:
    """Find by police reference, or by source record (system, instance and record id together)."""
    with sessions() as s:
        if police_reference:
            rows = s.scalars(
                select(tables.Episode).where(tables.Episode.police_reference == police_reference)
            ).all()
        elif system and instance and record_id:
            ids = s.scalars(
                select(tables.EpisodeSource.episode_id).where(
                    tables.EpisodeSource.system == system,
                    tables.EpisodeSource.instance == instance,
                    tables.EpisodeSource.record_id == record_id,
                )
            ).all()
            rows = [r for r in (s.get(tables.Episode, i) for i in ids) if r is not None]
        else:
            raise HTTPException(
                status_code=422, detail="give police_reference, or system, instance and record_id"
            )
        docs = [{**r.state, "merged_into": str(r.merged_into) if r.merged_into else None} for r in rows]
    _viewed(request, sessions, "episode.search", [uuid.UUID(d["episode_id"]) for d in docs])
    return docs


@router.get("/episodes/{episode_id}/disclosures")
def episode_disclosures(
    episode_id: uuid.UUID, request: Request, sessions: SessionsDep, _: OperatorDep
) -> list[dict[str, Any]]:
    """Who received what about this episode, when, under which rules and lawful basis."""
    with sessions() as s:
        ids = s.scalars(
            select(tables.Disclosure.notification_id)
            .where(tables.Disclosure.episode_id == episode_id)
            .order_by(tables.Disclosure.disclosed_at)
        ).all()
        records = [r for r in (disclosure_record(s, i) for i in ids) if r is not None]
    _viewed(request, sessions, "episode.disclosures", [episode_id])
    return records


@router.get("/episodes/{episode_id}/access")
def episode_access(
    episode_id: uuid.UUID, request: Request, sessions: SessionsDep, _: OperatorDep
) -> list[dict[str, Any]]:
    """Who viewed this episode over the API (and what was refused)."""
    with sessions() as s:
        rows = s.scalars(
            select(AccessAudit).where(AccessAudit.episode_id == episode_id).order_by(AccessAudit.at)
        ).all()
        out = [
            {
                "at": r.at.isoformat(),
                "principal": r.principal,
                "role": r.role,
                "method": r.method,
                "path": r.path,
                "status": r.status,
                "action": r.action,
            }
            for r in rows
        ]
    _viewed(request, sessions, "episode.access_audit", [episode_id])
    return out
