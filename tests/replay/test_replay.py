"""``gateway replay``: canonical events from a JSON Lines file reach the processor; a bad line is
counted (by number, never printed) and skipped; replaying the same file again creates nothing new."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from gateway.model import MissingEpisodeEvent
from gateway.runtime import Worker
from gateway.settings import REPO_ROOT, Settings
from gateway.store import tables
from tests.e2e.conftest import EXAMPLE, count
from tests.helpers import another_child, wait_until

SECRET_NAME = "Replayfamilyname"


def _events_file(path: Path, n: int) -> Path:
    lines = []
    for i in range(n):
        doc = another_child(json.loads(EXAMPLE), 9000 + i)
        doc |= {
            "event_id": str(uuid.uuid4()),
            "received_at": datetime.now(UTC).isoformat(),
            "idempotency_key": f"replay-test:{i}",
            "source": {**doc["source"], "system": "manual", "instance": "demo"},
        }
        lines.append(MissingEpisodeEvent.model_validate(doc).to_json().decode())
    lines.insert(3, json.dumps({"event_type": "reported", "child": {"family_name": SECRET_NAME}}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _replay(settings: Settings, path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GATEWAY_AMQP_URL": settings.amqp_url,
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_MAPPINGS_DIR": str(settings.mappings_dir),
        "GATEWAY_DELIVERY_LIMIT": str(settings.delivery_limit),
        "GATEWAY_RETRY_DELAYS_MS": str(settings.retry_delays_ms),
        "GATEWAY_ENVIRONMENT": "test",
    }
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "replay", str(path), "--wait", "--wait-timeout", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO_ROOT,
    )


def test_replay_publishes_valid_lines_skips_bad_ones_and_is_idempotent(
    settings: Settings, worker: Worker, tmp_path: Path
) -> None:
    path = _events_file(tmp_path / "events.jsonl", 12)
    first = _replay(settings, path)
    assert first.returncode == 1, first.stderr  # one invalid line
    assert "12 events replayed" in first.stderr
    assert "invalid line(s), not sent: 4" in first.stderr
    assert SECRET_NAME not in first.stderr + first.stdout  # a bad line may hold a child's details
    assert count(settings, tables.Event) == 12
    # Notifications caused by the events (timers add their own as time passes: not counted here).
    by_events = tables.Notification.event_id.is_not(None)
    notified = wait_until(
        lambda: count(settings, tables.Notification, by_events) or None, what="notifications"
    )

    again = _replay(settings, path)
    assert again.returncode == 1
    assert "12 events replayed" in again.stderr
    assert count(settings, tables.Event) == 12
    assert count(settings, tables.Notification, by_events) == notified
