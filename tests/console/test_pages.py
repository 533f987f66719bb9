"""The console's pages on the real pipeline (worker, broker, SQLite and PostgreSQL): an out-of-area
COMPACT report reaches the board and its timeline; each host authority sees only its own inbox; every
view of an episode is in the access audit; quarantine actions ask for confirmation; the rules page shows
every area's duties and runs scenarios."""

from __future__ import annotations

import html
import json
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.console.render import pretty
from gateway.rules.loader import load_rulebook
from gateway.runtime import Worker, open_store
from gateway.security.tables import AccessAudit, NotificationAck
from gateway.settings import Settings
from gateway.store import tables
from tests.console.conftest import OUT_OF_AREA, Keys, csrf_of, new_client, sign_in
from tests.helpers import wait_until

pytestmark = pytest.mark.broker


def post_specimen(client: TestClient, keys: Keys) -> None:
    resp = client.post(
        "/ingest/compact/staffordshire-police",
        content=OUT_OF_AREA.read_bytes(),
        headers={"Authorization": f"Bearer {keys.source}", "Content-Type": "application/xml"},
    )
    assert resp.status_code == 202, resp.text


def notifications(settings: Settings) -> list[tables.Notification]:
    engine, sessions = open_store(settings)
    try:
        with sessions() as s:
            return list(s.scalars(select(tables.Notification)))
    finally:
        engine.dispose()


def accesses(settings: Settings, **where: object) -> list[AccessAudit]:
    engine, sessions = open_store(settings)
    try:
        with sessions() as s:
            q = select(AccessAudit)
            for k, v in where.items():
                q = q.where(getattr(AccessAudit, k) == v)
            return list(s.scalars(q))
    finally:
        engine.dispose()


def test_an_out_of_area_report_on_the_board_timeline_and_each_councils_own_inbox(
    console: tuple[TestClient, Keys], settings: Settings, worker: Worker
) -> None:
    client, keys = console
    post_specimen(client, keys)
    notes = wait_until(
        lambda: (n := notifications(settings)) and {x.recipient_id for x in n} >= {"860", "886"} and n,
        what="notifications to both councils",
    )
    episode_id = notes[0].episode_id
    host = [n for n in notes if n.recipient_id == "860"]
    theirs = [n for n in notes if n.recipient_id != "860"]

    # Operator: the board, filterable by area, and the timeline.
    assert sign_in(client, keys.operator).status_code == 303
    board = client.get("/console/episodes")
    assert str(episode_id)[:8] in board.text and "886" in board.text and "860" in board.text
    assert str(episode_id)[:8] in client.get("/console/episodes", params={"area": "860"}).text
    assert str(episode_id)[:8] not in client.get("/console/episodes", params={"area": "212"}).text
    before = len(accesses(settings, episode_id=episode_id, action="episode.view"))
    timeline = client.get(f"/console/episodes/{episode_id}")
    assert timeline.status_code == 200
    text = html.unescape(timeline.text)
    assert "reported from compact/staffordshire-police" in text
    for n in notes:
        assert n.routing_key in text and n.rule_id in text
        assert n.body["rule"]["cite"] in text
    assert "disclosed to la.860.front_door" in text
    views = accesses(settings, episode_id=episode_id, action="episode.view")
    assert len(views) == before + 1
    assert views[-1].path == f"/console/episodes/{episode_id}" and views[-1].principal.startswith("key:")
    assert views[-1].role == "operator"
    deadlines = client.get("/console/deadlines")
    assert deadlines.status_code == 200

    # The host authority: only its own notices, the payload exactly as stored (its profile's projection).
    hosted = new_client(client.app)
    assert sign_in(hosted, keys.host).status_code == 303
    inbox = hosted.get("/console/inbox")
    for n in host:
        assert f"/console/inbox/{n.notification_id}" in inbox.text
    for n in theirs:
        assert str(n.notification_id) not in inbox.text
        assert hosted.get(f"/console/inbox/{n.notification_id}").status_code == 404
        token = csrf_of(inbox.text)
        assert (
            hosted.post(f"/console/inbox/{n.notification_id}/ack", data={"csrf_token": token}).status_code
            == 404
        )
    mine = host[0]
    shown = hosted.get(f"/console/inbox/{mine.notification_id}")
    assert shown.status_code == 200
    assert pretty(mine.body["payload"]) in html.unescape(shown.text)
    shown_payload = html.unescape(shown.text.split('<pre id="payload">', 1)[1].split("</pre>", 1)[0])
    assert json.loads(shown_payload) == mine.body["payload"]  # exactly what the profile let out, no more
    assert accesses(settings, action="notification.view", episode_id=episode_id)
    acked = hosted.post(
        f"/console/inbox/{mine.notification_id}/ack",
        data={"csrf_token": csrf_of(shown.text)},
        follow_redirects=False,
    )
    assert acked.status_code == 303
    engine, sessions = open_store(settings)
    try:
        with sessions() as s:
            assert s.scalars(select(NotificationAck.notification_id)).all() == [mine.notification_id]
    finally:
        engine.dispose()
    assert f"/console/inbox/{mine.notification_id}" not in hosted.get("/console/inbox").text  # new ones only
    assert f"/console/inbox/{mine.notification_id}" in hosted.get("/console/inbox?show=all").text


def test_quarantine_discard_asks_for_confirmation_and_is_audited(
    console: tuple[TestClient, Keys], settings: Settings
) -> None:
    client, keys = console
    bad = client.post(
        "/ingest/manual/demo",
        content=b'{"event_type": "vanished"}',
        headers={"Authorization": f"Bearer {keys.source}", "Content-Type": "application/json"},
    )
    assert bad.status_code == 422
    item = bad.json()["quarantine_id"]
    assert sign_in(client, keys.operator).status_code == 303
    listed = client.get("/console/quarantine")
    assert f"/console/quarantine/{item}" in listed.text
    page = client.get(f"/console/quarantine/{item}")
    assert bad.json()["reason"] in html.unescape(page.text)  # the reason is shown
    token = csrf_of(page.text)
    confirm = client.post(
        f"/console/quarantine/{item}/discard", data={"csrf_token": token, "reason": "test input"}
    )
    assert confirm.status_code == 200 and 'name="confirmed" value="yes"' in confirm.text
    assert "open" in client.get(f"/console/quarantine/{item}").text  # nothing done yet
    assert not accesses(settings, action="quarantine.discard")
    done = client.post(
        f"/console/quarantine/{item}/discard",
        data={"csrf_token": token, "reason": "test input", "confirmed": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "discarded: test input" in client.get(f"/console/quarantine/{item}").text
    [audit] = accesses(settings, action="quarantine.discard")
    assert audit.path == f"/console/quarantine/{item}/discard" and audit.principal.startswith("key:")

    # Retry (no mapping was fixed, so it is refused again): asked first, then run and audited.
    again = client.post(
        "/ingest/manual/demo",
        content=b'{"event_type": "vanished", "x": 1}',
        headers={"Authorization": f"Bearer {keys.source}", "Content-Type": "application/json"},
    ).json()["quarantine_id"]
    asked = client.post(f"/console/quarantine/{again}/retry", data={"csrf_token": token})
    assert asked.status_code == 200 and "Retry this input?" in asked.text
    retried = client.post(
        f"/console/quarantine/{again}/retry", data={"csrf_token": token, "confirmed": "yes"}
    )
    assert retried.status_code == 422 and "Not done" in retried.text
    assert "superseded" in client.get(f"/console/quarantine/{again}").text
    [audit] = accesses(settings, action="quarantine.retry")
    assert audit.status == 422 and audit.path == f"/console/quarantine/{again}/retry"


def test_rules_page_shows_every_areas_duties_and_runs_a_scenario(
    console: tuple[TestClient, Keys], settings: Settings
) -> None:
    from gateway.rules.docs import duties

    client, keys = console
    assert sign_in(client, keys.operator).status_code == 303
    page = client.get("/console/rules")
    assert page.status_code == 200
    text = html.unescape(page.text)
    tables_ = duties(load_rulebook(settings.mappings_dir))
    assert tables_, "no rule files found"
    for area, rows in tables_.items():
        assert f'id="area-{area}"' in page.text
        for d in rows:
            assert d.rule_id in text and d.cite in text
    ran = client.post(
        "/console/rules/simulate", data={"csrf_token": csrf_of(page.text), "scenario": _scenario()}
    )
    assert ran.status_code == 200
    result = html.unescape(ran.text)
    assert "la.886.front_door" in result and "national.responsible-la-front-door" in result
    bad = client.post(
        "/console/rules/simulate", data={"csrf_token": csrf_of(page.text), "scenario": "events: ["}
    )
    assert bad.status_code == 200 and "could not be run" in bad.text


def _scenario() -> str:
    from gateway.console.rules import EXAMPLE_SCENARIO

    return EXAMPLE_SCENARIO


def test_an_unknown_episode_is_404(console: tuple[TestClient, Keys]) -> None:
    client, keys = console
    assert sign_in(client, keys.operator).status_code == 303
    assert client.get(f"/console/episodes/{uuid.uuid4()}").status_code == 404


def test_a_possible_match_is_merged_in_the_console_after_confirmation(
    console: tuple[TestClient, Keys], settings: Settings, worker: Worker
) -> None:
    from tests.e2e.conftest import EXAMPLE

    client, keys = console
    police = json.loads(EXAMPLE)
    police["child"]["ids"] = {}
    council = json.loads(EXAMPLE)
    council["source"]["record_id"] = "LA-REC-1"
    council["child"]["ids"] = {}
    council["episode"]["police"] = None
    council["care"] = {"looked_after": True, "responsible_la": "212"}  # another area: not an automatic merge
    for doc in (police, council):
        resp = client.post(
            "/ingest/manual/demo", content=json.dumps(doc), headers={"Authorization": f"Bearer {keys.source}"}
        )
        assert resp.status_code == 202
    engine, sessions = open_store(settings)
    try:

        def open_items() -> list[tables.ReviewItem]:
            with sessions() as s:
                return list(s.scalars(select(tables.ReviewItem).where(tables.ReviewItem.status == "open")))

        [item] = wait_until(open_items, what="a review item")
        assert sign_in(client, keys.operator).status_code == 303
        page = client.get("/console/review")
        assert f"/console/review/{item.id}/merge" in page.text
        assert html.unescape(page.text).count("Sam Example") == 2  # both episodes side by side
        assert {a.episode_id for a in accesses(settings, action="review.view")} == {
            item.episode_id,
            item.candidate_episode_id,
        }
        token = csrf_of(page.text)
        confirm = client.post(f"/console/review/{item.id}/merge", data={"csrf_token": token, "note": "same"})
        assert "Merge review item" in confirm.text and open_items()  # asked, not done
        done = client.post(
            f"/console/review/{item.id}/merge",
            data={"csrf_token": token, "note": "same", "confirmed": "yes"},
            follow_redirects=False,
        )
        assert done.status_code == 303 and not open_items()
        with sessions() as s:
            [audit] = s.scalars(select(tables.EpisodeAudit)).all()
        assert audit.action == "merge" and audit.actor.startswith("key:")
        [decision] = accesses(settings, action="review.merge")
        assert decision.path == f"/console/review/{item.id}/merge"
        again = client.post(
            f"/console/review/{item.id}/keep-apart", data={"csrf_token": token, "confirmed": "yes"}
        )
        assert again.status_code == 409 and "already decided" in again.text
    finally:
        engine.dispose()
