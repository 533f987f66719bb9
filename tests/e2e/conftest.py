"""Fixtures for end-to-end tests: an in-process worker, the API, and worker subprocesses to kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.api.app import create_app
from gateway.runtime import Worker, build_worker, open_store
from gateway.settings import REPO_ROOT, Settings
from tests.helpers import wait_until

EXAMPLE = (REPO_ROOT / "examples" / "canonical-event.json").read_bytes()


@pytest.fixture
def worker(settings: Settings) -> Iterator[Worker]:
    engine, sessions = open_store(settings)
    w = build_worker(settings, sessions, name="test-worker").start()
    wait_until(w.consumer.connected.is_set, what="worker consuming")
    yield w
    w.stop()
    engine.dispose()


SOURCE_SCOPES = [
    "ingest:manual/demo",
    "ingest:compact/staffordshire-police",
    "ingest:liberi/kent-liberi",
    "ingest:mosaic/wandsworth-mosaic",
    "ingest:liquidlogic/stoke-on-trent-liquidlogic",
    "ingest:nhs/nhs-test",
]


def make_key(settings: Settings, role: str, scopes: list[str], **kwargs: object) -> str:
    from gateway.security.keys import create_key
    from gateway.store.db import transaction

    engine, sessions = open_store(settings)
    try:
        with transaction(sessions) as s:
            return create_key(s, name=f"test {role}", role=role, scopes=scopes, **kwargs).secret  # type: ignore[arg-type]
    finally:
        engine.dispose()


class ApiClient(TestClient):
    """The API as a source (the default credential) with an operator's key at hand."""

    operator: dict[str, str]


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiClient]:
    with ApiClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {make_key(settings, 'source', SOURCE_SCOPES)}"
        client.operator = {"Authorization": f"Bearer {make_key(settings, 'operator', [])}"}
        wait_until(lambda: client.get("/readyz").status_code == 200, what="API ready")
        yield client


def count(settings: Settings, table: type, *where: object) -> int:
    engine, sessions = open_store(settings)
    try:
        with sessions() as s:
            return s.scalar(select(func.count()).select_from(table).where(*where)) or 0  # type: ignore[arg-type]
    finally:
        engine.dispose()


class WorkerProcess:
    """``gateway worker`` in its own process, so a test can kill it like an operator's kill -9 would."""

    def __init__(self, settings: Settings, log_path: Path, failpoints: str | None = None):
        env = {
            **os.environ,
            "GATEWAY_AMQP_URL": settings.amqp_url,
            "GATEWAY_DATABASE_URL": settings.database_url,
            "GATEWAY_MAPPINGS_DIR": str(settings.mappings_dir),
            "GATEWAY_DELIVERY_LIMIT": str(settings.delivery_limit),
            "GATEWAY_RETRY_DELAYS_MS": str(settings.retry_delays_ms),
            "GATEWAY_RELAY_POLL_INTERVAL_S": str(settings.relay_poll_interval_s),
            "GATEWAY_ENVIRONMENT": "test",
            "GATEWAY_LOG_JSON": "true",
        }
        env.pop("GATEWAY_FAILPOINTS", None)
        if failpoints:
            env["GATEWAY_FAILPOINTS"] = failpoints
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )

    def wait_exit(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
