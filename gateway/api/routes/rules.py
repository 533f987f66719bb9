"""``POST /rules/explain`` (operators): which rules fire for an event or episode, and why not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import ValidationError

from gateway.model.types import to_utc
from gateway.rules.explain import explain, subject_from_document
from gateway.security.deps import OperatorDep

router = APIRouter(tags=["rules"])


@router.post("/rules/explain")
def explain_rules(
    request: Request, _: OperatorDep, document: dict[str, Any] = Body(...), at: datetime | None = None
) -> dict[str, Any]:
    try:
        episode, event = subject_from_document(document)
    except (ValidationError, KeyError, TypeError, ValueError) as exc:
        detail = (
            exc.errors(include_input=False, include_url=False)
            if isinstance(exc, ValidationError)
            else str(exc)
        )
        raise HTTPException(status_code=422, detail=detail) from None
    when = to_utc(at) if at else (event.received_at if event else datetime.now(UTC))
    return explain(request.app.state.router.rulebook, episode, event, when).to_json()
