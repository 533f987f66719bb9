"""What is stuck: quarantine, dead letters and review items. Every action asks for a confirmation first
and then calls the API's own route function, so it is checked, performed and audited exactly as over
the API (the audit records the console path and the signed-in key)."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from gateway.api.routes import dead, quarantine, review
from gateway.console.auth import ConsoleUser, FormDep, OperatorUser, Refused, audit, field
from gateway.console.render import page

router = APIRouter(prefix="/console", include_in_schema=False)

DONE = {
    "replayed": "Replayed: the notice is on its way again. Its delivery shows below as it happens.",
    "retried": "Retried: the input was accepted this time.",
    "discarded": "Discarded, with your reason recorded.",
    "merged": "Merged.",
    "kept_apart": "Kept apart.",
}


def _confirm(
    request: Request,
    user: ConsoleUser,
    title: str,
    lines: list[str],
    form: FormData,
    keep: tuple[str, ...],
    back: str,
) -> Response:
    """The confirmation step every action goes through: what will happen, then a second POST."""
    hidden = {k: field(form, k) or "" for k in keep}
    return page(
        request,
        "confirm.html",
        user,
        title=title,
        lines=lines,
        action=request.url.path,
        hidden=hidden,
        back=back,
    )


def _failed(request: Request, user: ConsoleUser, exc: HTTPException, back: str) -> Response:
    detail: Any = exc.detail
    message = detail.get("reason") if isinstance(detail, dict) else str(detail)
    return page(
        request,
        "message.html",
        user,
        status_code=exc.status_code,
        title="Not done",
        message=message,
        back=back,
    )


def _confirmed(form: FormData) -> bool:
    return field(form, "confirmed") == "yes"


# --- quarantine ---------------------------------------------------------------------------------


@router.get("/quarantine")
def quarantine_list(
    request: Request, user: OperatorUser, status: str = Query(default="open", max_length=16)
) -> Response:
    items = quarantine.list_quarantine(request.app.state.sessions, user.principal, status=status, limit=200)
    return page(request, "quarantine.html", user, items=items, status=status)


@router.get("/quarantine/{item_id}")
def quarantine_item(
    item_id: uuid.UUID, request: Request, user: OperatorUser, raw: bool = False, done: str | None = None
) -> Response:
    try:
        item = quarantine.show_quarantine(item_id, request, request.app.state.sessions, user.principal, raw)
    except HTTPException as exc:
        return _failed(request, user, exc, "/console/quarantine")
    text = None
    if raw and item.get("raw") and item["raw"].get("body_base64"):
        try:
            text = base64.b64decode(item["raw"]["body_base64"]).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            text = None
    return page(request, "quarantine_item.html", user, item=item, raw_text=text, done=DONE.get(done or ""))


@router.post("/quarantine/{item_id}/retry")
async def quarantine_retry(
    item_id: uuid.UUID, request: Request, user: OperatorUser, form: FormDep
) -> Response:
    back = f"/console/quarantine/{item_id}"
    if not _confirmed(form):
        return _confirm(
            request,
            user,
            "Retry this input?",
            [
                f"Quarantine item {item_id} will be run through its adapter again with the current mappings.",
                "If it is accepted now, its events go on to the processor like any new input.",
            ],
            form,
            (),
            back,
        )
    try:
        await quarantine.retry_quarantine(
            item_id, request, request.app.state.sessions, request.app.state.ingest, user.principal
        )
    except HTTPException as exc:
        return _failed(request, user, exc, back)
    return RedirectResponse(f"{back}?done=retried", status_code=303)


@router.post("/quarantine/{item_id}/discard")
def quarantine_discard(item_id: uuid.UUID, request: Request, user: OperatorUser, form: FormDep) -> Response:
    back = f"/console/quarantine/{item_id}"
    reason = field(form, "reason") or ""
    try:
        body = quarantine.Discard(reason=reason)
    except ValidationError:
        return page(
            request,
            "message.html",
            user,
            status_code=422,
            title="Not done",
            message="Give a reason of at least three characters for discarding.",
            back=back,
        )
    if not _confirmed(form):
        return _confirm(
            request,
            user,
            "Discard this input?",
            [
                f"Quarantine item {item_id} will be closed without being processed.",
                f"Reason recorded: {reason}",
            ],
            form,
            ("reason",),
            back,
        )
    try:
        quarantine.discard_quarantine(item_id, body, request, request.app.state.sessions, user.principal)
    except HTTPException as exc:
        return _failed(request, user, exc, back)
    return RedirectResponse(f"{back}?done=discarded", status_code=303)


# --- dead letters -------------------------------------------------------------------------------


@router.get("/dead-letters")
def dead_letters(
    request: Request,
    user: OperatorUser,
    recipient: str | None = Query(default=None, max_length=128),
    status: str | None = Query(default=None, pattern="^(dead|no_channel|)$"),
) -> Response:
    items = dead.list_dead_letters(
        request.app.state.sessions,
        user.principal,
        recipient=recipient or None,
        status=status or None,
        limit=500,
    )
    return page(
        request, "dead_letters.html", user, items=items, recipient=recipient or "", status=status or ""
    )


@router.get("/dead-letters/{notification_id}")
def dead_letter(
    notification_id: uuid.UUID,
    request: Request,
    user: OperatorUser,
    body: bool = False,
    done: str | None = None,
) -> Response:
    try:
        found = dead.show_dead_letter(
            notification_id, request, request.app.state.sessions, user.principal, body
        )
    except HTTPException as exc:
        return _failed(request, user, exc, "/console/dead-letters")
    replayable = [e["endpoint"] for e in found["endpoints"] if e["status"] in ("dead", "no_channel")]
    return page(request, "dead_letter.html", user, d=found, replayable=replayable, done=DONE.get(done or ""))


@router.post("/dead-letters/{notification_id}/replay")
async def dead_letter_replay(
    notification_id: uuid.UUID, request: Request, user: OperatorUser, form: FormDep
) -> Response:
    back = f"/console/dead-letters/{notification_id}"
    endpoint, note = field(form, "endpoint", 64), field(form, "note")
    if not _confirmed(form):
        return _confirm(
            request,
            user,
            "Replay this notification?",
            [
                f"Notification {notification_id} will be sent again "
                + (f"to the '{endpoint}' endpoint only." if endpoint else "to each of its dead endpoints."),
                "Nobody else receives it again. The replay is recorded with your key.",
            ]
            + ([f"Note: {note}"] if note else []),
            form,
            ("endpoint", "note"),
            back,
        )
    try:
        await dead.replay_one(
            notification_id,
            dead.ReplayRequest(endpoint=endpoint, note=note),
            request,
            request.app.state.sessions,
            request.app.state.settings,
            user.principal,
        )
    except HTTPException as exc:
        return _failed(request, user, exc, back)
    return RedirectResponse(f"{back}?done=replayed", status_code=303)


# --- review items -------------------------------------------------------------------------------


@router.get("/review")
def review_items(request: Request, user: OperatorUser, done: str | None = None) -> Response:
    from gateway.store import tables

    items = review.list_review_items(request.app.state.sessions, user.principal)
    episodes: dict[str, dict[str, Any]] = {}
    with request.app.state.sessions() as s:
        for item in items:
            for key in ("episode_id", "candidate_episode_id"):
                row = s.get(tables.Episode, uuid.UUID(item[key]))
                if row is not None:
                    episodes[item[key]] = dict(row.state or {})
    # Both episodes are shown side by side: each is a view of a child's details, audited as such.
    for episode_id in episodes:
        audit(request, user.principal, 200, "review.view", episode_id=uuid.UUID(episode_id))
    return page(request, "review.html", user, items=items, episodes=episodes, done=DONE.get(done or ""))


@router.post("/review/{item_id}/{decision}")
def review_decide(
    item_id: uuid.UUID, decision: str, request: Request, user: OperatorUser, form: FormDep
) -> Response:
    if decision not in ("merge", "keep-apart"):
        raise Refused(404, "There is no such decision.")
    note = field(form, "note")
    if not _confirmed(form):
        lines = (
            [
                "The two episodes will become one: events, notifications and deadlines move to the survivor.",
                "A merge can be undone later only by splitting the episode.",
            ]
            if decision == "merge"
            else ["The two episodes will be recorded as different absences (or different children)."]
        )
        return _confirm(
            request,
            user,
            f"{decision.replace('-', ' ').capitalize()} review item {item_id}?",
            lines + ([f"Note: {note}"] if note else []),
            form,
            ("note",),
            "/console/review",
        )
    body = review.Decision(note=note)
    sessions = request.app.state.sessions
    try:
        if decision == "merge":
            review.merge_review_item(item_id, body, request, sessions, user.principal)
        else:
            review.keep_apart_review_item(item_id, body, request, sessions, user.principal)
    except HTTPException as exc:
        return _failed(request, user, exc, "/console/review")
    return RedirectResponse(f"/console/review?done={decision.replace('-', '_')}", status_code=303)
