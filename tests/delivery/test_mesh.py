"""The ``mesh`` channel against NHS England's mesh-sandbox, run here as its own process on 127.0.0.1.

mesh-sandbox pins ``fastapi==0.150.0``, which the gateway's own FastAPI cannot share, so it lives in
its own virtual environment: set ``GATEWAY_TEST_MESH_SANDBOX_PYTHON`` to that environment's python
(``python -m venv .venv-mesh-sandbox && .venv-mesh-sandbox/bin/pip install mesh-sandbox==1.0.137``).
Without it (and without mesh_sandbox importable here) the sandbox tests fail saying so, never skip;
the tests of what the channel sends and refuses run without it.

The sandbox's canned mailboxes are used: X26ABC1 (the gateway) sends to X26ABC2 (the recipient), with
password ``password`` and the shared key given to the sandbox.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle

from gateway.delivery.channel import channel_class
from gateway.delivery.mesh import MeshChannel
from tests.delivery.test_fhir import make

SHARED_KEY = "TestKey"
PASSWORD = "password"  # the sandbox's canned mailbox password
GATEWAY_MAILBOX, RECIPIENT_MAILBOX = "X26ABC1", "X26ABC2"
WORKFLOW = "GATEWAY_MISSING_CHILD_NOTICE"
HOW_TO = (
    "These tests need NHS England's mesh-sandbox. It pins fastapi==0.150.0, so install it in its own "
    "virtual environment and point the tests at it: `python -m venv .venv-mesh-sandbox && "
    ".venv-mesh-sandbox/bin/pip install mesh-sandbox==1.0.137` then "
    "GATEWAY_TEST_MESH_SANDBOX_PYTHON=$PWD/.venv-mesh-sandbox/bin/python."
)


def _sandbox_python() -> str:
    configured = os.environ.get("GATEWAY_TEST_MESH_SANDBOX_PYTHON")
    if configured:
        if not Path(configured).exists():
            pytest.fail(f"GATEWAY_TEST_MESH_SANDBOX_PYTHON={configured} does not exist. {HOW_TO}")
        return configured
    if importlib.util.find_spec("mesh_sandbox") is not None:
        return sys.executable
    pytest.fail(f"mesh-sandbox is not available. {HOW_TO}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    python = _sandbox_python()
    port = _free_port()
    log = (tmp_path_factory.mktemp("mesh") / "sandbox.log").open("wb")
    env = {
        **os.environ,
        "ENV": "local",
        "AUTH_MODE": "full",  # passwords and the shared key are checked, as MESH does
        "STORE_MODE": "memory",
        "SHARED_KEY": SHARED_KEY,
    }
    proc = subprocess.Popen(
        [python, "-m", "uvicorn", "mesh_sandbox.api:app", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mesh-sandbox did not start (exit {proc.poll()}); see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def mesh_env(monkeypatch: pytest.MonkeyPatch, sandbox: str) -> str:
    monkeypatch.setenv("GATEWAY_MESH_URL", sandbox)
    monkeypatch.setenv("GATEWAY_MESH_MAILBOX", GATEWAY_MAILBOX)
    monkeypatch.setenv("GATEWAY_MESH_PASSWORD", PASSWORD)
    monkeypatch.setenv("GATEWAY_MESH_SHARED_KEY", SHARED_KEY)
    return sandbox


def endpoint(**extra: object) -> dict[str, object]:
    """As the recipient directory hands it over (mappings/directory/examples.yaml shape)."""
    return {"channel": "mesh", "mailbox": RECIPIENT_MAILBOX, "workflow_id": WORKFLOW, **extra}


def inbox(url: str) -> list[tuple[dict[str, str], bytes]]:
    """Everything in the recipient's inbox (headers, body), acknowledged."""
    from mesh_client import MeshClient

    out = []
    with MeshClient(
        url, mailbox=RECIPIENT_MAILBOX, password=PASSWORD, shared_key=SHARED_KEY.encode()
    ) as client:
        for message_id in client.list_messages():
            message = client.retrieve_message(message_id)
            out.append((dict(message.mex_headers()), message.read()))
            message.acknowledge()
    return out


def test_the_channel_is_registered_as_mesh() -> None:
    assert channel_class("mesh") is MeshChannel


def test_a_notification_reaches_the_recipients_mailbox(mesh_env: str) -> None:
    inbox(mesh_env)  # start empty
    n = make()
    result = MeshChannel().deliver(n, endpoint())
    assert result.outcome == "delivered", result.detail
    assert result.receipt["local_id"] == str(n.notification_id)
    assert result.receipt["message_id"]
    [(headers, body)] = inbox(mesh_env)
    assert headers["localid"] == str(n.notification_id)
    assert headers["workflowid"] == WORKFLOW
    assert headers["messageid"] == result.receipt["message_id"]
    assert headers["subject"] == "Missing-episode notification"  # never the child's details
    bundle = Bundle.model_validate_json(body)
    assert bundle.type == "message"
    assert bundle.entry[0].resource.id == str(n.notification_id)
    comm = bundle.entry[1].resource
    assert comm.identifier[0].value == str(n.notification_id)


def test_a_found_notification_carries_the_inactive_flag(mesh_env: str) -> None:
    inbox(mesh_env)
    assert MeshChannel().deliver(make("found"), endpoint()).outcome == "delivered"
    [(_, body)] = inbox(mesh_env)
    flags = [e["resource"] for e in json.loads(body)["entry"] if e["resource"]["resourceType"] == "Flag"]
    assert [f["status"] for f in flags] == ["inactive"]
    assert flags[0]["period"]["end"] == "2026-03-12T19:05:00Z"


def test_an_unknown_recipient_mailbox_fails(mesh_env: str) -> None:
    result = MeshChannel().deliver(make(), endpoint(mailbox="NOPE999"))
    assert result.outcome == "failed"
    assert result.receipt["http_status"] == 417
    assert "Unregistered" in result.detail


def test_a_wrong_password_fails(mesh_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_MESH_PASSWORD", "not-the-password")
    result = MeshChannel().deliver(make(), endpoint())
    assert result.outcome == "failed"
    assert result.receipt["http_status"] == 403


def test_an_unreachable_mesh_is_retried_later(mesh_env: str) -> None:
    result = MeshChannel().deliver(make(), endpoint(url=f"http://127.0.0.1:{_free_port()}"))
    assert result.outcome == "retry"


# --- without the sandbox: what would be sent, and what is refused before sending ----------------


def test_missing_secrets_fail_without_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_MESH_URL", "https://mesh.example.org")
    monkeypatch.setenv("GATEWAY_MESH_MAILBOX", GATEWAY_MAILBOX)
    monkeypatch.delenv("GATEWAY_MESH_PASSWORD", raising=False)
    result = MeshChannel().deliver(make(), endpoint())
    assert result.outcome == "failed"
    assert "GATEWAY_MESH_PASSWORD" in result.detail


def test_an_unconfigured_gateway_mailbox_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_MESH_URL", raising=False)
    monkeypatch.delenv("GATEWAY_MESH_MAILBOX", raising=False)
    assert MeshChannel().deliver(make(), endpoint()).outcome == "failed"


def test_plain_http_to_another_host_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_MESH_PASSWORD", PASSWORD)
    monkeypatch.setenv("GATEWAY_MESH_SHARED_KEY", SHARED_KEY)
    result = MeshChannel().deliver(
        make(), endpoint(url="http://mesh.example.org", from_mailbox=GATEWAY_MAILBOX)
    )
    assert result.outcome == "failed"
    assert "https" in result.detail


def test_what_would_be_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exact call to mesh-client, without a MESH server: one chunk, the headers that make it
    idempotent for the recipient, and a FHIR message body."""
    calls: list[dict[str, object]] = []

    class Response:
        status_code = 202

        def json(self) -> dict[str, str]:
            return {"message_id": "20260312150000000000_ABCDEF"}

    class Client:
        def __enter__(self) -> Client:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def handshake(self) -> bytes:
            calls.append({"handshake": True})
            return b"hello"

        def send_chunk(self, recipient: str, chunk: bytes, **kwargs: object) -> Response:
            calls.append({"recipient": recipient, "chunk": chunk, **kwargs})
            return Response()

    channel = MeshChannel()
    monkeypatch.setattr(channel, "_client", lambda *a, **k: Client())
    monkeypatch.setenv("GATEWAY_MESH_PASSWORD", PASSWORD)
    monkeypatch.setenv("GATEWAY_MESH_SHARED_KEY", SHARED_KEY)
    n = make()
    ep = endpoint(url="https://mesh.example.org", from_mailbox=GATEWAY_MAILBOX)
    assert channel.deliver(n, ep).outcome == "delivered"
    assert channel.deliver(n, ep).outcome == "delivered"
    assert calls[0] == {"handshake": True}
    sends = [c for c in calls if "recipient" in c]
    assert len(calls) == 3  # one handshake a day, not one per message
    for send in sends:
        assert send["recipient"] == RECIPIENT_MAILBOX
        assert send["local_id"] == str(n.notification_id)
        assert send["workflow_id"] == WORKFLOW
        assert (send["chunk_num"], send["total_chunks"]) == (1, 1)
        assert send["content_type"] == "application/fhir+json"
    assert sends[0]["chunk"] == sends[1]["chunk"]  # a retry sends the same bytes
    body = json.loads(sends[0]["chunk"])
    assert body["entry"][0]["resource"]["id"] == str(n.notification_id)
    assert uuid.UUID(body["entry"][0]["resource"]["id"]) == n.notification_id
