"""`gateway recipients provision`: each AMQP recipient gets its own queue and a RabbitMQ user that can
read that queue and nothing else. Proved against the real broker."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pika.exceptions
import pytest

from gateway.broker.publisher import ConfirmedPublisher
from gateway.broker.topology import NOTIFICATIONS
from gateway.delivery.directory import load_directory
from gateway.delivery.provision import provision
from gateway.settings import Settings
from tests.conftest import Broker
from tests.delivery.conftest import notification

pytestmark = pytest.mark.broker


@pytest.fixture
def users(broker: Broker) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    with broker.api() as api:
        for name in names:
            api.delete(f"/api/users/{urllib.parse.quote(name, safe='')}")


def _url_as(vhost_url: str, user: str, password: str) -> str:
    p = urllib.parse.urlsplit(vhost_url)
    netloc = (
        f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}@{p.hostname}:{p.port}"
    )
    return urllib.parse.urlunsplit((p.scheme, netloc, p.path, p.query, ""))


def test_a_recipient_reads_only_its_own_queue(
    vhost: str, broker: Broker, tmp_path: Path, users: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex[:8]
    user_a, user_b = f"test-{tag}-kent", f"test-{tag}-staffs"
    users.extend([user_a, user_b])
    (tmp_path / "d.yaml").write_text(
        f"""
recipients:
  - kind: la
    id: "886"
    role: front_door
    channels: [{{channel: amqp, user: {user_a}}}]
  - kind: la
    id: "860"
    role: front_door
    channels: [{{channel: amqp, user: {user_b}, password_env: TEST_STAFFS_PASSWORD}}]
"""
    )
    monkeypatch.setenv("TEST_STAFFS_PASSWORD", "staffs-pw-from-env")
    settings = Settings(amqp_url=vhost, rabbitmq_management_url=broker.management_url, environment="test")
    directory = load_directory(None, tmp_path)
    done = {p.recipient: p for p in provision(settings, directory)}
    a, b = done["la.886.front_door"], done["la.860.front_door"]
    assert (a.queue, a.user, a.password_from) == ("la.886.front_door", user_a, "generated")
    assert a.password and len(a.password) >= 24
    assert (b.password, b.password_from) == (None, "env:TEST_STAFFS_PASSWORD")

    # Running it again changes nothing and prints no password (an existing user keeps its own).
    again = {p.recipient: p for p in provision(settings, directory)}
    assert (
        again["la.886.front_door"].password is None
        and again["la.886.front_door"].password_from == "unchanged"
    )

    # A notice for each, through the exchange, as the outbox relay publishes them.
    pub = ConfirmedPublisher(vhost, name="provision-test").start()
    try:
        for code in ("886", "860"):
            n = notification("la", code, "front_door")
            pub.publish_and_wait(
                NOTIFICATIONS,
                f"la.{code}.front_door",
                n.to_json(),
                message_id=str(n.notification_id),
                mandatory=True,
            )
    finally:
        pub.close()

    as_a = pika.BlockingConnection(pika.URLParameters(_url_as(vhost, user_a, a.password)))
    try:
        ch = as_a.channel()
        method, _props, body = ch.basic_get("la.886.front_door", auto_ack=False)
        assert method is not None and json.loads(body)["recipient"]["id"] == "886"
        ch.basic_ack(method.delivery_tag)
        # Kent's user reading Staffordshire's queue: refused by the broker.
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            as_a.channel().basic_get("la.860.front_door", auto_ack=True)
        assert refused.value.reply_code == 403 and "ACCESS_REFUSED" in refused.value.reply_text
        # ...and it cannot publish, declare or bind either.
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as no_declare:
            as_a.channel().queue_declare("sneaky", durable=True)
        assert no_declare.value.reply_code == 403
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as no_bind:
            as_a.channel().queue_bind("la.886.front_door", NOTIFICATIONS, "la.860.front_door")
        assert no_bind.value.reply_code == 403
        ch = as_a.channel()
        ch.confirm_delivery()
        with pytest.raises(
            (pika.exceptions.ChannelClosedByBroker, pika.exceptions.UnroutableError)
        ) as no_pub:
            ch.basic_publish(NOTIFICATIONS, "la.860.front_door", b"{}", mandatory=True)
        if isinstance(no_pub.value, pika.exceptions.ChannelClosedByBroker):
            assert no_pub.value.reply_code == 403
    finally:
        as_a.close()

    # Staffordshire's user (password from its variable) reads its own notice; Staffordshire's queue
    # still holds exactly it: Kent's refused attempt took nothing.
    as_b = pika.BlockingConnection(pika.URLParameters(_url_as(vhost, user_b, "staffs-pw-from-env")))
    try:
        method, _props, body = as_b.channel().basic_get("la.860.front_door", auto_ack=True)
        assert method is not None and json.loads(body)["recipient"]["id"] == "860"
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            as_b.channel().basic_get("la.886.front_door", auto_ack=True)
        assert refused.value.reply_code == 403
    finally:
        as_b.close()

    # Management API view: exactly the read-only permission on its own queue.
    with broker.api() as api:
        vh = urllib.parse.unquote(urllib.parse.urlsplit(vhost).path[1:])
        perms = api.get(f"/api/permissions/{vh}/{user_a}").json()
        assert (perms["configure"], perms["write"], perms["read"]) == ("^$", "^$", r"^la\.886\.front_door$")
        assert api.get(f"/api/users/{user_a}").json()["tags"] in ([], "")
