"""Recipients' AMQP queues and RabbitMQ users (``gateway recipients provision``).

For each directory endpoint on the ``amqp`` channel:

- a durable quorum queue (default name: the routing key, e.g. ``la.886.front_door``) bound to that
  routing key on ``missing.notifications``;
- a RabbitMQ user (default ``recipient.<routing key>``, no management tags) whose permissions in the
  gateway's virtual host are ``configure: ^$``, ``write: ^$``, ``read: ^<its queue>$``: it can consume
  from its own queue and do nothing else (any other queue is ``ACCESS_REFUSED``, it cannot publish,
  declare, bind or delete). Its password comes from the endpoint's ``password_env`` variable, or is
  generated (``secrets.token_urlsafe``) and returned once for the operator to hand over securely; an
  existing user keeps its password unless ``rotate`` is asked for.

Users and permissions go through the management HTTP API (httpx). The outbox relay uses
:class:`DirectoryQueues` so that an AMQP recipient's queue and binding exist before anything is
published to its routing key (a topic exchange drops what no queue is bound for).
"""

from __future__ import annotations

import os
import re
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx
import pika.exceptions
import structlog
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from gateway.broker.connection import parameters
from gateway.broker.topology import NOTIFICATIONS, QUORUM
from gateway.delivery.directory import CHANNEL_NAMES, Directory, Endpoint
from gateway.delivery.topology import declare_delivery

log = structlog.get_logger(__name__)


def declare_recipient(channel: BlockingChannel, queue: str, routing_key: str) -> None:
    # Same arguments as the interim per-routing-key queues (broker.topology.declare_recipient_queue),
    # so queues created before provisioning existed are accepted as they are.
    channel.exchange_declare(NOTIFICATIONS, "topic", durable=True)
    channel.queue_declare(queue, durable=True, arguments=QUORUM)
    channel.queue_bind(queue, NOTIFICATIONS, routing_key)


class DirectoryQueues:
    """For the outbox relay: before a batch goes out, the delivery topology exists (so every
    notification at least reaches ``delivery.dispatch``) and each AMQP recipient in the directory has
    its queue bound. Routing keys not in the directory get no queue: the dispatcher reports them."""

    def __init__(self, url: str, directory: Directory, retry_delays_ms: list[int], heartbeat: int = 30):
        self._params = parameters(url, heartbeat=heartbeat, name="gateway-relay-declare")
        self._directory = directory
        self._delays = retry_delays_ms
        self._conn: BlockingConnection | None = None
        self._known: set[str] = set()
        self._topology = False

    def ensure(self, routing_keys: set[str]) -> None:
        missing = {k for k in routing_keys if k not in self._known}
        if not missing and self._topology:
            return
        for attempt in (1, 2):  # a dropped connection is noticed only when used: reconnect once
            try:
                if self._conn is None or not self._conn.is_open:
                    self._conn = BlockingConnection(self._params)
                channel = self._conn.channel()
                if not self._topology:
                    declare_delivery(
                        channel, set(CHANNEL_NAMES) | self._directory.channels_used(), self._delays
                    )
                    self._topology = True
                for key in sorted(missing):
                    entry = self._directory.by_routing_key(key)
                    for ep in entry.endpoints() if entry else []:
                        if ep.channel == "amqp":
                            declare_recipient(channel, str(ep.settings()["queue"]), key)
                    self._known.add(key)
                channel.close()
                return
            except pika.exceptions.AMQPConnectionError:
                self._conn = None
                if attempt == 2:
                    raise

    def close(self) -> None:
        if self._conn is not None and self._conn.is_open:
            try:
                self._conn.close()
            except pika.exceptions.AMQPError:
                log.debug("provision.declare_connection_already_closed")


@dataclass(frozen=True)
class Provisioned:
    recipient: str
    queue: str
    user: str
    created_user: bool
    password: str | None  # only when generated now: shown once, never stored or logged
    password_from: str  # "env:<NAME>", "generated", "unchanged"


def read_only_permissions(queue: str) -> dict[str, str]:
    return {"configure": "^$", "write": "^$", "read": f"^{re.escape(queue)}$"}


class Management:
    """The bits of the RabbitMQ management HTTP API that provisioning needs."""

    def __init__(self, base_url: str, user: str, password: str, *, timeout: float = 10.0):
        self._client = httpx.Client(base_url=base_url.rstrip("/"), auth=(user, password), timeout=timeout)

    @staticmethod
    def _q(value: str) -> str:
        return urllib.parse.quote(value, safe="")

    def user_exists(self, name: str) -> bool:
        r = self._client.get(f"/api/users/{self._q(name)}")
        if r.status_code == 404:
            return False
        r.raise_for_status()
        return True

    def put_user(self, name: str, password: str) -> None:
        self._client.put(
            f"/api/users/{self._q(name)}", json={"password": password, "tags": ""}
        ).raise_for_status()

    def set_permissions(self, vhost: str, user: str, perms: dict[str, str]) -> None:
        self._client.put(f"/api/permissions/{self._q(vhost)}/{self._q(user)}", json=perms).raise_for_status()

    def permissions(self, vhost: str, user: str) -> dict[str, Any] | None:
        r = self._client.get(f"/api/permissions/{self._q(vhost)}/{self._q(user)}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return dict(r.json())

    def close(self) -> None:
        self._client.close()


def management_for(settings: Any) -> tuple[Management, str]:
    """A management client and the virtual host, from GATEWAY_AMQP_URL and the management settings."""
    p = urllib.parse.urlsplit(settings.amqp_url)
    vhost = urllib.parse.unquote(p.path[1:]) if len(p.path) > 1 else "/"
    base = settings.rabbitmq_management_url or f"http://{p.hostname or 'localhost'}:15672"
    user = settings.rabbitmq_management_user or urllib.parse.unquote(p.username or "guest")
    password = settings.rabbitmq_management_password or urllib.parse.unquote(p.password or "guest")
    return Management(base, user, password), vhost


def provision(
    settings: Any,
    directory: Directory,
    *,
    only: set[str] | None = None,
    rotate: bool = False,
    environ: dict[str, str] | None = None,
) -> list[Provisioned]:
    env = environ if environ is not None else dict(os.environ)
    endpoints: list[Endpoint] = [
        e for e in directory.amqp_endpoints() if only is None or e.recipient.routing_key in only
    ]
    unknown = (only or set()) - {e.recipient.routing_key for e in endpoints}
    if unknown:
        raise KeyError(f"not AMQP recipients in the directory: {', '.join(sorted(unknown))}")
    mgmt, vhost = management_for(settings)
    out: list[Provisioned] = []
    conn = BlockingConnection(parameters(settings.amqp_url, name="gateway-provision"))
    try:
        channel = conn.channel()
        declare_delivery(
            channel, set(CHANNEL_NAMES) | directory.channels_used(), settings.delivery_retry_delays_ms
        )
        for ep in endpoints:
            s = ep.settings()
            queue, user, rk = str(s["queue"]), str(s["user"]), ep.recipient.routing_key
            declare_recipient(channel, queue, rk)
            exists = mgmt.user_exists(user)
            password: str | None = None
            source = "unchanged"
            env_name = s.get("password_env")
            if env_name and env.get(env_name):
                mgmt.put_user(user, env[env_name])
                source = f"env:{env_name}"
            elif not exists or rotate:
                password = secrets.token_urlsafe(24)
                mgmt.put_user(user, password)
                source = "generated"
            mgmt.set_permissions(vhost, user, read_only_permissions(queue))
            log.info("provision.recipient", recipient=rk, queue=queue, user=user, password=source)
            out.append(Provisioned(rk, queue, user, not exists, password, source))
    finally:
        mgmt.close()
        if conn.is_open:
            conn.close()
    return out
