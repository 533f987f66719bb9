"""The gateway under test: its own virtual host on the broker, its own PostgreSQL database, a copy of
``mappings/`` (stable rules while others edit theirs), and the real processes (``gateway serve``,
``gateway worker``) started as subprocesses, so what is measured is what an operator runs.

Everything created here is removed by :meth:`Stack.close` (vhost, database, temp dir, processes).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from bench.workload import LIBERI_SECRET, LIBERI_SECRET_ENV
from gateway.settings import REPO_ROOT

SOURCE_SCOPES = [
    "ingest:manual/demo",
    "ingest:compact/staffordshire-police",
    "ingest:liberi/kent-liberi",
    "ingest:mosaic/wandsworth-mosaic",
    "ingest:liquidlogic/stoke-on-trent-liquidlogic",
    "ingest:nhs/nhs-test",
]


LA_CODES = ("212", "830", "831", "860", "861", "886", "937")
ALL_RECIPIENTS = [f"la.{la}.{role}" for la in LA_CODES for role in ("front_door", "missing_coordinator")] + [
    "national.ukmpu.ukmpu"
]


def stable_mappings(dest: Path, recipients: list[str]) -> None:
    """A copy of ``mappings/`` with only the statutory baseline (``areas/national.yaml``) and a
    directory in which each of ``recipients`` reads its own AMQP queue.

    Why: the local protocols' rule files and their directory entries are being written as this runs
    (by others, in the same checkout); measurements and fault-injection verdicts must not change
    under our feet, and a recipient with no channel, or a school's held digest, would never count as
    delivered. The baseline routes every event to AMQP queues, the channel the councils use."""
    shutil.copytree(REPO_ROOT / "mappings", dest)
    for f in (dest / "areas").iterdir():
        if f.name != "national.yaml":
            f.unlink() if f.is_file() else shutil.rmtree(f)
    shutil.rmtree(dest / "directory")
    (dest / "directory").mkdir()
    lines = ['description: "bench and chaos recipients: one AMQP queue each"', "recipients:"]
    for rk in recipients:
        kind, id_, role = rk.split(".")
        lines += [
            f"  - kind: {kind}",
            f'    id: "{id_}"',
            f"    role: {role}",
            f'    name: "{rk}"',
            "    channels:",
            "      - channel: amqp",
        ]
    (dest / "directory" / "recipients.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float | None:
    """The kernel's high-water mark of the process's resident set (VmHWM), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Process:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class Stack:
    amqp_server_url: str  # default vhost of the broker, e.g. amqp://guest:guest@localhost:5672/%2F
    database_server_url: str  # a server URL where we may create databases
    management_url: str = "http://localhost:15672"
    env_overrides: dict[str, str] = field(default_factory=dict)
    name: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:8]}")
    processes: list[Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"gateway-{self.name}-"))
        p = urllib.parse.urlsplit(self.amqp_server_url)
        self._user = urllib.parse.unquote(p.username or "guest")
        self._password = urllib.parse.unquote(p.password or "guest")
        self.amqp_url = urllib.parse.urlunsplit((p.scheme, p.netloc, "/" + self.name, p.query, ""))
        self.db_name = self.name.replace("-", "_")
        d = urllib.parse.urlsplit(self.database_server_url.replace("postgresql+psycopg://", "postgresql://"))
        self._admin_db = urllib.parse.urlunsplit(d)
        self.database_url = urllib.parse.urlunsplit((d.scheme, d.netloc, "/" + self.db_name, d.query, ""))
        self.mappings_dir = self.tmp / "mappings"
        self.api_port = free_port()
        self.key = ""

    # --- set up / tear down ---------------------------------------------------------------------
    def open(self) -> Stack:
        stable_mappings(self.mappings_dir, ALL_RECIPIENTS)
        with httpx.Client(base_url=self.management_url, auth=(self._user, self._password), timeout=10) as api:
            api.put(f"/api/vhosts/{self.name}").raise_for_status()
            api.put(
                f"/api/permissions/{self.name}/{urllib.parse.quote(self._user)}",
                json={"configure": ".*", "write": ".*", "read": ".*"},
            ).raise_for_status()
        with psycopg.connect(self._admin_db, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self.gateway("db", "upgrade", wait=True)
        self.key = self._make_key()
        return self

    def close(self) -> None:
        for p in self.processes:
            p.stop()
        with httpx.Client(base_url=self.management_url, auth=(self._user, self._password), timeout=30) as api:
            api.delete(f"/api/vhosts/{self.name}")
        with psycopg.connect(self._admin_db, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "GATEWAY_AMQP_URL": self.amqp_url,
            "GATEWAY_DATABASE_URL": self.database_url,
            "GATEWAY_MAPPINGS_DIR": str(self.mappings_dir),
            "GATEWAY_ENVIRONMENT": "test",
            "GATEWAY_LOG_JSON": "true",
            # Per-event INFO lines would measure the log writer: operators run WARNING at volume too.
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_API_PORT": str(self.api_port),
            # The per-key rate limit protects a real deployment from one noisy source; the bench is one.
            "GATEWAY_RATE_LIMIT_PER_MINUTE": "1000000",
            LIBERI_SECRET_ENV: LIBERI_SECRET,
            **self.env_overrides,
        }

    def _make_key(self) -> str:
        from gateway.security.keys import create_key
        from gateway.store.db import make_engine, make_sessionmaker, transaction

        engine = make_engine(self.database_url)
        try:
            with transaction(make_sessionmaker(engine)) as s:
                return create_key(s, name="bench source", role="source", scopes=SOURCE_SCOPES).secret
        finally:
            engine.dispose()

    # --- processes --------------------------------------------------------------------------------
    def gateway(self, *args: str, wait: bool = False, name: str | None = None) -> Process:
        log_path = self.tmp / f"{name or args[0]}-{len(self.processes)}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", *args],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
        p = Process(name or args[0], proc, log_path)
        if wait:
            if proc.wait(300) != 0:
                raise RuntimeError(f"gateway {' '.join(args)} failed: {log_path.read_text()[-2000:]}")
            return p
        self.processes.append(p)
        return p

    def start_api(self) -> Process:
        p = self.gateway("serve", name="api")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if p.proc.poll() is not None:
                raise RuntimeError(f"API exited: {p.log_path.read_text()[-2000:]}")
            try:
                ready = httpx.get(
                    f"{self.api_url}/readyz", headers={"Authorization": f"Bearer {self.key}"}, timeout=2
                )
                if ready.status_code == 200:
                    return p
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("API not ready within 60 s")

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def peak_rss(self) -> dict[str, float | None]:
        return {f"{p.name}[{p.proc.pid}]": peak_rss_mb(p.proc.pid) for p in self.processes}
