"""Accept one input from a source, whatever the transport (HTTP, file drop, e-mail).

Order matters for "nothing is lost": (1) authenticate a signed channel, (2) store the raw bytes and
commit, (3) parse with the source's adapter, (4) on a rejection keep the raw input in quarantine with
the reason, (5) publish each event to ``missing.inbound`` and wait for the broker's confirms, (6) only
then report success (the HTTP layer answers 202). A caller told anything but success may send again:
idempotency keys make the repeat harmless.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.orm import Session, sessionmaker

from adapters.base import AdapterError, RawInput, Unauthenticated, WrongInstance
from adapters.mapping import MappingFileError
from adapters.registry import get_adapter
from gateway.broker.publisher import BrokerUnavailable, ConfirmedPublisher, PublishError, wait_confirmed
from gateway.broker.topology import INBOUND
from gateway.metrics import INGESTED
from gateway.model import MissingEpisodeEvent
from gateway.store import tables
from gateway.store.db import transaction

if TYPE_CHECKING:
    from gateway.runtime import ClosingIngestService
    from gateway.settings import Settings

log = structlog.get_logger(__name__)


class Rejected(Exception):
    """The input was refused; it is kept in quarantine (except unauthenticated input, which is not kept)."""

    def __init__(
        self,
        reason: str,
        http_status: int,
        code: str,
        quarantine_id: uuid.UUID | None,
        raw_input_id: uuid.UUID | None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status
        self.code = code
        self.quarantine_id = quarantine_id
        self.raw_input_id = raw_input_id


class PublishFailed(Exception):
    """The input was stored but the broker did not confirm its events: the sender should try again."""

    def __init__(self, raw_input_id: uuid.UUID, reason: str):
        super().__init__(reason)
        self.raw_input_id = raw_input_id


@dataclass(frozen=True)
class IngestResult:
    raw_input_id: uuid.UUID
    event_ids: list[uuid.UUID]
    events: list[MissingEpisodeEvent]


class IngestService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        publisher: ConfirmedPublisher,
        mappings_dir: Path,
        *,
        confirm_timeout: float = 30.0,
    ):
        self._sessions = sessions
        self._publisher = publisher
        self._mappings_dir = mappings_dir
        self._confirm_timeout = confirm_timeout

    def ingest(self, system: str, instance: str, body: bytes, **kwargs: Any) -> IngestResult:
        try:
            result = self._ingest(system, instance, body, **kwargs)
        except Rejected as exc:
            INGESTED.labels(system[:32], instance[:64], exc.code).inc()
            raise
        except PublishFailed:
            INGESTED.labels(system[:32], instance[:64], "unavailable").inc()
            raise
        INGESTED.labels(system[:32], instance[:64], "accepted").inc()
        return result

    def _ingest(
        self,
        system: str,
        instance: str,
        body: bytes,
        *,
        content_type: str | None = None,
        filename: str | None = None,
        headers: Mapping[str, str] | None = None,
        channel: str = "http",
        retry_of: uuid.UUID | None = None,
    ) -> IngestResult:
        received_at = datetime.now(UTC)
        raw = RawInput(
            body=body,
            instance=instance,
            received_at=received_at,
            content_type=content_type,
            filename=filename,
            headers=dict(headers or {}),
        )
        try:
            adapter = get_adapter(system, self._mappings_dir)
            authenticate = getattr(adapter, "authenticate", None)
            # A quarantined input being retried was authenticated when it first arrived (an
            # unauthenticated one is never stored), and its signature headers were not kept.
            if authenticate is not None and not retry_of:
                authenticate(raw)
        except Unauthenticated as exc:
            # Nothing from an unauthenticated sender is stored: an audit line is all that is kept.
            log.warning(
                "ingest.unauthenticated", system=system, instance=instance, channel=channel, reason=exc.reason
            )
            raise Rejected(exc.reason, exc.http_status, exc.code, None, None) from None
        except AdapterError as exc:
            raw_id = self._store_raw(system, instance, channel, raw)
            raise self._quarantine(
                raw_id, system, instance, exc.code, exc.reason, exc.record_id, exc.http_status
            ) from None

        raw_id = self._store_raw(system, instance, channel, raw)
        try:
            events = adapter.parse(raw)
            for event in events:
                if event.source.system.value != system or event.source.instance != instance:
                    raise WrongInstance(
                        f"adapter produced an event for {event.source.system.value}/"
                        f"{event.source.instance} on channel {system}/{instance}",
                        record_id=event.source.record_id,
                    )
        except AdapterError as exc:
            raise self._quarantine(
                raw_id, system, instance, exc.code, exc.reason, exc.record_id, exc.http_status
            ) from None
        except MappingFileError as exc:
            log.error("ingest.mapping_file_error", system=system, instance=instance, raw_input_id=str(raw_id))
            raise self._quarantine(
                raw_id,
                system,
                instance,
                "mapping_error",
                f"the {system} mapping for {instance} is invalid: fix it and retry ({type(exc).__name__})",
                None,
                500,
            ) from None
        except Exception as exc:
            log.exception(
                "ingest.adapter_crashed", system=system, instance=instance, raw_input_id=str(raw_id)
            )
            raise self._quarantine(
                raw_id,
                system,
                instance,
                "adapter_error",
                f"internal error in the {system} adapter ({type(exc).__name__}); the input is kept for retry",
                None,
                500,
            ) from None

        try:
            self.publish(events, raw_id)
        except PublishError as exc:
            self._set_status(raw_id, "publish_failed", [])
            raise PublishFailed(raw_id, str(exc)) from exc
        self._set_status(raw_id, "published", [str(e.event_id) for e in events])
        log.info(
            "ingest.accepted",
            system=system,
            instance=instance,
            channel=channel,
            raw_input_id=str(raw_id),
            events=len(events),
        )
        return IngestResult(raw_id, [e.event_id for e in events], events)

    def publish(self, events: list[MissingEpisodeEvent], raw_id: uuid.UUID) -> None:
        futures = [
            self._publisher.publish(
                INBOUND,
                f"{e.source.system.value}.{e.source.instance}",
                e.to_json(),
                message_id=str(e.event_id),
                headers={"x-idempotency-key": e.idempotency_key, "x-raw-input-id": str(raw_id)},
                mandatory=True,
            )
            for e in events
        ]
        if not self._publisher.connected and futures:
            # Fail fast rather than hold the sender: the raw input is kept and the sender retries.
            for f in futures:
                f.cancel()
            raise BrokerUnavailable("no connection to the broker")
        wait_confirmed(futures, self._confirm_timeout)

    # --- store -----------------------------------------------------------------------
    def _store_raw(self, system: str, instance: str, channel: str, raw: RawInput) -> uuid.UUID:
        raw_id = uuid.uuid4()
        with transaction(self._sessions) as s:
            s.add(
                tables.RawInput(
                    id=raw_id,
                    system=system[:32],
                    instance=instance[:64],
                    channel=channel,
                    content_type=(raw.content_type or None) and raw.content_type[:255],
                    filename=(raw.filename or None) and raw.filename[:255],
                    body=raw.body,
                    sha256=hashlib.sha256(raw.body).hexdigest(),
                    size=len(raw.body),
                    received_at=raw.received_at,
                    status="received",
                    event_ids=[],
                )
            )
        return raw_id

    def _quarantine(
        self,
        raw_id: uuid.UUID,
        system: str,
        instance: str,
        code: str,
        reason: str,
        record_id: str | None,
        status: int,
    ) -> Rejected:
        qid = uuid.uuid4()
        with transaction(self._sessions) as s:
            s.add(
                tables.Quarantine(
                    id=qid,
                    raw_input_id=raw_id,
                    system=system[:32],
                    instance=instance[:64],
                    error_code=code,
                    reason=reason,
                    record_id=record_id and record_id[:128],
                    created_at=datetime.now(UTC),
                    status="open",
                )
            )
            row = s.get(tables.RawInput, raw_id)
            if row is not None:
                row.status = "quarantined"
        log.warning(
            "ingest.quarantined",
            system=system,
            instance=instance,
            raw_input_id=str(raw_id),
            quarantine_id=str(qid),
            code=code,
        )
        return Rejected(reason, status, code, qid, raw_id)

    def _set_status(self, raw_id: uuid.UUID, status: str, event_ids: list[str]) -> None:
        with transaction(self._sessions) as s:
            row = s.get(tables.RawInput, raw_id)
            if row is not None:
                row.status = status
                row.event_ids = event_ids


def build_ingest_service(settings: Settings) -> ClosingIngestService:
    """An IngestService with its own engine and publisher; call ``.close()`` when done."""
    from gateway.runtime import build_ingest_service as build  # runtime imports this module

    return build(settings)
