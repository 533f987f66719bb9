"""Who is using the console (from the session cookie), what they may reach, and the CSRF check of every
form. Refusals are written to the same access audit as the API's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from gateway.console.session import SESSION_COOKIE, Signer, principal_for_prefix
from gateway.security.audit import record_access
from gateway.security.principal import Principal
from gateway.store.db import transaction


@dataclass(frozen=True)
class ConsoleUser:
    principal: Principal
    nonce: str  # the session's nonce: the CSRF token is derived from it
    csrf: str

    @property
    def is_operator(self) -> bool:
        return self.principal.role == "operator"

    @property
    def recipients(self) -> list[str]:
        return [".".join(p for p in r if p) for r in self.principal.recipients()]


class SignInRequired(Exception):
    """No valid session: the browser is sent to the sign-in page."""


class Refused(Exception):
    """A signed-in user asked for something their role or scope does not allow, or a form failed its
    CSRF check. Shown as a page with ``status``."""

    def __init__(self, status: int, why: str):
        super().__init__(why)
        self.status = status
        self.why = why


def signer(request: Request) -> Signer:
    return request.app.state.console_signer  # type: ignore[no-any-return]


def audit(
    request: Request,
    principal: Principal | None,
    status: int,
    action: str,
    detail: str | None = None,
    episode_id: object = None,
) -> None:
    record_access(
        request.app.state.sessions,
        principal=principal.id if principal else "anonymous",
        role=principal.role if principal else None,
        method=request.method,
        path=request.url.path,
        status=status,
        action=action,
        detail=detail,
        episode_id=episode_id,  # type: ignore[arg-type]
    )


def console_user(request: Request) -> ConsoleUser:
    data = signer(request).open(request.cookies.get(SESSION_COOKIE))
    if data is None:
        raise SignInRequired
    with transaction(request.app.state.sessions) as s:
        principal = principal_for_prefix(s, data.prefix)
    if principal is None:  # revoked or expired since sign-in
        raise SignInRequired
    if principal.role not in ("operator", "recipient"):
        raise SignInRequired
    if not request.app.state.ratelimit.allow(principal.id):
        raise Refused(429, "too many requests: wait a few seconds")
    # The API's route functions the console calls read the caller from here, as under the API.
    request.state.principal = principal
    return ConsoleUser(principal, data.nonce, signer(request).csrf_token(data.nonce))


UserDep = Annotated[ConsoleUser, Depends(console_user)]


def operator_user(request: Request, user: UserDep) -> ConsoleUser:
    if not user.is_operator:
        audit(request, user.principal, 403, "refused", "console: operator role required")
        raise Refused(403, "This page is for the integration team (operator keys).")
    return user


def recipient_user(request: Request, user: UserDep) -> ConsoleUser:
    if user.principal.role != "recipient" or not user.principal.recipients():
        audit(request, user.principal, 403, "refused", "console: recipient role required")
        raise Refused(403, "The inbox is for recipients (recipient keys).")
    return user


OperatorUser = Annotated[ConsoleUser, Depends(operator_user)]
RecipientUser = Annotated[ConsoleUser, Depends(recipient_user)]


async def checked_form(request: Request, user: UserDep) -> FormData:
    """The posted form, after its CSRF token matched this session's; otherwise 403, audited."""
    form = await request.form()
    token = form.get("csrf_token")
    if not signer(request).csrf_ok(user.nonce, token if isinstance(token, str) else None):
        audit(request, user.principal, 403, "console.csrf_refused", "missing or wrong CSRF token")
        raise Refused(
            403,
            "This form has expired or did not come from this console. Go back, reload "
            "the page and try again.",
        )
    return form


FormDep = Annotated[FormData, Depends(checked_form)]


def field(form: FormData, name: str, max_length: int = 2000) -> str | None:
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:max_length] or None
