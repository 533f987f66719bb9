"""Review items over HTTP: a possible match is listed, then merged; a second decision is refused."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from gateway.runtime import Worker
from gateway.settings import Settings
from gateway.store import tables
from tests.e2e.conftest import EXAMPLE, count
from tests.helpers import wait_until


def test_a_possible_match_is_reviewed_and_merged_over_the_api(
    settings: Settings, worker: Worker, api: TestClient
) -> None:
    police = json.loads(EXAMPLE)
    police["child"]["ids"] = {}
    council = json.loads(EXAMPLE)
    council["source"]["record_id"] = "LA-REC-1"
    council["child"]["ids"] = {}
    council["episode"]["police"] = None
    council["care"] = {"looked_after": True, "responsible_la": "212"}  # another area: not an automatic merge
    for doc in (police, council):
        assert api.post("/ingest/manual/demo", content=json.dumps(doc)).status_code == 202
    assert api.get("/review-items").status_code == 403  # a source key is not an operator
    items = wait_until(lambda: api.get("/review-items", headers=api.operator).json(), what="a review item")
    [item] = items
    assert {"family name", "given name", "date of birth"} <= set(item["reasons"])
    resp = api.post(f"/review-items/{item['id']}/merge", json={"note": "same child"}, headers=api.operator)
    assert resp.status_code == 200 and resp.json()["status"] == "merged"
    again = api.post(f"/review-items/{item['id']}/keep-apart", json={}, headers=api.operator)
    assert again.status_code == 409 and "already decided" in again.json()["detail"]
    assert api.get("/review-items", headers=api.operator).json() == []
    assert count(settings, tables.EpisodeAudit) == 1
    assert count(settings, tables.Episode, tables.Episode.merged_into.is_(None)) == 1
