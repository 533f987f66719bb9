"""The Liberi adapter: one signed Missing Persons Pathway webhook event → zero or one canonical event."""

from __future__ import annotations

from typing import Any

import structlog

from adapters.base import Adapter, RawInput, WrongInstance
from adapters.common.build import finish
from adapters.common.ids import bounded_id
from adapters.common.json_body import load_json_object
from adapters.common.metrics import count_ignored
from adapters.liberi import codes
from adapters.liberi.mapping import LiberiInstance
from adapters.liberi.payload import Reader, check_envelope, event_type, map_event
from adapters.liberi.signature import verify_fresh, verify_signature
from adapters.mapping import load_source_mapping
from adapters.registry import register
from gateway.model import MissingEpisodeEvent
from gateway.model.build import idempotency_key

log = structlog.get_logger(__name__)


@register
class LiberiAdapter(Adapter):
    system = "liberi"
    description = "Liberi Missing Persons Pathway webhook (JSON, specVersion 1.x, HMAC-SHA256 signed)"

    def instance_config(self, instance: str) -> LiberiInstance:
        return load_source_mapping(self.mappings_dir, self.system, instance, LiberiInstance)

    def authenticate(self, raw: RawInput) -> None:
        """Called by the ingest layer before anything is stored. Raises Unauthenticated (401) for no
        secret configured, no or a bad signature, or a stale publishedAt."""
        config = self.instance_config(raw.instance)
        verify_signature(raw, config)
        verify_fresh(raw, config)

    def parse(self, raw: RawInput) -> list[MissingEpisodeEvent]:
        # parse() trusts that authenticate() ran first (the ingest layer's order); it never re-checks the
        # signature, so that a stored raw input can be re-parsed after the secret is rotated.
        config = self.instance_config(raw.instance)
        doc = load_json_object(raw.body)
        quality: list[dict[str, Any]] = []
        reader = Reader(quality)
        event_id, liberi_type, la_code = check_envelope(doc, reader)
        if la_code != config.la_code:
            raise WrongInstance(
                f"tenant.laCode {la_code[:10]!r} is not the LA code of instance {raw.instance!r} "
                f"({config.la_code})"
            )
        if liberi_type not in codes.EVENT_TYPES:
            count_ignored(self.system, raw.instance, "unhandled_event_type")
            log.info(
                "liberi.ignored",
                instance=raw.instance,
                source_event_id=event_id[:64],
                event_type=liberi_type[:64],
                reason="unhandled_event_type",
            )
            return []
        pathway_id = bounded_id(reader.req_str(doc, "pathwayId", "pathwayId"), "pathwayId")
        values = map_event(doc, liberi_type, la_code, reader)
        values.update(
            {
                "event_type": event_type(liberi_type, doc),
                "received_at": raw.received_at,
                "source": {
                    "system": self.system,
                    "instance": raw.instance,
                    "record_id": pathway_id,
                    "event_id": event_id,
                },
                # deliveryAttempt is not part of the identity: a retry has the same eventId, so the same key.
                "idempotency_key": idempotency_key(self.system, raw.instance, pathway_id, event_id),
                "data_quality": quality,
            }
        )
        event = finish(values, where=f"pathway {pathway_id}")
        log.info(
            "liberi.mapped",
            instance=raw.instance,
            record_id=pathway_id,
            source_event_id=event_id,
            event_type=event.event_type.value,
            data_quality=len(event.data_quality),
        )
        return [event]
