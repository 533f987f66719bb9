"""The NHS adapter: one FHIR R4 input (JSON or XML) from an NHS organisation → one canonical event."""

from __future__ import annotations

import structlog

from adapters.base import Adapter, InvalidInput, RawInput
from adapters.mapping import load_source_mapping
from adapters.nhs.convert import to_event
from adapters.nhs.mapping import NhsInstance
from adapters.nhs.message import check
from adapters.nhs.read import read_resources
from adapters.registry import register
from gateway.model import MissingEpisodeEvent

log = structlog.get_logger(__name__)

EXPECTED_RESOURCE_HEADER = "x-gateway-fhir-resource"
"""Set by the FHIR endpoint (``POST /fhir/R4/{instance}/{resource}``) to the resource type in the path:
the body must be that resource. Header names are compared case-insensitively."""


def _expected_resource(raw: RawInput) -> str | None:
    for name, value in raw.headers.items():
        if name.lower() == EXPECTED_RESOURCE_HEADER:
            return value.strip() or None
    return None


@register
class NhsAdapter(Adapter):
    system = "nhs"
    description = "NHS FHIR R4 (UK Core) missing-child messages and alert requests (JSON or XML Bundles)"

    def instance_config(self, instance: str) -> NhsInstance:
        return load_source_mapping(self.mappings_dir, self.system, instance, NhsInstance)

    def parse(self, raw: RawInput) -> list[MissingEpisodeEvent]:
        config = self.instance_config(raw.instance)
        read = read_resources(
            raw.body, raw.content_type, max_bytes=config.max_document_bytes, max_depth=config.max_depth
        )
        expected = _expected_resource(raw)
        if expected is not None and read.resource_type != expected:
            raise InvalidInput(
                f"the body is a {read.resource_type} but was sent to the {expected[:64]} endpoint"
            )
        message = check(read, config, raw.instance)
        event = to_event(message, raw)
        # Ids and codes only: never the child's name, date of birth, NHS number or the free text.
        log.info(
            "nhs.mapped",
            instance=raw.instance,
            shape=message.shape,
            record_id=event.source.record_id,
            source_event_id=event.source.event_id,
            event_type=event.event_type.value,
            data_quality=len(event.data_quality),
        )
        return [event]
