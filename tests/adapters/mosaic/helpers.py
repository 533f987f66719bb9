"""Mosaic test inputs built from the shared specimens, changed one field at a time."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from tests.adapters.contract import SPECIMENS

MOSAIC = SPECIMENS / "mosaic"


def specimen(name: str) -> dict[str, Any]:
    return json.loads((MOSAIC / name).read_text(encoding="utf-8"))


def variant(name: str, change: Callable[[dict[str, Any]], Any]) -> bytes:
    doc = copy.deepcopy(specimen(name))
    change(doc)
    return json.dumps(doc).encode()


def answer(doc: dict[str, Any], code: str) -> dict[str, Any]:
    return next(a for a in doc["form"]["answers"] if a["question_user_code"] == code)


def drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        del node[leaf]

    return change


def setv(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        node[leaf] = value

    return change
