"""Joint protocols: a council's file may `inherits:` another council's rules (Derby and Derbyshire,
Staffordshire and Stoke-on-Trent share one protocol each), under its own ids and authorities."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.rules.explain import explain
from gateway.rules.loader import RuleFileError, load_rulebook
from tests.rulesupport import PLACED, episode_of, event, mappings, utc

JOINT = """
area: joint
name: "A joint protocol"
authorities: ["860"]
lawful_basis: "Children Act 1989 s47"
rules:
  - id: joint.placed-here
    cite: "§3.1"
    on: [reported]
    when: {placed_in_area: true}
    notify: {kind: la, id: care.host_la, role: edt, profile: la_host}
  - id: joint.escalate-24h
    cite: "§14.1"
    after: {hours: 24, since: last_seen_at}
    while: {status: open}
    notify: {kind: la, id: care.responsible_la, role: service_manager, profile: full}
"""

PARTNER = """
area: partner
name: "The same protocol, for the other council"
authorities: ["861"]
inherits: joint
rules:
  - id: partner.own-provider
    cite: "§9.2"
    lawful_basis: "Children Act 1989 s17"
    on: [found]
    notify: {kind: provider, id: partner-rhi, role: rhi_provider, profile: provider}
"""


def test_the_inheriting_file_gets_every_rule_under_its_own_ids(tmp_path: Path) -> None:
    book = load_rulebook(mappings(tmp_path, yaml={"joint": JOINT, "partner": PARTNER}))
    partner = next(f for f in book.files if f.area == "partner")
    assert [r.id for r in partner.rules] == [
        "partner.placed-here",
        "partner.escalate-24h",
        "partner.own-provider",
    ]
    inherited = book.rules["partner.escalate-24h"]
    assert inherited.rule.cite == "§14.1"
    # The file-level lawful basis comes from the joint file unless the council gives its own.
    assert inherited.lawful_basis == "Children Act 1989 s47"
    assert book.rules["partner.own-provider"].lawful_basis == "Children Act 1989 s17"
    # The joint file itself is unchanged.
    assert [r.id for r in next(f for f in book.files if f.area == "joint").rules] == [
        "joint.placed-here",
        "joint.escalate-24h",
    ]


def test_inherited_conditions_read_relative_to_the_inheriting_council(tmp_path: Path) -> None:
    book = load_rulebook(mappings(tmp_path, yaml={"joint": JOINT, "partner": PARTNER}))
    # A child of 886 placed in 861 (the partner council): the partner file applies and its copy of the
    # rule fires; the joint file (860) does not apply at all.
    placed = {**PLACED, "care": {**PLACED["care"], "host_la": "861"}}
    ev = event("reported", occurred_at="2026-03-02T09:00:00Z", **placed)
    result = explain(book, episode_of(ev), ev, utc("2026-03-02T09:00:00Z"))
    fired = {v.rule.id for v in result.verdicts if v.applies and v.fires}
    assert "partner.placed-here" in fired
    assert "joint.placed-here" not in fired


@pytest.mark.parametrize(
    ("partner", "problem"),
    [
        (PARTNER.replace("inherits: joint", "inherits: nowhere"), "no area file declares 'nowhere'"),
        (PARTNER.replace("inherits: joint", "inherits: partner"), "not national, not itself"),
        (PARTNER.replace("inherits: joint", "inherits: national"), "not national, not itself"),
    ],
)
def test_a_bad_inherits_is_refused_naming_the_file(tmp_path: Path, partner: str, problem: str) -> None:
    with pytest.raises(RuleFileError) as info:
        load_rulebook(mappings(tmp_path, yaml={"joint": JOINT, "partner": partner}))
    text = str(info.value)
    assert "partner.yaml" in text and problem in text


def test_inheritance_is_one_level(tmp_path: Path) -> None:
    third = PARTNER.replace("area: partner", "area: third").replace("inherits: joint", "inherits: partner")
    third = third.replace('["861"]', '["937"]').replace("partner.own-provider", "third.own-provider")
    with pytest.raises(RuleFileError) as info:
        load_rulebook(mappings(tmp_path, yaml={"joint": JOINT, "partner": PARTNER, "third": third}))
    assert "'partner' inherits in turn" in str(info.value)


def test_inherits_except_leaves_named_rules_out(tmp_path: Path) -> None:
    partner = PARTNER.replace("inherits: joint", "inherits: joint\ninherits_except: [joint.placed-here]")
    book = load_rulebook(mappings(tmp_path, yaml={"joint": JOINT, "partner": partner}))
    assert "partner.placed-here" not in book.rules
    assert "partner.escalate-24h" in book.rules and "joint.placed-here" in book.rules


def test_inherits_except_must_name_rules_of_the_inherited_file(tmp_path: Path) -> None:
    partner = PARTNER.replace("inherits: joint", "inherits: joint\ninherits_except: [joint.no-such-rule]")
    with pytest.raises(RuleFileError) as info:
        load_rulebook(mappings(tmp_path, yaml={"joint": JOINT, "partner": partner}))
    assert "['joint.no-such-rule'] are not rules of 'joint'" in str(info.value)
