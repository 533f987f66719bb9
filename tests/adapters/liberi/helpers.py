"""Liberi test inputs: the shared specimens, a test secret, and signed variants."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from adapters.liberi.signature import sign
from tests.adapters.contract import RECEIVED, SPECIMENS

LIBERI = SPECIMENS / "liberi"
SECRET_ENV = "GATEWAY_LIBERI_SECRET_KENT_LIBERI"
SECRET = "test-only-secret-for-kent-liberi-0123456789"  # 43 bytes; never a real secret
OPENED = "01-missing-episode-opened.json"


def specimen(name: str) -> dict[str, Any]:
    return json.loads((LIBERI / name).read_text(encoding="utf-8"))


def variant(name: str, change: Callable[[dict[str, Any]], Any]) -> bytes:
    doc = copy.deepcopy(specimen(name))
    change(doc)
    return json.dumps(doc).encode()


def setv(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        node[leaf] = value

    return change


def drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        del node[leaf]

    return change


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Liberi-Signature": sign(body, secret.encode())}


def received_for(body: bytes) -> datetime:
    """When the gateway got a test request: the contract's fixed time, or a few seconds after Liberi
    published it when that is later (the specimens span a week)."""
    try:
        published = datetime.fromisoformat(json.loads(body)["publishedAt"].replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return RECEIVED
    return max(RECEIVED, published + timedelta(seconds=5))
