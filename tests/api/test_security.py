"""Every door locked: no key → 401, wrong scope → 403 (both audited), the right key → through."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.runtime import Worker, open_store
from gateway.security.jwt import JwtVerifier
from gateway.security.keys import revoke_key
from gateway.security.tables import AccessAudit
from gateway.settings import Settings
from gateway.store import tables
from gateway.store.db import transaction
from tests.e2e.conftest import EXAMPLE, make_key
from tests.helpers import another_child, wait_until

ANY = uuid.UUID(int=1)
# (method, path, body, who may) for every authenticated route shipped by this module's issue.
ROUTES = [
    ("get", "/readyz", None, "any"),
    ("get", "/metrics", None, "operator"),
    ("post", "/ingest/manual/demo", EXAMPLE, "source"),
    ("get", "/review-items", None, "operator"),
    ("post", f"/review-items/{ANY}/merge", {}, "operator"),
    ("post", f"/review-items/{ANY}/keep-apart", {}, "operator"),
    ("post", f"/episodes/{ANY}/split", {"event_ids": [str(ANY)]}, "operator"),
    ("get", f"/episodes/{ANY}", None, "operator"),
    ("get", "/episodes?police_reference=MP/1", None, "operator"),
    ("get", f"/episodes/{ANY}/disclosures", None, "operator"),
    ("get", f"/episodes/{ANY}/access", None, "operator"),
    ("get", "/notifications", None, "recipient"),
    ("post", f"/notifications/{ANY}/ack", None, "recipient"),
    ("get", "/quarantine", None, "operator"),
    ("get", f"/quarantine/{ANY}", None, "operator"),
    ("post", f"/quarantine/{ANY}/retry", None, "operator"),
    ("post", f"/quarantine/{ANY}/discard", {"reason": "test"}, "operator"),
    ("post", "/rules/explain", json.loads(EXAMPLE), "operator"),
    ("get", "/dead-letters", None, "operator"),
    ("get", f"/dead-letters/{ANY}", None, "operator"),
    ("post", f"/dead-letters/{ANY}/replay", {"note": "test replay"}, "operator"),
    ("post", "/dead-letters/replay", {"recipient": "la.886.front_door", "note": "test"}, "operator"),
    ("get", "/delivery/no-channel", None, "operator"),
]


def call(client: TestClient, method: str, path: str, body: object, headers: dict[str, str]):
    kwargs: dict = {"headers": headers}
    if isinstance(body, bytes):
        kwargs["content"] = body
    elif body is not None:
        kwargs["json"] = body
    return getattr(client, method)(path, **kwargs)


@pytest.fixture
def keys(settings: Settings) -> dict[str, dict[str, str]]:
    def bearer(role: str, scopes: list[str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_key(settings, role, scopes)}"}

    return {
        "none": {"Authorization": ""},
        "source": bearer("source", ["ingest:manual/demo"]),
        "other-source": bearer("source", ["ingest:compact/staffordshire-police"]),
        "recipient": bearer("recipient", ["recipient:la.886"]),
        "operator": bearer("operator", []),
    }


def test_every_route_refuses_no_key_and_wrong_scope_and_admits_the_right_one(
    settings: Settings, api: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    api.headers.pop("Authorization")
    for method, path, body, who in ROUTES:
        assert call(api, method, path, body, {}).status_code == 401, path
        assert call(api, method, path, body, {"Authorization": "Bearer mgw_nope_nope"}).status_code == 401, (
            path
        )
        if who == "any":
            assert call(api, method, path, body, keys["recipient"]).status_code == 200, path
            continue
        wrong = {"source": "recipient", "operator": "source", "recipient": "operator"}[who]
        assert call(api, method, path, body, keys[wrong]).status_code == 403, path
        if who == "source":
            assert call(api, method, path, body, keys["other-source"]).status_code == 403, path
        right = call(api, method, path, body, keys[who])
        assert right.status_code not in (401, 403), (path, right.status_code, right.text)
        assert right.status_code < 500, (path, right.text)
    engine, sessions = open_store(settings)
    with sessions() as s:
        refused = s.scalars(select(AccessAudit).where(AccessAudit.action == "refused")).all()
    engine.dispose()
    assert {r.status for r in refused} == {401, 403}
    assert len(refused) >= 2 * len(ROUTES)


def test_healthz_needs_no_key_and_responses_carry_security_headers(api: TestClient) -> None:
    resp = api.get("/healthz", headers={"Authorization": ""})
    assert resp.status_code == 200
    for header in ("X-Content-Type-Options", "X-Frame-Options", "Cache-Control", "Content-Security-Policy"):
        assert header in resp.headers


def test_expired_and_revoked_keys_are_refused(settings: Settings, api: TestClient) -> None:
    expired = make_key(settings, "operator", [], now=datetime.now(UTC) - timedelta(days=400), days=365)
    assert api.get("/review-items", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    live = make_key(settings, "operator", [])
    assert api.get("/review-items", headers={"Authorization": f"Bearer {live}"}).status_code == 200
    engine, sessions = open_store(settings)
    with transaction(sessions) as s:
        assert revoke_key(s, live.removeprefix("mgw_").split("_")[0])
    engine.dispose()
    assert api.get("/review-items", headers={"Authorization": f"Bearer {live}"}).status_code == 401


def test_oauth2_client_credentials_tokens_are_validated(api: TestClient) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    api.app.state.jwt = JwtVerifier(
        issuer="https://idp.example",
        audience="missing-gateway",
        jwks={"keys": [public_jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]},
    )

    def token(**claims: object) -> dict[str, str]:
        base = {
            "iss": "https://idp.example",
            "aud": "missing-gateway",
            "sub": "client-77",
            "exp": int(time.time()) + 300,
            "scope": "operator",
        }
        return {
            "Authorization": "Bearer "
            + jwt.encode(base | claims, private, algorithm="RS256", headers={"kid": "k1"})
        }

    assert api.get("/review-items", headers=token()).status_code == 200
    assert api.get("/review-items", headers=token(scope="recipient:la.886")).status_code == 403
    assert api.get("/review-items", headers=token(aud="someone-else")).status_code == 401
    assert api.get("/review-items", headers=token(exp=int(time.time()) - 10)).status_code == 401
    assert api.get("/review-items", headers=token(iss="https://evil.example")).status_code == 401


def test_a_recipient_pulls_and_acknowledges_only_its_own_notifications(
    settings: Settings, worker: Worker, api: TestClient
) -> None:
    kent = {"Authorization": f"Bearer {make_key(settings, 'recipient', ['recipient:la.886'])}"}
    derby = {"Authorization": f"Bearer {make_key(settings, 'recipient', ['recipient:la.831'])}"}
    for n in range(3):
        assert (
            api.post(
                "/ingest/manual/demo", content=json.dumps(another_child(json.loads(EXAMPLE), n))
            ).status_code
            == 202
        )
    # Wait until all three are there, then page through them two at a time.
    wait_until(
        lambda: len(api.get("/notifications?limit=500", headers=kent).json()["items"]) >= 3,
        what="Kent's notifications",
    )
    page = api.get("/notifications?limit=2", headers=kent).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert all(n["recipient"]["id"] == "886" for n in page["items"])
    rest = api.get(f"/notifications?limit=50&cursor={page['next_cursor']}", headers=kent).json()["items"]
    ids = [n["notification_id"] for n in page["items"] + rest]
    assert len(ids) == len(set(ids)) >= 3
    assert api.get("/notifications", headers=derby).json()["items"] == []
    assert api.post(f"/notifications/{ids[0]}/ack", headers=derby).status_code == 404
    assert api.post(f"/notifications/{ids[0]}/ack", headers=kent).status_code == 200
    assert api.post(f"/notifications/{ids[0]}/ack", headers=kent).status_code == 200  # idempotent
    after = [n["notification_id"] for n in api.get("/notifications?limit=500", headers=kent).json()["items"]]
    assert ids[0] not in after and set(ids[1:]) <= set(after)


def test_operators_see_episodes_and_both_audits(settings: Settings, worker: Worker, api: TestClient) -> None:
    assert api.post("/ingest/manual/demo", content=EXAMPLE).status_code == 202
    found = wait_until(
        lambda: api.get("/episodes?police_reference=MP/2026/009999", headers=api.operator).json(),
        what="episode by police reference",
    )
    episode_id = found[0]["episode_id"]
    assert (
        api.get(f"/episodes/{episode_id}", headers=api.operator).json()["child"]["family_name"] == "Example"
    )
    by_source = api.get(
        "/episodes?system=manual&instance=demo&record_id=DEMO/2026/0001", headers=api.operator
    )
    assert [e["episode_id"] for e in by_source.json()] == [episode_id]
    disclosures = api.get(f"/episodes/{episode_id}/disclosures", headers=api.operator).json()
    assert {"recipient", "fields", "rules", "lawful_basis"} <= set(disclosures[0])
    access = api.get(f"/episodes/{episode_id}/access", headers=api.operator).json()
    assert {a["action"] for a in access} >= {"episode.search", "episode.view", "episode.disclosures"}


def test_quarantine_can_be_seen_retried_and_discarded(
    settings: Settings, worker: Worker, api: TestClient
) -> None:
    bad = api.post("/ingest/manual/demo", content=b'{"event_type": "vanished"}')
    qid = bad.json()["quarantine_id"]
    listed = api.get("/quarantine", headers=api.operator).json()
    assert [q["id"] for q in listed] == [qid]
    shown = api.get(f"/quarantine/{qid}?include_raw=true", headers=api.operator).json()
    assert shown["raw"]["size"] == len(b'{"event_type": "vanished"}') and shown["raw"]["body_base64"]
    retried = api.post(f"/quarantine/{qid}/retry", headers=api.operator)
    assert retried.status_code == 422  # still bad: superseded by a new item
    new_id = retried.json()["detail"]["quarantine_id"]
    assert (
        api.post(f"/quarantine/{qid}/discard", json={"reason": "x y z"}, headers=api.operator).status_code
        == 409
    )
    assert (
        api.post(
            f"/quarantine/{new_id}/discard",
            json={"reason": "sender confirmed a test message"},
            headers=api.operator,
        ).status_code
        == 200
    )
    assert api.get("/quarantine", headers=api.operator).json() == []
    engine, sessions = open_store(settings)
    with sessions() as s:
        states = {str(q.id): q.status for q in s.scalars(select(tables.Quarantine))}
    engine.dispose()
    assert states == {qid: "superseded", new_id: "discarded"}


def test_metrics_report_ingest_processing_notifications_and_state(
    settings: Settings, worker: Worker, api: TestClient
) -> None:
    assert api.post("/ingest/manual/demo", content=EXAMPLE).status_code == 202
    api.post("/ingest/manual/demo", content=b"{not json")
    wait_until(
        lambda: (
            "gateway_processing_seconds_count" in (t := api.get("/metrics", headers=api.operator).text)
            and "gateway_notifications_total{" in t
        ),
        what="metrics updated",
    )
    text = api.get("/metrics", headers=api.operator).text
    assert 'gateway_ingest_total{instance="demo",outcome="accepted",system="manual"}' in text
    assert 'gateway_ingest_total{instance="demo",outcome="unreadable",system="manual"}' in text
    assert 'gateway_notifications_total{kind="notify",recipient_kind="la"}' in text
    assert "gateway_quarantine_open 1.0" in text
    assert 'gateway_queue_depth{queue="gateway.process"}' in text
    assert "gateway_timer_lag_seconds" in text
