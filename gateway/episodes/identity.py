"""What identifies a child and an episode across feeds, normalised so that sources agree.

Strong child identifiers are the NHS number, an LA's child id *with* its LA code (ids are only unique
within one council's system) and the police person id *with* its force. The police reference
(force + report number) identifies the episode itself: an LA system that records it links its own
record to the police report (a cross-reference learned from the data).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from gateway.model import Child, EpisodeFacts

_NOT_LETTERS = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")


def normalise_name(name: str | None) -> str:
    """Casefold, strip accents and punctuation: ``O'Brien-Smith`` → ``obrien smith``."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    text = text.replace("'", "")  # curly apostrophes are already gone with the non-ASCII
    return _SPACES.sub(" ", _NOT_LETTERS.sub(" ", text)).strip()


def first_given(name: str | None) -> str:
    parts = normalise_name(name).split()
    return parts[0] if parts else ""


def child_keys(child: Child, force: str | None) -> set[str]:
    keys: set[str] = set()
    if child.ids.nhs_number:
        keys.add(f"nhs:{child.ids.nhs_number}")
    for la_id in child.ids.la_ids:
        keys.add(f"la:{la_id.la_code}:{la_id.id.strip().upper()}")
    if child.ids.police_person_id and force:
        keys.add(f"police-person:{force}:{child.ids.police_person_id.strip().upper()}")
    return keys


def episode_keys(facts: EpisodeFacts) -> set[str]:
    police = facts.police
    if police and police.force and police.reference:
        return {f"police-ref:{police.force}:{police.reference.strip().upper()}"}
    return set()


def conflicting(a: set[str], b: set[str]) -> str | None:
    """Two identifier sets that cannot belong to one child: different NHS numbers, or different ids in
    the same council's system. Returns the reason, or None."""

    def by_prefix(keys: set[str], depth: int) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for k in keys:
            parts = k.split(":")
            out.setdefault(":".join(parts[:depth]), set()).add(k)
        return out

    na, nb = (
        by_prefix({k for k in a if k.startswith("nhs:")}, 1),
        by_prefix({k for k in b if k.startswith("nhs:")}, 1),
    )
    if na and nb and not (na["nhs"] & nb["nhs"]):
        return "different NHS numbers"
    la_a, la_b = (
        by_prefix({k for k in a if k.startswith("la:")}, 2),
        by_prefix({k for k in b if k.startswith("la:")}, 2),
    )
    for council, ids in la_a.items():
        if council in la_b and not (ids & la_b[council]):
            return f"different child ids in LA {council.split(':')[1]}"
    return None


def demographics(doc: dict[str, Any]) -> tuple[str, str, str | None]:
    """(family name, first given name, date of birth ISO) from an Episode or event document."""
    child = doc.get("child") or {}
    return (
        normalise_name(child.get("family_name")),
        first_given(child.get("given_name")),
        child.get("date_of_birth"),
    )
