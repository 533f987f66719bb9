"""``gateway recipients`` and ``gateway dead`` from the command line (mounted as in gateway/cli.py)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from gateway.cli_delivery import app
from gateway.delivery import store
from gateway.runtime import open_store
from gateway.settings import Settings, get_settings
from gateway.store.db import transaction
from tests.delivery.conftest import notification

pytestmark = pytest.mark.broker


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("GATEWAY_AMQP_URL", settings.amqp_url)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def test_recipients_list_and_check() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["recipients", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["recipient"]: r for r in json.loads(result.stdout)}
    assert rows["la.886.front_door"]["endpoints"] == ["amqp:amqp"]
    assert (
        rows["school.999001.school_dsl"]["digest"] == "08:00" and rows["school.999001.school_dsl"]["example"]
    )
    check = runner.invoke(app, ["recipients", "check", "--strict"])
    assert check.exit_code == 1 and "GATEWAY_WEBHOOK_SECRET_SCHOOL_999001 is not set" in check.output


def test_dead_list_show_and_refused_replay(cli_env: Settings) -> None:
    n = notification("la", "886", "edt")
    engine, sessions = open_store(cli_env)
    try:
        with transaction(sessions) as s:
            store.ensure_row(
                s,
                notification_id=n.notification_id,
                episode_id=n.episode_id,
                recipient="la.886.edt",
                channel="webhook",
                endpoint="webhook",
                status=store.DEAD,
                now=datetime.now(UTC),
                body=n.document(),
            )
    finally:
        engine.dispose()
    runner = CliRunner()
    listed = runner.invoke(app, ["dead", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [r["notification_id"] for r in json.loads(listed.stdout)] == [str(n.notification_id)]
    shown = json.loads(runner.invoke(app, ["dead", "show", str(n.notification_id)]).stdout)
    assert shown["endpoints"][0]["status"] == "dead" and "notification" not in shown
    assert runner.invoke(app, ["dead", "show", str(uuid.uuid4())]).exit_code == 2
    # Who replays is required; a replay to an endpoint the directory does not have is refused.
    assert runner.invoke(app, ["dead", "replay", str(n.notification_id)]).exit_code == 1
    refused = runner.invoke(app, ["dead", "replay", str(n.notification_id), "--by", "ops.test"])
    assert refused.exit_code == 2 and "no longer has endpoint 'webhook'" in refused.output
