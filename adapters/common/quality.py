"""Values that are kept out of the canonical event but shown to operators (``data_quality``).

A bad detail never blocks a missing-child notice: the adapter records it here and carries on. The
canonical builder (gateway.model.build) catches what the model itself rejects (an NHS number failing
Modulus 11, a future date of birth); these helpers cover what only the adapter can see.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from adapters.common.times import looks_like_iso_date

_ORIGINAL_MAX = 200


def issue(field: str, problem: str, original: Any = None) -> dict[str, Any]:
    return {
        "field": field,
        "problem": problem,
        "original": None if original is None else str(original)[:_ORIGINAL_MAX],
    }


def nhs_number_absent(quality: list[dict[str, Any]], value: Any) -> None:
    """The formats list an absent NHS number among the flagged values: operators should know the
    health link cannot be made."""
    if value is None or (isinstance(value, str) and not value.strip()):
        quality.append(issue("child.ids.nhs_number", "NHS number is absent"))


def date_of_birth(
    text: str, quality: list[dict[str, Any]], *, field: str = "child.date_of_birth"
) -> str | None:
    """A ``YYYY-MM-DD`` date of birth. The right shape but an impossible day (31 February) is flagged and
    left out; the wrong shape raises ValueError, which the caller turns into a rejection."""
    if not looks_like_iso_date(text):
        raise ValueError("not a YYYY-MM-DD date")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        quality.append(issue(field, "date of birth is not a real calendar date", text))
        return None


def prune(node: Any) -> Any:
    """Drop unset values (None, empty objects and lists) so that an absent group stays absent."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            value = prune(value)
            if value is None or value == {} or value == []:
                continue
            out[key] = value
        return out
    if isinstance(node, list):
        return [prune(v) for v in node if v is not None]
    return node
