"""The gateway as separate processes (API, processors, outbox relay, delivery) against the private
broker and database, each one killable with SIGKILL and restartable, as an operator's supervisor would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gateway.settings import REPO_ROOT


@dataclass
class Part:
    name: str
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None
    kills: int = 0


@dataclass
class Cluster:
    env: dict[str, str]
    logs: Path
    parts: dict[str, Part] = field(default_factory=dict)

    def add(self, name: str, *args: str) -> Part:
        part = Part(name, list(args))
        self.parts[name] = part
        self.start(name)
        return part

    def start(self, name: str) -> None:
        part = self.parts[name]
        with open(self.logs / f"{name}.log", "ab") as log:
            part.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", *part.args],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )

    def kill9(self, name: str) -> None:
        part = self.parts[name]
        assert part.proc is not None
        assert part.proc.poll() is None, f"{name} had already exited: {self.log(name)[-3000:]}"
        part.proc.send_signal(signal.SIGKILL)
        part.proc.wait(10)
        part.kills += 1

    def alive(self) -> dict[str, bool]:
        return {n: p.proc is not None and p.proc.poll() is None for n, p in self.parts.items()}

    def stop_all(self) -> None:
        for p in self.parts.values():
            if p.proc is not None and p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        for p in self.parts.values():
            if p.proc is None:
                continue
            try:
                p.proc.wait(20)
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait(5)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_api(self, url: str, key: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"{url}/readyz", headers={"Authorization": f"Bearer {key}"}, timeout=3)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"API not ready: {self.log('api')[-3000:]}")
