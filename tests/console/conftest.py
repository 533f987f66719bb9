"""Console fixtures: the app over HTTPS in a TestClient (the session cookie is Secure), keys for each
role, sign-in through the real form. Real broker, both databases (tests/conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.settings import REPO_ROOT, Settings
from tests.e2e.conftest import SOURCE_SCOPES, make_key, worker  # noqa: F401 - fixture
from tests.helpers import wait_until

SPECIMENS = REPO_ROOT.parent / "shared" / "contracts" / "specimens"
# A Kent (886) looked-after child placed in Staffordshire (860) goes missing: both councils are told.
OUT_OF_AREA = SPECIMENS / "compact" / "02-new-report-looked-after-placed-out-of-area.xml"


@dataclass
class Keys:
    operator: str
    source: str
    host: str  # recipient:la.860 (the host authority)
    responsible: str  # recipient:la.886


def keys_for(settings: Settings) -> Keys:
    return Keys(
        operator=make_key(settings, "operator", []),
        source=make_key(settings, "source", SOURCE_SCOPES),
        host=make_key(settings, "recipient", ["recipient:la.860"]),
        responsible=make_key(settings, "recipient", ["recipient:la.886"]),
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: TestClient | httpx.Client, key: str) -> httpx.Response:
    form = client.get("/console/login")
    assert form.status_code == 200
    return client.post(
        "/console/login", data={"api_key": key, "csrf_token": csrf_of(form.text)}, follow_redirects=False
    )


def new_client(app: object) -> TestClient:
    return TestClient(app, base_url="https://testserver")  # type: ignore[arg-type]


@pytest.fixture
def console(settings: Settings) -> Iterator[tuple[TestClient, Keys]]:
    app = create_app(settings)
    keys = keys_for(settings)
    with new_client(app) as client:
        ready = {"Authorization": f"Bearer {keys.operator}"}
        wait_until(lambda: client.get("/readyz", headers=ready).status_code == 200, what="API ready")
        yield client, keys
