"""The Liquidlogic LCS adapter: a CSV delta (one event per row) or an XML form notification (zero or
one event). The format is sniffed from the bytes, so a file from the SFTP drop needs no media type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from adapters.base import Adapter, IngestCall, InvalidInput, RawInput, UnreadableInput, WrongInstance
from adapters.common.build import finish
from adapters.common.metrics import count_ignored
from adapters.liquidlogic.csv_extract import read_extract
from adapters.liquidlogic.form_xml import read_notification
from adapters.liquidlogic.mapping import LiquidlogicInstance
from adapters.liquidlogic.record import LcsRecord, canonical_values, decide
from adapters.liquidlogic.watermark import default_state_path, watermarked
from adapters.mapping import load_source_mapping
from adapters.registry import register
from gateway.model import MissingEpisodeEvent
from gateway.model.build import idempotency_key

log = structlog.get_logger(__name__)

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def sniff(body: bytes) -> str:
    """``xml`` or ``csv``. A CSV header starts with a column name, never ``<``; a wide-encoded XML
    document starts with a UTF-16/32 byte-order mark or a NUL byte."""
    if body.startswith(_BOMS[1:]) or b"\x00" in body[:4]:
        return "xml"
    head = body[len(_BOMS[0]) :] if body.startswith(_BOMS[0]) else body
    return "xml" if head.lstrip()[:1] == b"<" else "csv"


@register
class LiquidlogicAdapter(Adapter):
    system = "liquidlogic"
    description = "Liquidlogic LCS: FACT_MISSING_PERSON CSV delta and form-finalised XML notification"

    def instance_config(self, instance: str) -> LiquidlogicInstance:
        return load_source_mapping(self.mappings_dir, self.system, instance, LiquidlogicInstance)

    def for_file_drop(self, ingest: IngestCall, directory: Path, instance: str) -> IngestCall:
        """LCS deltas overlap and files get re-read: only rows not yet delivered go to ingest."""
        return watermarked(ingest, default_state_path(directory), instance=instance)

    def parse(self, raw: RawInput) -> list[MissingEpisodeEvent]:
        config = self.instance_config(raw.instance)
        if not raw.body.strip(b" \t\r\n" + _BOMS[0]):
            raise UnreadableInput("empty body: expected a CSV delta extract or an XML form notification")
        if sniff(raw.body) == "xml":
            return self._xml(raw, config)
        return self._csv(raw, config)

    # --- CSV ------------------------------------------------------------------------------------
    def _csv(self, raw: RawInput, config: LiquidlogicInstance) -> list[MissingEpisodeEvent]:
        records = read_extract(raw.body)
        events = []
        for rec in records:
            # The row's id, its change time and a digest of its content: a re-read file or an
            # overlapping delta gives the same keys, two saves in one minute do not collide.
            tail = rec.row_key()
            events.append(self._event(raw, config, rec, rec.source_event_id(), tail, f"row {rec.record_id}"))
        log.info(
            "liquidlogic.csv_mapped",
            instance=raw.instance,
            rows=len(records),
            record_ids=[r.record_id for r in records][:50],
        )
        return events

    # --- XML ------------------------------------------------------------------------------------
    def _xml(self, raw: RawInput, config: LiquidlogicInstance) -> list[MissingEpisodeEvent]:
        note = read_notification(raw.body)
        if note.la_code != config.la_code:
            raise WrongInstance(
                f"Organisation/@laCode {note.la_code[:10]!r} is not the LA code of instance "
                f"{raw.instance!r} ({config.la_code})",
                record_id=note.record.record_id if note.record else None,
            )
        if note.form_type not in config.missing_form_types:
            count_ignored(self.system, raw.instance, "not_a_missing_form")
            log.info(
                "liquidlogic.ignored",
                instance=raw.instance,
                notification_id=note.notification_id,
                form_id=note.form_id,
                reason="not_a_missing_form",
            )
            return []
        if note.record is None:
            # A missing-episode form with no episode cannot be filed anywhere: a person must look at it.
            raise InvalidInput(
                f"form {note.form_id} is a missing-episode form ({note.form_type}) but has no "
                "MissingEpisode element"
            )
        return [
            self._event(
                raw,
                config,
                note.record,
                note.notification_id,
                note.notification_id,
                f"notification {note.notification_id}",
            )
        ]

    # --- shared ---------------------------------------------------------------------------------
    def _event(
        self,
        raw: RawInput,
        config: LiquidlogicInstance,
        rec: LcsRecord,
        source_event_id: str,
        key_tail: str,
        where: str,
    ) -> MissingEpisodeEvent:
        event_type, occurred_at = decide(rec)
        values: dict[str, Any] = {
            "event_type": event_type,
            "occurred_at": occurred_at,
            "received_at": raw.received_at,
            "source": {
                "system": self.system,
                "instance": raw.instance,
                "record_id": rec.record_id,
                "event_id": source_event_id,
            },
            "idempotency_key": idempotency_key(self.system, raw.instance, rec.record_id, key_tail),
            **canonical_values(rec, la_code=config.la_code),
        }
        return finish(values, where=where)
