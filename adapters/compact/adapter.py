"""The COMPACT adapter: one export (or an e-mail carrying exports) → one event per MissingPersonReport."""

from __future__ import annotations

import structlog

from adapters.base import Adapter, AdapterError, InvalidInput, RawInput
from adapters.compact.checks import check_document, check_root
from adapters.compact.convert import to_event
from adapters.compact.mapping import CompactDeployment
from adapters.compact.mime import is_email, unwrap
from adapters.compact.report import attr, find
from adapters.compact.validate import validate
from adapters.compact.xml import parse_xml
from adapters.mapping import load_source_mapping
from adapters.registry import register
from gateway.model import MissingEpisodeEvent

log = structlog.get_logger(__name__)


def _prefixed(exc: AdapterError, where: str) -> AdapterError:
    """The same kind of error, saying which attachment of an e-mail it concerns."""
    return type(exc)(f"{where}: {exc.reason}", record_id=exc.record_id)


@register
class CompactAdapter(Adapter):
    system = "compact"
    description = "COMPACT police missing-person export (urn:compact:missing-person-export:1 XML, or e-mail)"

    def deployment(self, instance: str) -> CompactDeployment:
        return load_source_mapping(self.mappings_dir, self.system, instance, CompactDeployment)

    def parse(self, raw: RawInput) -> list[MissingEpisodeEvent]:
        deployment = self.deployment(raw.instance)
        if not is_email(raw):
            return self.parse_export(raw.body, raw, deployment)
        mail = unwrap(
            raw.body, max_bytes=deployment.max_email_bytes, max_attachments=deployment.max_email_attachments
        )
        # The Message-ID is an audit reference, not a child's detail; the event id is the ChangeId.
        log.info(
            "compact.email", instance=raw.instance, message_id=mail.message_id, exports=len(mail.exports)
        )
        if not mail.exports:
            raise InvalidInput("no COMPACT export attached (no application/xml, text/xml or *.xml part)")
        events: list[MissingEpisodeEvent] = []
        for index, export in enumerate(mail.exports, 1):
            try:
                events.extend(self.parse_export(export, raw, deployment))
            except AdapterError as exc:
                where = (
                    "attached export"
                    if len(mail.exports) == 1
                    else f"attached export {index} of {len(mail.exports)}"
                )
                raise _prefixed(exc, where) from None
        return events

    def parse_export(
        self, body: bytes, raw: RawInput, deployment: CompactDeployment
    ) -> list[MissingEpisodeEvent]:
        """One MissingPersonExport document → its events, or an AdapterError for the whole document."""
        root = parse_xml(body, max_bytes=deployment.max_document_bytes, max_depth=deployment.max_depth)
        check_root(root)
        validate(root)
        reports = check_document(root, deployment, raw.instance)
        force_code = attr(find(root, "Header/Force"), "code")
        events = [to_event(report, force_code, raw, deployment) for report in reports]
        for event in events:
            log.info(
                "compact.mapped",
                instance=raw.instance,
                record_id=event.source.record_id,
                source_event_id=event.source.event_id,
                event_type=event.event_type.value,
                data_quality=len(event.data_quality),
            )
        return events
