"""``gateway simulate`` (CANONICAL.md §4), ``gateway rules check`` and ``gateway rules explain``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
import yaml
from typer.testing import CliRunner

from gateway.cli_rules import rules_app, simulate_command, timers_app
from gateway.rules.loader import load_rulebook
from gateway.settings import REPO_ROOT
from gateway.simulate import EXAMPLE_SCENARIO, Scenario, simulate
from tests.rulesupport import PROTOCOLS, mappings

CANONICAL_EXAMPLE = EXAMPLE_SCENARIO  # the example of contracts/CANONICAL.md §4


def app() -> typer.Typer:
    """How gateway/cli.py mounts these commands (see the module docstring of gateway.cli_rules)."""
    main = typer.Typer()
    main.add_typer(rules_app, name="rules")
    main.add_typer(timers_app, name="timers")
    main.command("simulate")(simulate_command)
    return main


def summary(notes: list[dict]) -> list[tuple]:
    return [
        (
            f"{n['recipient']['kind']}.{n['recipient']['id']}.{n['recipient']['role']}",
            n["kind"],
            tuple(r["id"] for r in n["rules"]),
            n.get("due_by"),
            "timer" if n["event_id"] is None else "event",
        )
        for n in notes
    ]


def test_the_canonical_example_under_the_shipped_rules() -> None:
    result = simulate(Scenario.model_validate(yaml.safe_load(CANONICAL_EXAMPLE)))
    got = summary(result.notifications)
    # The baseline: Kent (responsible) and Staffordshire (host) told of the report and of the return,
    # and Kent's return-interview task due 72 hours after the child was found.
    national = [
        (key, kind, tuple(r for r in rules if r.startswith("national.")), due, cause)
        for key, kind, rules, due, cause in got
        if any(r.startswith("national.") for r in rules)
    ]
    assert national == [
        ("la.886.front_door", "notify", ("national.responsible-la-front-door",), None, "event"),
        ("la.860.front_door", "notify", ("national.host-la-out-of-area",), None, "event"),
        ("la.886.front_door", "notify", ("national.responsible-la-front-door",), None, "event"),
        ("la.860.front_door", "notify", ("national.host-la-out-of-area",), None, "event"),
        (
            "la.886.missing_coordinator",
            "task",
            ("national.return-interview",),
            "2026-03-06T15:00:00Z",
            "event",
        ),
    ]
    # The two councils' protocols add their own duties (mappings/areas/kent.yaml, staffordshire.yaml):
    # Staffordshire's escalation of a missing child it hosts, and Catch22's return interview there.
    areas = {r.split(".")[0] for _, _, rules, _, _ in got for r in rules}
    assert {"national", "kent", "staffordshire"} <= areas
    assert ("provider.catch22-staffordshire.rhi_provider", "task", ("staffordshire.rhi-catch22",),
            "2026-03-06T15:00:00Z", "event") in got
    # Found after 30 hours: the 72-hour UKMPU timer was cancelled, so nothing went to the NCA.
    assert not [n for n in got if n[0].startswith("national.ukmpu")]
    assert [e["status"] for e in result.episodes] == ["found"]
    assert set(result.to_json()) == {"notifications", "episodes", "review_items"}
    assert result.review_items == []


def test_a_child_still_missing_escalates_at_the_right_virtual_times(tmp_path: Path) -> None:
    scenario = Scenario.model_validate(
        yaml.safe_load(CANONICAL_EXAMPLE.replace("2026-03-03T15:00:00Z", "2026-03-09T10:00:00Z"))
    )
    result = simulate(scenario, rulebook=load_rulebook(mappings(tmp_path, "staffordshire")))
    timed = [
        (n["created_at"], n["recipient"]["role"], n["rules"][0]["id"])
        for n in result.notifications
        if n["event_id"] is None
    ]
    assert timed == [
        ("2026-03-03T08:30:00Z", "service_manager", "staffordshire.escalate-24h"),
        ("2026-03-05T08:30:00Z", "ukmpu", "national.ukmpu-72h"),
        ("2026-03-05T08:30:00Z", "assistant_director", "staffordshire.escalate-72h"),
        ("2026-03-07T08:30:00Z", "director", "staffordshire.escalate-5d"),
    ]
    host = [
        n
        for n in result.notifications
        if n["recipient"]["role"] == "missing_coordinator" and n["kind"] == "notify"
    ]
    assert [n["rules"][0]["id"] for n in host] == ["staffordshire.police-notifies-la"] * 2  # reported, found


def test_cli_simulate_json_prints_exactly_the_contract(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(CANONICAL_EXAMPLE, encoding="utf-8")
    result = CliRunner().invoke(
        app(), ["simulate", str(path), "--json", "--mappings", str(REPO_ROOT / "mappings")]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"notifications", "episodes", "review_items"}
    assert [n["created_at"] for n in doc["notifications"]] == sorted(
        n["created_at"] for n in doc["notifications"]
    )
    assert all(n["rule"]["cite"] for n in doc["notifications"])
    table = CliRunner(env={"COLUMNS": "240"}).invoke(
        app(), ["simulate", str(path), "--mappings", str(REPO_ROOT / "mappings")]
    )
    assert table.exit_code == 0 and "national.return-interview" in table.stdout


def test_cli_rules_check(tmp_path: Path) -> None:
    ok = CliRunner(env={"COLUMNS": "240"}).invoke(
        app(), ["rules", "check", "--mappings", str(REPO_ROOT / "mappings")]
    )
    assert ok.exit_code == 0, ok.output
    assert "national.ukmpu-72h" in ok.stdout and "OK" in ok.stdout
    bad = mappings(
        tmp_path,
        yaml={
            "broken": """
        area: broken
        name: x
        authorities: ["937"]
        lawful_basis: y
        rules:
          - id: broken.rule
            cite: "§1"
            on: [reported]
            notify: {kind: la, id: care.host_la, role: front_door, profile: nope}
    """
        },
    )
    failed = CliRunner().invoke(app(), ["rules", "check", "--mappings", str(bad)])
    assert failed.exit_code == 1
    assert "broken.yaml: rule broken.rule: field notify[0].profile" in failed.output.replace("\n", "")


def test_cli_rules_explain_says_why_and_why_not(tmp_path: Path) -> None:
    root = mappings(tmp_path, "staffordshire", "warwickshire")
    example = REPO_ROOT / "examples" / "canonical-event.json"
    result = CliRunner().invoke(
        app(),
        ["rules", "explain", str(example), "--at", "2026-03-07T00:00:00Z", "--json", "--mappings", str(root)],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    rules = {r["id"]: r for r in doc["rules"]}
    assert rules["national.host-la-out-of-area"]["fires"]
    assert rules["national.return-interview"]["outcome"] == "not triggered by this event"
    assert rules["warwickshire.school-missing"]["outcome"] == "area does not apply to this episode"
    assert rules["staffordshire.police-notifies-la"]["fires"]  # Kent's child placed in Staffordshire
    assert rules["national.ukmpu-72h"]["outcome"].startswith("due since 2026-03-06T19:30:00")
    assert {a["area"] for a in doc["areas"]} == {"national", "staffordshire"}
    keys = {n["recipient"]["role"] for n in doc["notifications"]}
    assert {"front_door", "missing_coordinator", "ukmpu", "service_manager", "assistant_director"} <= keys
    assert "director" not in keys  # five days after last seen is 8 March
    assert rules["staffordshire.escalate-5d"]["outcome"] == "timer armed, due 2026-03-08T19:30:00+00:00"
    human = CliRunner().invoke(app(), ["rules", "explain", str(example), "--mappings", str(root)])
    assert human.exit_code == 0 and ("✗" in human.stdout or "✓" in human.stdout)


def test_explain_an_episode_document(tmp_path: Path) -> None:
    scenario = Scenario.model_validate(yaml.safe_load(CANONICAL_EXAMPLE))
    episode = simulate(scenario).episodes[0]
    path = tmp_path / "episode.json"
    path.write_text(json.dumps(episode), encoding="utf-8")
    result = CliRunner().invoke(
        app(),
        [
            "rules",
            "explain",
            str(path),
            "--json",
            "--at",
            "2026-03-08T00:00:00Z",
            "--mappings",
            str(REPO_ROOT / "mappings"),
        ],
    )
    assert result.exit_code == 0, result.output
    rules = {r["id"]: r for r in json.loads(result.stdout)["rules"]}
    assert "conditions do not hold" in rules["national.ukmpu-72h"]["outcome"]  # found: status is not open
    assert [c["detail"] for c in rules["national.ukmpu-72h"]["checks"] if not c["ok"]] == [
        "status is found; rule wants [open]"
    ]


def test_the_example_protocols_run_under_simulate(tmp_path: Path) -> None:
    root = mappings(tmp_path, "warwickshire", calendars=[PROTOCOLS / "calendars" / "warwickshire.yaml"])
    scenario = Scenario.model_validate(
        yaml.safe_load("""
        name: Warwickshire child, graded low, found on Saturday
        until: 2026-03-12T00:00:00Z
        events:
          - event_type: reported
            occurred_at: 2026-03-06T18:00:00Z
            source: {system: compact, instance: warwickshire-police, record_id: "W/1"}
            child: {given_name: Ali, family_name: Test, date_of_birth: 2014-09-01}
            episode: {category: missing, missing_from: home, risk_level: low,
                      last_seen_at: 2026-03-06T16:00:00Z, police: {force: E23000017, reference: "W/1"}}
            care: {responsible_la: "937", host_la: "937", case_status: open}
            education: {school_urn: "125678"}
          - event_type: found
            occurred_at: 2026-03-07T11:00:00Z
            source: {system: compact, instance: warwickshire-police, record_id: "W/1"}
    """)
    )
    result = simulate(scenario, rulebook=load_rulebook(root))
    school = [n for n in result.notifications if n["recipient"]["kind"] == "school"]
    assert [(n["created_at"], n["due_by"], n["urgency"]) for n in school] == [
        ("2026-03-09T07:00:00Z", "2026-03-09T08:00:00Z", "digest")
    ]
    [episode] = result.episodes
    assert episode["episode"]["risk_level"] == "medium"
    assert any(q["field"] == "episode.risk_level" for q in episode["data_quality"])
