"""Episodes board, an episode's timeline (every view audited like the API's), and what is due."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from gateway.console import queries
from gateway.console.auth import OperatorUser, Refused, audit
from gateway.console.render import page
from gateway.model.enums import Role

router = APIRouter(prefix="/console", include_in_schema=False)

STATUSES = ("open", "found", "closed", "cancelled")


@router.get("/episodes")
def episodes_board(
    request: Request,
    user: OperatorUser,
    area: str | None = Query(default=None, max_length=64),
    status: str | None = Query(default="open", max_length=16),
) -> Response:
    rulebook = request.app.state.router.rulebook
    now = datetime.now(UTC)
    status = status if status in STATUSES else None
    with request.app.state.sessions() as s:
        rows = queries.board(s, now, codes=queries.area_codes(rulebook, area), status=status)
    return page(
        request,
        "episodes.html",
        user,
        rows=rows,
        areas=queries.areas(rulebook),
        area=area or "",
        status=status or "",
        statuses=STATUSES,
    )


@router.get("/episodes/{episode_id}")
def episode_timeline(episode_id: uuid.UUID, request: Request, user: OperatorUser) -> Response:
    with request.app.state.sessions() as s:
        found = queries.timeline(s, episode_id)
        if found is None:
            raise Refused(404, "There is no such episode.")
        state = dict(found.episode.state or {})
    # The same access audit, with the same action, as GET /episodes/{id} on the API.
    audit(request, user.principal, 200, "episode.view", episode_id=episode_id)
    return page(request, "timeline.html", user, t=found, state=state)


@router.get("/deadlines")
def deadlines_page(
    request: Request,
    user: OperatorUser,
    area: str | None = Query(default=None, max_length=64),
    role: str | None = Query(default=None, max_length=32),
) -> Response:
    rulebook = request.app.state.router.rulebook
    now = datetime.now(UTC)
    with request.app.state.sessions() as s:
        rows = queries.deadlines(s, now, codes=queries.area_codes(rulebook, area), role=role or None)
    return page(
        request,
        "deadlines.html",
        user,
        rows=rows,
        areas=queries.areas(rulebook),
        area=area or "",
        role=role or "",
        roles=_roles(),
    )


def _roles() -> list[str]:
    return [r.value for r in Role]
