"""Realistic partner-format traffic: the shared specimens of all five source formats, made into as many
different children as asked for.

Each template is a specimen in its source's own format (COMPACT XML, Mosaic JSON, Liquidlogic CSV and
XML, Liberi signed JSON, NHS FHIR Bundles). At start-up every template is parsed once by its real
adapter to learn the values that identify the report and the child (record id, source event id, NHS
number, police reference, family name); a message for child ``n`` is the specimen's bytes with those
values replaced by ``n``'s. :func:`check` parses generated messages again and fails loudly when a
replacement did not take (a specimen changed), so the bench never measures a stream of duplicates.

The mix covers reported / updated / found, several areas (Staffordshire, Stoke-on-Trent, Wandsworth,
Kent, NHS organisations) and out-of-area placements (a Kent child placed in Staffordshire, Wandsworth
children placed elsewhere).
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from adapters.base import RawInput
from adapters.liberi.signature import sign
from adapters.registry import get_adapter

SPECIMENS = Path(__file__).resolve().parent / "specimens"
# Only for the bench's own Liberi instance (set in the API process's environment); never a real secret.
LIBERI_SECRET_ENV = "GATEWAY_LIBERI_SECRET_KENT_LIBERI"
LIBERI_SECRET = "bench-only-secret-for-kent-liberi-0123456789abcdef"


@dataclass(frozen=True)
class Template:
    system: str
    instance: str
    path: str
    content_type: str
    weight: int  # relative frequency in the mix


# Weights: police reports dominate real traffic, then social care, then health.
TEMPLATES = [
    Template(
        "compact", "staffordshire-police", "compact/01-new-report-medium-risk-home.xml", "application/xml", 6
    ),
    Template(
        "compact",
        "staffordshire-police",
        "compact/02-new-report-looked-after-placed-out-of-area.xml",
        "application/xml",
        4,
    ),
    Template("compact", "staffordshire-police", "compact/03-risk-upgraded-to-high.xml", "application/xml", 2),
    Template("compact", "staffordshire-police", "compact/04-found.xml", "application/xml", 3),
    Template(
        "mosaic",
        "wandsworth-mosaic",
        "mosaic/01-missing-episode-started-looked-after.json",
        "application/json",
        3,
    ),
    Template("mosaic", "wandsworth-mosaic", "mosaic/03-episode-ended-found.json", "application/json", 2),
    Template(
        "liquidlogic",
        "stoke-on-trent-liquidlogic",
        "liquidlogic/01-daily-delta-2026-03-06.csv",
        "text/csv",
        1,
    ),
    Template(
        "liquidlogic",
        "stoke-on-trent-liquidlogic",
        "liquidlogic/04-form-finalised-missing-absent.xml",
        "application/xml",
        2,
    ),
    Template("liberi", "kent-liberi", "liberi/01-missing-episode-opened.json", "application/json", 3),
    Template(
        "liberi", "kent-liberi", "liberi/02-missing-episode-updated-risk-high.json", "application/json", 1
    ),
    Template("liberi", "kent-liberi", "liberi/03-child-found.json", "application/json", 2),
    Template("nhs", "nhs-test", "nhs/01-ward-left-without-authorisation.json", "application/fhir+json", 2),
    Template(
        "nhs",
        "nhs-test",
        "nhs/03-emergency-department-child-flagged-missing.json",
        "application/fhir+json",
        1,
    ),
]


@dataclass(frozen=True)
class Message:
    system: str
    instance: str
    body: bytes
    content_type: str
    headers: dict[str, str]
    events: int  # canonical events the adapter makes of it

    @property
    def path(self) -> str:
        return f"/ingest/{self.system}/{self.instance}"


def nhs_number(seed: int) -> str:
    """A valid NHS number in the 999 test range (Modulus 11), different for each seed < 10**6."""
    for n in (seed % 1_000_000, (seed + 500_000) % 1_000_000):
        nine = f"999{n:06d}"
        total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        check = 0 if check == 11 else check
        if check != 10:
            return nine + str(check)
    raise ValueError(f"no NHS number for seed {seed}")


def _letters(n: int, width: int = 4) -> str:
    out = ""
    for _ in range(width):
        n, r = divmod(n, 26)
        out += chr(ord("a") + r)
    return out


@dataclass
class _Prepared:
    template: Template
    text: str
    tokens: list[tuple[str, str]] = field(default_factory=list)  # (value in the specimen, kind)
    events: int = 0


def _parse(t: Template, body: bytes, headers: dict[str, str] | None = None) -> list[object]:
    adapter = get_adapter(t.system, _mappings())
    return list(
        adapter.parse(
            RawInput(
                body=body,
                instance=t.instance,
                received_at=datetime.now(UTC),
                content_type=t.content_type,
                headers=headers or {},
            )
        )
    )


_MAPPINGS: Path | None = None


def _mappings() -> Path:
    if _MAPPINGS is None:
        raise RuntimeError("call workload.use_mappings(dir) first")
    return _MAPPINGS


def use_mappings(directory: Path) -> None:
    global _MAPPINGS
    _MAPPINGS = directory


def _prepare(t: Template) -> _Prepared:
    text = (SPECIMENS / t.path).read_text(encoding="utf-8")
    body, headers = _finish(t, text)
    events = _parse(t, body, headers)
    p = _Prepared(t, text, events=len(events))
    seen: set[str] = set()
    for e in events:
        doc = e.model_dump(mode="json")  # type: ignore[attr-defined]
        values = [
            (doc["source"]["record_id"], "id"),
            (doc["source"].get("event_id"), "id"),
            ((doc.get("child") or {}).get("ids", {}).get("nhs_number"), "nhs"),
            (((doc.get("episode") or {}).get("police") or {}).get("reference"), "id"),
            ((doc.get("child") or {}).get("family_name"), "name"),
            ((doc.get("child") or {}).get("ids", {}).get("upn"), "id"),
        ]
        dob = (doc.get("child") or {}).get("date_of_birth")
        if dob:
            d = date.fromisoformat(dob)
            # Real children have many birthdays: with one, correlation compares every episode with every
            # other (the demographic match looks up episodes by date of birth).
            values += [(f, "dob") for f in (dob, d.strftime("%d/%m/%Y"), d.strftime("%Y%m%d"))]
        values += [(la.get("id"), "id") for la in (doc.get("child") or {}).get("ids", {}).get("la_ids") or []]
        for value, kind in values:
            if value and value not in seen and value in text:
                seen.add(value)
                p.tokens.append((value, kind))
    # Longest first, so a record id that contains an event id is replaced whole.
    p.tokens.sort(key=lambda tv: -len(tv[0]))
    return p


def _finish(t: Template, text: str) -> tuple[bytes, dict[str, str]]:
    """Per-source details a sender adds at send time: Liberi signs each webhook and stamps it now."""
    if t.system != "liberi":
        return text.encode("utf-8"), {}
    doc = json.loads(text)
    doc["publishedAt"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    body = json.dumps(doc).encode("utf-8")
    return body, {"X-Liberi-Signature": sign(body, LIBERI_SECRET.encode())}


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_LAST_DIGITS = re.compile(r"(\d+)(\D*)$")


def _new_id(value: str, child: int, index: int) -> str:
    """An id in the same shape as ``value`` (sources validate their formats): a UUID becomes another
    UUID, otherwise the last run of digits is shifted, keeping its width."""
    if _UUID.match(value):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench|{value}|{child}"))
    m = _LAST_DIGITS.search(value)
    if not m:
        return f"{value}{child}"
    digits = m.group(1)
    width = len(digits)
    n = (int(digits) + 1 + child * 16 + index) % (10**width)
    return value[: m.start(1)] + f"{n:0{width}d}" + m.group(2)


def _new_dob(value: str, child: int) -> str:
    """The same date format, moved by up to about four years (children stay children)."""
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%Y%m%d"):
        try:
            d = datetime.strptime(value, fmt).date()
        except ValueError:
            continue
        return (d - timedelta(days=(child * 7919) % 1500)).strftime(fmt)
    return value


def _replace(text: str, value: str, kind: str, child: int, index: int = 0) -> str:
    if kind == "nhs":
        new = nhs_number(child)
        # NHS numbers may be written spaced (3-3-4) in some formats.
        spaced = f"{value[:3]} {value[3:6]} {value[6:]}"
        text = text.replace(spaced, f"{new[:3]} {new[3:6]} {new[6:]}")
        return text.replace(value, new)
    if kind == "dob":
        new = _new_dob(value, child)
        return text.replace(value, new)
    if kind == "name":
        return re.sub(rf"\b{re.escape(value)}\b", value + _letters(child), text)
    return text.replace(value, _new_id(value, child, index))


class Workload:
    """Messages for children ``0, 1, 2, ...``; the template for each child is drawn by weight."""

    def __init__(self, mappings_dir: Path, seed: int = 1):
        use_mappings(mappings_dir)
        self.prepared = [_prepare(t) for t in TEMPLATES]
        self._rng = random.Random(seed)
        self._weights = [t.weight for t in TEMPLATES]

    def message(self, child: int, template: int | None = None) -> Message:
        i = template if template is not None else self._rng.choices(range(len(TEMPLATES)), self._weights)[0]
        p = self.prepared[i]
        text = p.text
        for index, (value, kind) in enumerate(p.tokens):
            text = _replace(text, value, kind, child, index)
        body, headers = _finish(p.template, text)
        t = p.template
        return Message(t.system, t.instance, body, t.content_type, headers, p.events)

    def messages(self, count: int, start: int = 0) -> Iterator[Message]:
        for child in range(start, start + count):
            yield self.message(child)

    def mean_events(self) -> float:
        total = sum(self._weights)
        return sum(p.events * w for p, w in zip(self.prepared, self._weights, strict=True)) / total


def check(workload: Workload) -> dict[str, int]:
    """Parse two generated messages per template: each must parse, and their idempotency keys must
    differ from each other and from the specimen's (else the replacement did not take)."""
    out: dict[str, int] = {}
    for i, p in enumerate(workload.prepared):
        t = p.template
        base = {e.idempotency_key for e in _parse(t, *_finish(t, p.text))}  # type: ignore[attr-defined]
        keys: list[set[str]] = []
        for child in (11, 12):
            m = workload.message(child, template=i)
            keys.append({e.idempotency_key for e in _parse(t, m.body, m.headers)})  # type: ignore[attr-defined]
        if keys[0] & keys[1] or keys[0] & base:
            raise AssertionError(f"{t.path}: generated messages share idempotency keys; tokens {p.tokens}")
        dobs = [
            {e.child.date_of_birth for e in _parse(t, m.body, m.headers)}  # type: ignore[attr-defined]
            for m in (workload.message(101, template=i), workload.message(102, template=i))
        ]
        if dobs[0] & dobs[1] - {None}:
            raise AssertionError(f"{t.path}: generated children share a date of birth; tokens {p.tokens}")
        out[t.path] = p.events
    return out
