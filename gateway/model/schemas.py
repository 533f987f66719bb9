"""JSON Schemas of the public contract, generated from the pydantic models (``gateway schema export``)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from gateway.model.episode import Episode
from gateway.model.event import MissingEpisodeEvent
from gateway.model.notification import Notification

SCHEMAS: dict[str, type[BaseModel]] = {
    "missing-episode-event-1.schema.json": MissingEpisodeEvent,
    "missing-episode-1.schema.json": Episode,
    "missing-episode-notification-1.schema.json": Notification,
}


def render(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = directory / name
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written
