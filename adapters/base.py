"""What every adapter is and may raise.

An adapter turns one raw input (bytes, as received) into canonical MissingEpisodeEvents. It raises only
:class:`AdapterError` (or a subclass) for anything wrong with the input; the ingest layer turns that
into a 4xx with the reason and keeps the raw input in quarantine. Any other exception is a bug.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from gateway.model import MissingEpisodeEvent

IngestCall = Callable[[bytes, "str | None", str], Any]
"""``(body, content_type, filename) -> outcome``: how a file-drop watcher hands a file to ingest."""


class AdapterError(Exception):
    """Input that cannot become canonical events. ``reason`` is safe to show to the sender and operators:
    it names fields and record ids, never a child's details."""

    http_status: ClassVar[int] = 422
    code: ClassVar[str] = "invalid"

    def __init__(self, reason: str, *, record_id: str | None = None):
        self.reason = reason
        self.record_id = record_id
        super().__init__(f"{reason} (record {record_id})" if record_id else reason)


class UnreadableInput(AdapterError):
    """Not well-formed, wrong encoding, not the expected media type."""

    http_status = 400
    code = "unreadable"


class HostileInput(AdapterError):
    """DOCTYPE, external entities, entity expansion, excessive size or depth: refused, never resolved."""

    http_status = 400
    code = "hostile"


class InvalidInput(AdapterError):
    """Readable but breaks the format's rules or lacks what identifies the report."""

    http_status = 422
    code = "invalid"


class WrongInstance(AdapterError):
    """The message claims a different force / LA / organisation than the channel it came on."""

    http_status = 422
    code = "wrong_instance"


class UnknownInstance(AdapterError):
    """No mapping file for this instance: the deployment is not configured."""

    http_status = 404
    code = "unknown_instance"


class Unauthenticated(AdapterError):
    """A signed channel (Liberi webhook) with no or a bad signature."""

    http_status = 401
    code = "unauthenticated"


@dataclass(frozen=True)
class RawInput:
    """One input as received. ``instance`` comes from the channel (endpoint, folder, mailbox), never
    from the message itself."""

    body: bytes
    instance: str
    received_at: datetime
    content_type: str | None = None
    filename: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class Adapter(ABC):
    """One source system. Subclasses set ``system`` and implement :meth:`parse`."""

    system: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, mappings_dir: Path):
        self.mappings_dir = mappings_dir

    @abstractmethod
    def parse(self, raw: RawInput) -> list[MissingEpisodeEvent]:
        """Return the events in ``raw`` or raise AdapterError naming what is wrong."""

    def for_file_drop(self, ingest: IngestCall, directory: Path, instance: str) -> IngestCall:
        """Adapt the ingest call of a file-drop folder. Sources whose files overlap (the Liquidlogic LCS
        deltas) wrap it to keep a watermark; the rest take files as they are."""
        return ingest
