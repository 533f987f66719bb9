"""The ``manual`` adapter: canonical MissingEpisodeEvent JSON, posted by an integration team or a tool.

Accepts one event object, a JSON array of events, or ``{"events": [...]}``. ``event_id``,
``received_at`` and ``idempotency_key`` may be omitted: the gateway assigns the first two and derives
the key from the event's content, so the same event posted twice is recognised as a repeat.
``source.system`` must be ``manual`` (or omitted) and ``source.instance`` the channel's instance (or
omitted): a sender cannot speak for another source. Details in adapters/manual/README.md.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from adapters.base import Adapter, InvalidInput, RawInput, UnreadableInput, WrongInstance
from adapters.mapping import load_source_mapping
from adapters.registry import register
from gateway.model import MissingEpisodeEvent
from gateway.model.build import EventRejected, build_event, idempotency_key

MAX_EVENTS = 1_000


class ManualInstance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str


def _events_of(doc: Any) -> list[Any]:
    if isinstance(doc, dict) and "events" in doc and set(doc) == {"events"}:
        doc = doc["events"]
    if isinstance(doc, dict):
        return [doc]
    if isinstance(doc, list):
        return doc
    raise InvalidInput('expected a canonical event object, an array of events or {"events": [...]}')


@register
class ManualAdapter(Adapter):
    system = "manual"
    description = "Canonical missing-episode-event/1 JSON"

    def parse(self, raw: RawInput) -> list[MissingEpisodeEvent]:
        load_source_mapping(self.mappings_dir, self.system, raw.instance, ManualInstance)
        try:
            doc = orjson.loads(raw.body)
        except orjson.JSONDecodeError as exc:
            raise UnreadableInput(f"not valid UTF-8 JSON: {exc}") from None
        items = _events_of(doc)
        if not items:
            raise InvalidInput("no events in the document")
        if len(items) > MAX_EVENTS:
            raise InvalidInput(f"too many events in one document ({len(items)} > {MAX_EVENTS})")
        return [self._one(item, i, raw) for i, item in enumerate(items)]

    def _one(self, item: Any, index: int, raw: RawInput) -> MissingEpisodeEvent:
        where = f"event[{index}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"{where}: not a JSON object")
        source = item.get("source")
        if not isinstance(source, dict):
            raise InvalidInput(f"{where}.source: required (record_id at least)")
        record_id = source.get("record_id")
        system = source.setdefault("system", self.system)
        instance = source.setdefault("instance", raw.instance)
        if system != self.system:
            raise WrongInstance(
                f"{where}.source.system is {system!r}; this channel takes 'manual' events only",
                record_id=str(record_id) if record_id else None,
            )
        if instance != raw.instance:
            raise WrongInstance(
                f"{where}.source.instance is {instance!r} but the channel is {raw.instance!r}",
                record_id=str(record_id) if record_id else None,
            )
        item = dict(item)
        item.setdefault("received_at", raw.received_at.isoformat())
        if not item.get("idempotency_key") and isinstance(record_id, str) and record_id:
            stable = {k: v for k, v in item.items() if k not in ("event_id", "received_at")}
            item["idempotency_key"] = idempotency_key(
                self.system,
                raw.instance,
                record_id,
                source.get("event_id"),
                orjson.dumps(stable, option=orjson.OPT_SORT_KEYS),
            )
        try:
            return build_event(item)
        except EventRejected as exc:
            raise InvalidInput(f"{where}: {exc}", record_id=str(record_id) if record_id else None) from None
