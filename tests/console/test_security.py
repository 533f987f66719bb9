"""Sign-in, session cookies, CSRF and role checks of the console (TestClient over HTTPS, real broker,
SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.console.session import SESSION_SECONDS, SessionData, Signer
from gateway.runtime import open_store
from gateway.security.keys import revoke_key
from gateway.security.tables import AccessAudit
from gateway.settings import Settings
from gateway.store.db import transaction
from tests.console.conftest import Keys, csrf_of, new_client, sign_in

pytestmark = pytest.mark.broker


def audit_rows(settings: Settings, action: str) -> list[AccessAudit]:
    engine, sessions = open_store(settings)
    try:
        with sessions() as s:
            return list(
                s.scalars(select(AccessAudit).where(AccessAudit.action == action).order_by(AccessAudit.id))
            )
    finally:
        engine.dispose()


def cookie_header(response: object, name: str) -> str:
    headers = [v for k, v in response.headers.multi_items() if k.lower() == "set-cookie"]  # type: ignore[attr-defined]
    found = [h for h in headers if h.startswith(f"{name}=")]
    assert found, f"no Set-Cookie for {name} in {headers}"
    return found[0]


def assert_strict_flags(header: str) -> None:
    parts = {p.strip().split("=")[0].lower() for p in header.split(";")}
    assert {"httponly", "secure", "samesite", "path"} <= parts, header
    assert "samesite=strict" in header.lower() and "path=/console" in header.lower(), header


def test_sign_in_sets_httponly_secure_samesite_cookies_and_is_audited(
    console: tuple[TestClient, Keys], settings: Settings
) -> None:
    client, keys = console
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/login"
    form = client.get("/console/login")
    assert_strict_flags(cookie_header(form, "gw_console_login"))
    assert "default-src 'none'" in form.headers["content-security-policy"]
    assert "script-src" not in form.headers["content-security-policy"]  # no script is allowed at all
    assert form.headers["cache-control"] == "no-store"

    done = client.post(
        "/console/login",
        data={"api_key": keys.operator, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/console"
    session = cookie_header(done, "gw_console")
    assert_strict_flags(session)
    assert keys.operator not in session  # the key itself never goes into the cookie
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/episodes"
    page = client.get("/console/episodes")
    assert page.status_code == 200 and "<h1>Episodes</h1>" in page.text
    [row] = audit_rows(settings, "console.sign_in")
    assert row.principal.startswith("key:") and row.role == "operator" and row.status == 200


def test_bad_and_source_keys_are_refused_and_audited(
    console: tuple[TestClient, Keys], settings: Settings
) -> None:
    client, keys = console
    assert sign_in(client, "mgw_nothere_xxxxxxxx").status_code == 401
    assert sign_in(client, keys.source).status_code == 401
    assert client.get("/console/episodes", follow_redirects=False).status_code == 303  # still signed out
    refused = audit_rows(settings, "console.sign_in_refused")
    assert [r.status for r in refused] == [401, 401]
    assert refused[1].role == "source"


def test_every_form_needs_its_csrf_token(console: tuple[TestClient, Keys], settings: Settings) -> None:
    client, keys = console
    # The sign-in form itself: without the token bound to the sign-in cookie, nothing happens.
    client.get("/console/login")
    assert (
        client.post("/console/login", data={"api_key": keys.operator}, follow_redirects=False).status_code
        == 403
    )
    assert client.get("/console/episodes", follow_redirects=False).status_code == 303

    assert sign_in(client, keys.operator).status_code == 303
    token = csrf_of(client.get("/console/episodes").text)
    for path, data in [
        ("/console/logout", {}),
        ("/console/rules/simulate", {"scenario": "events: []"}),
        ("/console/dead-letters/00000000-0000-0000-0000-000000000000/replay", {"confirmed": "yes"}),
        ("/console/review/00000000-0000-0000-0000-000000000000/merge", {"confirmed": "yes"}),
        (
            "/console/quarantine/00000000-0000-0000-0000-000000000000/discard",
            {"reason": "abc", "confirmed": "yes"},
        ),
    ]:
        assert client.post(path, data=data).status_code == 403, path
        assert client.post(path, data={**data, "csrf_token": token[:-2] + "00"}).status_code == 403, path

    # Another session's token is no good here either.
    other = new_client(client.app)
    assert sign_in(other, keys.operator).status_code == 303
    theirs = csrf_of(other.get("/console/episodes").text)
    assert theirs != token
    assert client.post("/console/logout", data={"csrf_token": theirs}).status_code == 403

    refused = audit_rows(settings, "console.csrf_refused")
    assert len(refused) == 1 + 5 * 2 + 1 and all(r.status == 403 for r in refused)
    # With the right token the form works.
    out = client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/console/login"


def test_a_revoked_key_ends_its_console_sessions(
    console: tuple[TestClient, Keys], settings: Settings
) -> None:
    client, keys = console
    assert sign_in(client, keys.operator).status_code == 303
    assert client.get("/console/episodes").status_code == 200
    engine, sessions = open_store(settings)
    try:
        with transaction(sessions) as s:
            assert revoke_key(s, keys.operator.removeprefix("mgw_").split("_", 1)[0])
    finally:
        engine.dispose()
    assert client.get("/console/episodes", follow_redirects=False).headers["location"] == "/console/login"


def test_recipients_cannot_reach_operator_pages_and_operators_have_no_inbox(
    console: tuple[TestClient, Keys], settings: Settings
) -> None:
    client, keys = console
    assert sign_in(client, keys.host).status_code == 303
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/inbox"
    for path in (
        "/console/episodes",
        "/console/deadlines",
        "/console/quarantine",
        "/console/dead-letters",
        "/console/review",
        "/console/rules",
        "/console/episodes/00000000-0000-0000-0000-000000000000",
    ):
        assert client.get(path).status_code == 403, path
    operator = new_client(client.app)
    assert sign_in(operator, keys.operator).status_code == 303
    assert operator.get("/console/inbox").status_code == 403
    refused = [r for r in audit_rows(settings, "refused") if r.path.startswith("/console/")]
    assert len(refused) == 8


# --- the signed cookie itself (no broker needed) ------------------------------------------------


SIGNER = Signer(b"k" * 32)


def test_a_session_cookie_is_good_for_a_working_day_only() -> None:
    now = time.time()
    sealed = SIGNER.seal(SessionData("abc123", int(now), "nonce"))
    assert SIGNER.open(sealed, now + 60) == SessionData("abc123", int(now), "nonce")
    assert SIGNER.open(sealed, now + SESSION_SECONDS + 1) is None
    assert Signer(b"x" * 32).open(sealed, now) is None  # another deployment's secret


@given(st.integers(min_value=0, max_value=200), st.characters(codec="ascii"))
def test_any_change_to_a_session_cookie_is_refused(position: int, char: str) -> None:
    now = int(datetime.now(UTC).timestamp())
    sealed = SIGNER.seal(SessionData("abc123", now, "nonce-1"))
    i = position % len(sealed)
    tampered = sealed[:i] + char + sealed[i + 1 :]
    if tampered != sealed:
        assert SIGNER.open(tampered, now) is None


def test_production_refuses_to_start_without_a_console_secret() -> None:
    with pytest.raises(RuntimeError, match="GATEWAY_CONSOLE_SECRET"):
        Signer.from_settings(Settings(environment="production"))
    assert Signer.from_settings(Settings(environment="production", console_secret="s" * 32)) is not None
