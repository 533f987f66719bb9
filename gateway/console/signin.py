"""Sign-in with an API key (operator or recipient), sign-out, and the console's front door."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from gateway.console.auth import FormDep, UserDep, audit, field, signer
from gateway.console.render import page
from gateway.console.session import (
    COOKIE_PATH,
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    SESSION_COOKIE,
    SESSION_SECONDS,
    SessionData,
    new_nonce,
)
from gateway.security.keys import verify_key
from gateway.store.db import transaction

router = APIRouter(prefix="/console", include_in_schema=False)


def _cookie(response: Response, name: str, value: str, max_age: int) -> None:
    # Secure works over http://127.0.0.1 and localhost too: browsers treat them as secure contexts.
    response.set_cookie(
        name, value, max_age=max_age, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict"
    )


def _login_token(request: Request, nonce: str) -> str:
    return signer(request).csrf_token(f"sign-in:{nonce}")


def _login_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    nonce = new_nonce()
    response = page(
        request, "login.html", status_code=status_code, login_csrf=_login_token(request, nonce), error=error
    )
    _cookie(response, LOGIN_COOKIE, nonce, LOGIN_SECONDS)
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    nonce = request.cookies.get(LOGIN_COOKIE)
    token = form.get("csrf_token")
    if not nonce or not signer(request).csrf_ok(
        f"sign-in:{nonce}", token if isinstance(token, str) else None
    ):
        audit(request, None, 403, "console.csrf_refused", "sign-in form without a valid CSRF token")
        return _login_page(request, "The sign-in form had expired. Please try again.", 403)
    key = field(form, "api_key", 200) or ""
    with transaction(request.app.state.sessions) as s:
        principal = verify_key(s, key) if key else None
    if principal is None or principal.role not in ("operator", "recipient"):
        audit(
            request,
            principal,
            401,
            "console.sign_in_refused",
            "source keys cannot use the console" if principal else "invalid, expired or revoked key",
        )
        return _login_page(request, "That key was not accepted. Check it and try again.", 401)
    session = SessionData(
        prefix=principal.id.removeprefix("key:"), issued_at=int(time.time()), nonce=new_nonce()
    )
    response = RedirectResponse("/console", status_code=303)
    _cookie(response, SESSION_COOKIE, signer(request).seal(session), SESSION_SECONDS)
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict")
    audit(request, principal, 200, "console.sign_in")
    return response


@router.post("/logout")
def logout(request: Request, user: UserDep, _form: FormDep) -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict")
    audit(request, user.principal, 200, "console.sign_out")
    return response


@router.get("")
def home(me: UserDep) -> Response:
    return RedirectResponse("/console/episodes" if me.is_operator else "/console/inbox", status_code=303)
