"""Scenario tests of the encoded protocols (issue 6): each scenario (contracts/CANONICAL.md §4) is
written to a file and run through the real `gateway simulate --json` command against the shipped
`mappings/`, exactly as an integration team would run it; assertions then name the recipient, role,
deadline and cite that the protocol paragraph asks for.

Writing a test::

    from tests.areas.support import Child, run, reported, found, sent, only

    def test_police_tell_the_front_door_within_24_hours() -> None:
        notes = run(reported("2026-03-02T09:00:00Z", host="937", force=WARWICKSHIRE_POLICE))
        n = only(notes, "warwickshire-police.front-door-24h")
        assert n.recipient == "la.937.front_door" and n.due_by == "2026-03-03T09:00:00Z"
        assert n.cite == "L188"
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from gateway.cli import app
from gateway.settings import REPO_ROOT

# The shipped mappings; GATEWAY_TEST_RULES_MAPPINGS points the tests at another copy (to try a rule
# file before it is shipped).
MAPPINGS = Path(os.environ.get("GATEWAY_TEST_RULES_MAPPINGS") or REPO_ROOT / "mappings")
_seq = itertools.count(1)

# Police force areas (ONS PFA codes) of the five protocols.
WARWICKSHIRE_POLICE = "E23000017"
DERBYSHIRE_POLICE = "E23000018"
KENT_POLICE = "E23000032"
METROPOLITAN_POLICE = "E23000001"
STAFFORDSHIRE_POLICE = "E23000015"


@dataclass(frozen=True)
class Note:
    """A notification as `gateway simulate --json` prints it, with the fields tests ask about."""

    raw: dict[str, Any]

    @property
    def recipient(self) -> str:
        r = self.raw["recipient"]
        return f"{r['kind']}.{r['id']}.{r['role']}"

    @property
    def kind(self) -> str:
        return str(self.raw["kind"])

    @property
    def rule_ids(self) -> list[str]:
        return [r["id"] for r in self.raw.get("rules") or [self.raw["rule"]]]

    def cite_of(self, rule_id: str) -> str:
        for r in self.raw.get("rules") or [self.raw["rule"]]:
            if r["id"] == rule_id:
                return str(r["cite"])
        raise KeyError(rule_id)

    @property
    def cite(self) -> str:
        return str(self.raw["rule"]["cite"])

    @property
    def due_by(self) -> str | None:
        return self.raw.get("due_by")

    @property
    def created_at(self) -> str:
        return str(self.raw["created_at"])

    @property
    def purpose(self) -> str:
        return str(self.raw["purpose"])

    @property
    def profile(self) -> str:
        return str(self.raw["profile"])

    @property
    def payload(self) -> dict[str, Any]:
        return dict(self.raw["payload"])

    @property
    def from_timer(self) -> bool:
        return self.raw.get("event_id") is None


@dataclass
class Result:
    notes: list[Note]
    episodes: list[dict[str, Any]]
    review_items: list[dict[str, Any]] = field(default_factory=list)

    def by_rule(self, rule_id: str) -> list[Note]:
        return [n for n in self.notes if rule_id in n.rule_ids]

    def to(self, recipient: str) -> list[Note]:
        return [n for n in self.notes if n.recipient == recipient]

    def recipients(self) -> set[str]:
        return {n.recipient for n in self.notes}


def run(*events: dict[str, Any], until: str | None = None, name: str = "area scenario") -> Result:
    """Run the events (in order) through `gateway simulate --json` with the shipped mappings."""
    scenario: dict[str, Any] = {"name": name, "events": list(events)}
    if until:
        scenario["until"] = until
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
        out = CliRunner().invoke(app, ["simulate", str(path), "--json", "--mappings", str(MAPPINGS)])
    assert out.exit_code == 0, f"gateway simulate failed ({out.exit_code}):\n{out.output}"
    doc = json.loads(out.stdout)
    return Result([Note(n) for n in doc["notifications"]], doc["episodes"], doc["review_items"])


def only(result: Result, rule_id: str, recipient: str | None = None) -> Note:
    """The one notification the rule asked for (to ``recipient`` when given); fails otherwise."""
    found = [n for n in result.by_rule(rule_id) if recipient is None or n.recipient == recipient]
    assert len(found) == 1, (
        f"expected one notification from {rule_id}"
        + (f" to {recipient}" if recipient else "")
        + f", got {len(found)}: {[(n.recipient, n.rule_ids, n.created_at) for n in result.notes]}"
    )
    return found[0]


def none_from(result: Result, rule_id: str) -> None:
    found = [(n.recipient, n.created_at) for n in result.by_rule(rule_id)]
    assert not found, f"{rule_id} must not fire here, but sent {found}"


def child(
    dob: str = "2011-05-01", *, la_code: str | None = None, local_id: str = "C1", nhs: str | None = None
) -> dict[str, Any]:
    """A child; the same ``la_code`` + ``local_id`` (or NHS number) across reports is the same child
    (repeat episodes are counted from that)."""
    out: dict[str, Any] = {"given_name": "Sam", "family_name": "Test", "date_of_birth": dob}
    ids: dict[str, Any] = {}
    if la_code:
        ids["la_ids"] = [{"la_code": la_code, "id": local_id}]
    if nhs:
        ids["nhs_number"] = nhs
    if ids:
        out["ids"] = ids
    return out


def event(
    event_type: str,
    at: str,
    *,
    record: str = "MP/26/0001",
    system: str = "compact",
    instance: str = "test-police",
    **groups: Any,
) -> dict[str, Any]:
    """One canonical event of a scenario; groups (child, episode, care, education, health,
    return_interview) are given as the canonical model spells them and override nothing else."""
    doc: dict[str, Any] = {
        "event_type": event_type,
        "occurred_at": at,
        "source": {"system": system, "instance": instance, "record_id": record},
    }
    doc.update({k: v for k, v in groups.items() if v is not None})
    return doc


def reported(
    at: str,
    *,
    responsible: str | None = None,
    host: str | None = None,
    force: str | None = None,
    risk: str = "medium",
    dob: str = "2011-05-01",
    last_seen: str | None = None,
    looked_after: bool | None = None,
    case_status: str | None = None,
    missing_from: str | None = None,
    factors: list[str] | None = None,
    school_urn: str | None = None,
    record: str = "MP/26/0001",
    care: dict[str, Any] | None = None,
    episode: dict[str, Any] | None = None,
    **groups: Any,
) -> dict[str, Any]:
    """A missing report: the common fields as keywords, anything else through care/episode/groups."""
    ep: dict[str, Any] = {
        "category": "missing",
        "risk_level": risk,
        "last_seen_at": last_seen or at,
        "reported_at": at,
    }
    if missing_from:
        ep["missing_from"] = missing_from
    if force:
        ep["police"] = {"force": force, "reference": record}
    if factors:
        ep["risk_factors"] = factors
    ep.update(episode or {})
    cr: dict[str, Any] = {}
    if responsible:
        cr["responsible_la"] = responsible
    if host:
        cr["host_la"] = host
    if looked_after is not None:
        cr["looked_after"] = looked_after
    if case_status:
        cr["case_status"] = case_status
    cr.update(care or {})
    if school_urn:
        groups.setdefault("education", {})["school_urn"] = school_urn
    return event(
        "reported",
        at,
        record=record,
        child=groups.pop("child", child(dob)),
        episode=ep,
        care=cr or None,
        **groups,
    )


def found(at: str, *, record: str = "MP/26/0001", **groups: Any) -> dict[str, Any]:
    ep = {"found_at": at}
    ep.update(groups.pop("episode", {}))
    return event("found", at, record=record, episode=ep, **groups)


def later(event_type: str, at: str, *, record: str = "MP/26/0001", **groups: Any) -> dict[str, Any]:
    """Any other event on the same record (updated, risk_changed, return_interview_*, closed...)."""
    return event(event_type, at, record=record, **groups)
