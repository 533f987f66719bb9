"""The last step of every social-care adapter: mapped values → a validated canonical event."""

from __future__ import annotations

from typing import Any

from adapters.base import InvalidInput
from adapters.common.quality import prune
from gateway.model import MissingEpisodeEvent
from gateway.model.build import EventRejected, build_event


def finish(values: dict[str, Any], *, where: str = "") -> MissingEpisodeEvent:
    """Validate through gateway.model.build (which moves bad non-essential values into data_quality);
    what it cannot salvage becomes an InvalidInput naming the fields, never their values."""
    record_id = values.get("source", {}).get("record_id")
    try:
        return build_event(prune(values))
    except EventRejected as exc:
        prefix = f"{where}: " if where else ""
        raise InvalidInput(f"{prefix}{exc}", record_id=str(record_id) if record_id else None) from None
