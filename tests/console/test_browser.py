"""End to end in a real headless Chromium against a real server, worker, broker and database: an operator
signs in, a COMPACT specimen arrives, the episode appears on the board with its notifications, the host
authority's webhook refuses the notice (a dead letter) and the operator replays it after the fix; then
the host authority signs in and sees only its own inbox. Screenshots of the main pages are saved
(docs/console/ with ``make console-screenshots``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys as Key
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from gateway.api.app import create_app
from gateway.runtime import build_worker, open_store
from gateway.settings import Settings
from gateway.store import tables
from tests.console.browser import chromium, screenshot_dir, serve
from tests.console.conftest import OUT_OF_AREA, keys_for
from tests.delivery.conftest import SECRET_ENV, delivery_settings
from tests.delivery.receivers import HttpsReceiver, self_signed, start_https_receiver
from tests.helpers import wait_until

pytestmark = pytest.mark.broker

HOST_WEBHOOK = """
description: console test recipients
recipients:
  - kind: la
    id: "860"
    role: front_door
    name: Staffordshire front door (test webhook)
    channels:
      - channel: webhook
        url: {url}
        secret_env: {secret}
"""


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpsReceiver]:
    monkeypatch.setenv(SECRET_ENV, "whsec-console-test-0123456789")
    (tmp_path / "tls").mkdir()
    rec = start_https_receiver(*self_signed(tmp_path / "tls"))
    yield rec
    rec.stop()


def test_operator_and_host_authority_in_a_real_browser(
    settings: Settings, tmp_path: Path, receiver: HttpsReceiver
) -> None:
    directory = tmp_path / "directory"
    directory.mkdir()
    (directory / "test.yaml").write_text(HOST_WEBHOOK.format(url=receiver.url, secret=SECRET_ENV))
    s = delivery_settings(settings, directory, tmp_path / "tls" / "cert.pem")
    assert s.webhook_ca_file is not None and s.webhook_ca_file.exists(), s.webhook_ca_file
    receiver.default_status = 400  # the host's system refuses the notice until its schema is fixed
    shots = screenshot_dir(tmp_path / "screenshots")
    keys = keys_for(s)
    engine, sessions = open_store(s)
    worker = build_worker(s, sessions, name="console-worker").start()
    try:
        with serve(create_app(s)) as base, chromium() as driver:
            _walkthrough(driver, base, keys, s, sessions, receiver, shots)
    finally:
        worker.stop()
        engine.dispose()


def _walkthrough(
    driver: Any, base: str, keys: Any, s: Settings, sessions: Any, receiver: HttpsReceiver, shots: Path
) -> None:
    def shot(name: str) -> None:
        driver.save_screenshot(str(shots / f"{name}.png"))

    def find(by: str, value: str) -> Any:
        """An element of the page being loaded: waits for it (a click's navigation may still be running)."""
        return wait_until(lambda: driver.find_elements(by, value), what=f"{value} on the page")[0]

    def text() -> str:
        try:
            return str(driver.find_elements(By.TAG_NAME, "body")[0].text)
        except (StaleElementReferenceException, IndexError):
            return ""  # the page is being replaced (a form was just submitted): ask again

    # Sign in with the keyboard only: the key field has focus, Enter submits.
    driver.get(f"{base}/console/login")
    assert driver.switch_to.active_element.get_attribute("id") == "api_key"
    shot("login")
    driver.switch_to.active_element.send_keys(keys.operator + Key.ENTER)
    wait_until(lambda: driver.current_url.endswith("/console/episodes"), what="the board after sign-in")
    cookie = next(c for c in driver.get_cookies() if c["name"] == "gw_console")
    # A Secure, HttpOnly, SameSite=Strict cookie, and the browser keeps it over http://127.0.0.1.
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie

    # A source posts the COMPACT specimen; the operator watches the episode appear.
    posted = httpx.post(
        f"{base}/ingest/compact/staffordshire-police",
        content=OUT_OF_AREA.read_bytes(),
        headers={"Authorization": f"Bearer {keys.source}", "Content-Type": "application/xml"},
        timeout=30,
    )
    assert posted.status_code == 202, posted.text

    def episode_link() -> Any:
        driver.refresh()
        links = driver.find_elements(By.CSS_SELECTOR, "#board tbody a")
        return links[0] if links else None

    link = wait_until(episode_link, timeout=60, interval=0.5, what="the episode on the board")
    assert "886" in text() and "860" in text() and "medium" in text()
    shot("episodes")
    link.click()
    wait_until(lambda: "/console/episodes/" in driver.current_url, what="the timeline")
    episode_id = uuid.UUID(driver.current_url.rsplit("/", 1)[1])

    def notified() -> bool:
        driver.refresh()
        page = text()
        return "la.886.front_door" in page and "la.860.front_door" in page

    wait_until(notified, timeout=60, interval=0.5, what="both councils' notifications on the timeline")
    assert "national.host-la-out-of-area" in text() and "disclosed to la.860.front_door" in text()
    shot("timeline")

    # The host's webhook said 400: a dead letter. Replay it, to that channel only, after the fix.
    def dead_row() -> Any:
        driver.get(f"{base}/console/dead-letters?recipient=la.860.front_door&status=dead")
        links = driver.find_elements(By.CSS_SELECTOR, "#dead-letters tbody a")
        return links[0] if links else None

    wait_until(dead_row, timeout=60, interval=0.5, what="the dead letter").click()
    wait_until(lambda: re.search(r"/dead-letters/[0-9a-f-]{36}$", driver.current_url), what="the dead letter")
    wait_until(lambda: "HTTP 400" in text(), what="the dead letter's reason")
    notification_id = uuid.UUID(driver.current_url.rsplit("/", 1)[1])
    shot("dead-letter")
    receiver.default_status = 200
    Select(find(By.ID, "endpoint")).select_by_value("webhook")
    find(By.ID, "note").send_keys("receiver schema fixed")
    find(By.ID, "replay").click()
    wait_until(lambda: "Replay this notification?" in text(), what="the confirmation page")
    assert "'webhook' endpoint only" in text()
    shot("confirm-replay")
    find(By.ID, "confirm").click()
    wait_until(lambda: "Replayed" in text(), what="the replay's confirmation")

    def delivered() -> bool:
        with sessions() as session:
            status = session.scalar(
                select(tables.Delivery.status).where(
                    tables.Delivery.notification_id == notification_id, tables.Delivery.endpoint == "webhook"
                )
            )
        return status == "delivered"

    wait_until(delivered, timeout=60, what="the replayed notice delivered")
    assert sum(1 for r in receiver.accepted() if r.headers["idempotency-key"] == str(notification_id)) == 1
    driver.refresh()
    assert "delivered" in text() and "replay by key:" in text().replace("\n", " ")

    # The other main pages, for the documentation (and to see they render in a real browser).
    httpx.post(
        f"{base}/ingest/manual/demo",
        content=b'{"event_type": "vanished"}',
        headers={"Authorization": f"Bearer {keys.source}", "Content-Type": "application/json"},
        timeout=30,
    )
    for name, path in [
        ("deadlines", "/console/deadlines"),
        ("quarantine", "/console/quarantine"),
        ("review", "/console/review"),
        ("rules", "/console/rules"),
    ]:
        driver.get(base + path)
        assert find(By.TAG_NAME, "h1").text
        shot(name)
    find(By.ID, "run-simulation").click()
    wait_until(lambda: "Result:" in text(), timeout=60, what="the simulation's result")
    find(By.ID, "result").location_once_scrolled_into_view
    shot("simulate")

    # Sign out; the host authority signs in and sees only its own inbox.
    driver.get(f"{base}/console/episodes")
    find(By.CSS_SELECTOR, ".signout button").click()
    wait_until(lambda: driver.current_url.endswith("/console/login"), what="signed out")
    find(By.ID, "api_key").send_keys(keys.host + Key.ENTER)
    wait_until(lambda: driver.current_url.endswith("/console/inbox"), what="the host's inbox")
    with sessions() as session:
        notes = list(
            session.scalars(select(tables.Notification).where(tables.Notification.episode_id == episode_id))
        )
    mine = [n for n in notes if n.recipient_id == "860"]
    theirs = [n for n in notes if n.recipient_id != "860"]
    assert mine and theirs
    source = driver.page_source
    for n in mine:
        assert str(n.notification_id) in source
    for n in theirs:
        assert str(n.notification_id) not in source
    shot("inbox")
    driver.get(f"{base}/console/inbox/{theirs[0].notification_id}")
    assert "no such notification" in text().lower()
    driver.get(f"{base}/console/episodes")
    assert "Not allowed" in text()
    driver.get(f"{base}/console/inbox/{mine[0].notification_id}")
    assert "What was shared with you" in text()
    shot("inbox-notice")
    find(By.ID, "acknowledge").click()
    wait_until(lambda: "Acknowledged." in text(), what="the acknowledgement")


def test_a_missing_browser_fails_the_test_saying_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.console import browser

    monkeypatch.setattr(browser, "CHROMIUM", Path("/nonexistent/chromium"))
    with pytest.raises(pytest.fail.Exception, match=r"scripts/ensure-browser\.sh"), browser.chromium():
        pass
