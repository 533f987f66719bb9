"""A private RabbitMQ node and a private PostgreSQL cluster for fault injection.

The chaos test kills and restarts them, so it must never use the shared ones (other test runs use
those). Both live in a temp directory on free ports and are removed at the end:

- RabbitMQ: its own node name, AMQP and distribution ports, data and log directories, an empty plugin
  list (the system's management plugin would fight over port 15672) and a config file of its own (the
  system's pins 5672). Started with the packaged ``rabbitmq-server`` script directly (the Debian wrapper
  would switch user and drop the environment).
- PostgreSQL: ``initdb`` into the temp directory (trust authentication, fsync on: the outage must be
  real), as the ``postgres`` user when running as root (initdb refuses root), listening on 127.0.0.1
  and a socket in the temp directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pika
import pika.exceptions
import psycopg

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 120, check: bool = True) -> str:
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stdout[-1500:]} {r.stderr[-1500:]}")
    return r.stdout


class PrivateRabbit:
    def __init__(self, base: Path):
        self.base = base / "rabbitmq"
        self.base.mkdir(parents=True)
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"chaos-{os.getpid()}-{self.port}@localhost"
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            # The broker must not refuse publishes for a small test disk.
            "disk_free_limit.absolute = 50MB\n"
        )
        (self.base / "rabbitmq-env.conf").write_text("")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq"),  # .conf is appended
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(self.base / "rabbit.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def start(self, timeout: float = 120) -> None:
        _run([str(RABBIT_BIN / "rabbitmq-server"), "-detached"], env=self._env())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                pika.BlockingConnection(pika.URLParameters(self.url)).close()
                return
            except pika.exceptions.AMQPError:
                time.sleep(0.5)
        raise RuntimeError(f"private RabbitMQ {self.node} did not open port {self.port}: {self.logs()}")

    def stop(self) -> None:
        _run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, "stop"], env=self._env(), check=False)

    def logs(self) -> str:
        out = []
        for f in sorted((self.base / "log").glob("*.log")):
            out.append(f.read_text(errors="replace")[-3000:])
        return "\n".join(out)


class PrivatePostgres:
    def __init__(self, base: Path):
        self.base = base / "postgres"
        self.base.mkdir(parents=True)
        self.data = self.base / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses to run as root: the cluster belongs to the postgres user.
            shutil.chown(self.base, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        _run(
            [
                *self._as,
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
            ]
        )

    def start(self, timeout: float = 60) -> None:
        opts = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=200"
        _run(
            [
                *self._as,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                opts,
                "-l",
                str(self.base / "server.log"),
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ]
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.3)
        raise RuntimeError(f"private PostgreSQL did not start: {self.log()}")

    def stop(self) -> None:
        _run(
            [*self._as, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"], check=False
        )

    def log(self) -> str:
        p = self.base / "server.log"
        return p.read_text(errors="replace")[-3000:] if p.exists() else ""
