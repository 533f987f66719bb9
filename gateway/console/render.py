"""Server-rendered pages: one Jinja2 environment (autoescaping on), a strict Content-Security-Policy
(no script at all: the console works without JavaScript), and the helpers templates use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Undefined
from starlette.responses import Response

from gateway.console.auth import ConsoleUser

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# The API's own policy is `default-src 'none'`; pages also need their stylesheet and to post their forms.
CONSOLE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

templates = Jinja2Templates(directory=str(TEMPLATES))


def when(value: Any) -> str:
    """A time as a practitioner reads it: UTC, to the minute (ISO strings from documents too)."""
    if isinstance(value, Undefined) or value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def duration(value: timedelta | None) -> str:
    if value is None:
        return ""
    minutes = max(int(value.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {mins:02d}m"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


templates.env.filters["when"] = when
templates.env.filters["duration"] = duration
templates.env.filters["pretty"] = pretty


def page(
    request: Request,
    name: str,
    user: ConsoleUser | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    response = templates.TemplateResponse(
        request,
        name,
        {"user": user, "csrf": user.csrf if user else None, "now": datetime.now(UTC), **context},
        status_code=status_code,
    )
    response.headers["Content-Security-Policy"] = CONSOLE_CSP
    return response
