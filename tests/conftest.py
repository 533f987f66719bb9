"""Shared fixtures: a real RabbitMQ and real databases (SQLite and PostgreSQL).

Broker: ``GATEWAY_TEST_AMQP_URL``, else a testcontainers RabbitMQ when a Docker engine is available,
else the test FAILS with instructions (never a silent skip, never a mock broker). Each test gets its
own virtual host (created through the management API), so tests cannot see each other's messages.

Databases: every store test runs on SQLite and on PostgreSQL (``GATEWAY_TEST_DATABASE_URL``, a server
URL; each test gets a fresh database). Without that variable the PostgreSQL runs FAIL with
instructions; ``make test`` and ``.ci/run`` provide it.
"""

from __future__ import annotations

import os
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.settings import REPO_ROOT, Settings
from gateway.store.migrate import upgrade

HOW_TO_GET_A_BROKER = (
    "These tests need a real RabbitMQ with the management plugin. Either run `make test` (it starts one), "
    "or start one yourself (`rabbitmq-server -detached && rabbitmq-plugins enable rabbitmq_management`, or "
    "`docker compose up -d rabbitmq`) and set GATEWAY_TEST_AMQP_URL=amqp://guest:guest@localhost:5672/%2F."
)
HOW_TO_GET_POSTGRES = (
    "These tests also run on PostgreSQL. Set GATEWAY_TEST_DATABASE_URL to a server where the user may create "
    "databases, e.g. postgresql://postgres@localhost:5432/postgres (`make test` sets it)."
)


@dataclass(frozen=True)
class Broker:
    amqp_url: str  # of the default vhost
    management_url: str
    user: str
    password: str

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.management_url, auth=(self.user, self.password), timeout=10)

    def url_for(self, vhost: str) -> str:
        p = urllib.parse.urlsplit(self.amqp_url)
        return urllib.parse.urlunsplit(
            (p.scheme, p.netloc, "/" + urllib.parse.quote(vhost, safe=""), p.query, "")
        )


def _docker_available() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    url = os.environ.get("GATEWAY_TEST_AMQP_URL")
    if url:
        p = urllib.parse.urlsplit(url)
        mgmt = os.environ.get("GATEWAY_TEST_AMQP_MANAGEMENT_URL", f"http://{p.hostname}:15672")
        b = Broker(
            url,
            mgmt,
            urllib.parse.unquote(p.username or "guest"),
            urllib.parse.unquote(p.password or "guest"),
        )
        try:
            b.api().get("/api/overview").raise_for_status()
        except httpx.HTTPError as exc:
            pytest.fail(f"RabbitMQ management API at {mgmt} unreachable ({exc}). {HOW_TO_GET_A_BROKER}")
        yield b
        return
    if _docker_available():
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:3.13-management") as rc:
            host, port = rc.get_container_host_ip(), rc.get_exposed_port(5672)
            mport = rc.get_exposed_port(15672)
            yield Broker(f"amqp://guest:guest@{host}:{port}/%2F", f"http://{host}:{mport}", "guest", "guest")
        return
    pytest.fail(
        f"No broker: GATEWAY_TEST_AMQP_URL is not set and no Docker engine is running. {HOW_TO_GET_A_BROKER}"
    )


@pytest.fixture
def vhost(broker: Broker) -> Iterator[str]:
    """A fresh virtual host for one test; its AMQP URL is returned."""
    name = f"gw-test-{uuid.uuid4().hex[:12]}"
    with broker.api() as api:
        api.put(f"/api/vhosts/{name}").raise_for_status()
        api.put(
            f"/api/permissions/{name}/{urllib.parse.quote(broker.user)}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
        ).raise_for_status()
    yield broker.url_for(name)
    with broker.api() as api:
        api.delete(f"/api/vhosts/{name}")


def _postgres_database() -> Iterator[str]:
    server = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if not server:
        pytest.fail(HOW_TO_GET_POSTGRES)
    import psycopg

    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    admin = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    p = urllib.parse.urlsplit(admin)
    yield urllib.parse.urlunsplit((p.scheme, p.netloc, "/" + name, p.query, ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty store on each supported database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gateway.db'}"
        upgrade(url)
        yield url
    else:
        for url in _postgres_database():
            upgrade(url)
            yield url


@pytest.fixture
def settings(vhost: str, database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        amqp_url=vhost,
        database_url=database_url,
        mappings_dir=REPO_ROOT / "mappings",
        delivery_limit=3,
        retry_delays_ms=[100, 200],
        relay_poll_interval_s=0.05,
        publish_confirm_timeout_s=10,
        heartbeat_s=10,
        environment="test",
    )
