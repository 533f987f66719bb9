"""The Staffordshire & Stoke-on-Trent joint missing children protocol (seed 004), scenario by scenario.

Rule files: mappings/areas/staffordshire.yaml (the joint rules, Staffordshire 860),
stoke-on-trent.yaml (861: inherits them as stoke-on-trent.*, adds Stoke's own MIM chairs and return
interview inbox) and staffordshire-police.yaml (E23000015). Every expected instant below was worked out
by hand from the protocol paragraph in the test's docstring; Europe/London clocks go forward on
Sunday 29 March 2026 (01:00 UTC); Good Friday 3 April, Easter Monday 6 April and the early May bank
holiday 4 May 2026 are not working days.
"""

from __future__ import annotations

from typing import Any

from gateway.rules.loader import load_rulebook
from tests.areas.support import (
    KENT_POLICE,
    MAPPINGS,
    STAFFORDSHIRE_POLICE,
    Note,
    Result,
    child,
    found,
    later,
    none_from,
    only,
    reported,
    run,
)

STAFFS = "860"
STOKE = "861"
KENT = "886"
STAFFS_POLICE_TEAM = f"police.{STAFFORDSHIRE_POLICE}.police_missing_team"


def report(
    at: str,
    *,
    responsible: str | None = STAFFS,
    host: str | None = STAFFS,
    force: str | None = STAFFORDSHIRE_POLICE,
    case_status: str | None = "open",
    looked_after: bool | None = None,
    who: dict[str, Any] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """A report held by Staffordshire Police (unless told otherwise) of a child open to social care."""
    if who is not None:
        kw["child"] = who
    return reported(
        at,
        responsible=responsible,
        host=host,
        force=force,
        case_status=case_status,
        looked_after=looked_after,
        **kw,
    )


def rules_of(result: Result, prefix: str) -> list[Note]:
    return [n for n in result.notes if any(r.startswith(prefix) for r in n.rule_ids)]


def repeat_episodes(starts: list[str], *, who: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    """One episode per start (found two hours later, so no escalation timer runs), same child."""
    events: list[dict[str, Any]] = []
    for i, at in enumerate(starts, 1):
        record = f"MP/26/R{i:02d}"
        events.append(report(at, record=record, who=who, **kw))
        hour = int(at[11:13]) + 2
        events.append(found(f"{at[:11]}{hour:02d}{at[13:]}", record=record))
    return events


# ------------------------------------------------------------------------------------------ police


def test_the_police_database_notifies_both_councils_of_missing_and_found() -> None:
    """§9.1: the police database automatically notifies both councils; §20.5: in Staffordshire the
    Missing Officer, in Stoke-on-Trent CHAD (§9.4: all missing and found notifications)."""
    res = run(
        report("2026-03-02T10:00:00Z", last_seen="2026-03-02T09:00:00Z"),
        found("2026-03-02T15:00:00Z"),
        until="2026-03-02T16:00:00Z",
    )
    staffs = res.by_rule("staffordshire-police.notify-staffordshire")
    stoke = res.by_rule("staffordshire-police.notify-stoke-on-trent")
    assert [(n.recipient, n.created_at) for n in staffs] == [
        ("la.860.missing_coordinator", "2026-03-02T10:00:00Z"),
        ("la.860.missing_coordinator", "2026-03-02T15:00:00Z"),
    ]
    assert [(n.recipient, n.created_at) for n in stoke] == [
        ("la.861.front_door", "2026-03-02T10:00:00Z"),
        ("la.861.front_door", "2026-03-02T15:00:00Z"),
    ]
    assert staffs[0].cite_of("staffordshire-police.notify-staffordshire") == "§9.1; §20.5; §12.10"
    assert stoke[0].cite_of("staffordshire-police.notify-stoke-on-trent") == "§9.1; §9.4; §20.5; §12.10"
    # A Staffordshire child: Stoke-on-Trent gets the host-authority minimum, not the case file.
    assert stoke[0].profile == "la_host" and stoke[0].due_by is None
    assert "circumstances" not in stoke[0].payload.get("episode", {})


def test_another_forces_report_of_a_child_elsewhere_binds_none_of_these_rules() -> None:
    """The police file covers Staffordshire Police's reports; the councils' files their children."""
    res = run(
        report("2026-03-02T10:00:00Z", responsible=KENT, host=KENT, force=KENT_POLICE, risk="high"),
        until="2026-03-09T00:00:00Z",
    )
    for prefix in ("staffordshire-police.", "staffordshire.", "stoke-on-trent."):
        assert rules_of(res, prefix) == [], prefix


def test_no_apparent_risk_and_very_low_are_recorded_as_medium() -> None:
    """§6.1: High, Medium or Low only, and Low is not used on an initial report."""
    res = run(report("2026-03-02T10:00:00Z", risk="very_low"), until="2026-03-02T11:00:00Z")
    ep = res.episodes[0]
    assert ep["episode"]["risk_level"] == "medium"
    assert ep["risk_history"][0]["level"] == "very_low"
    assert any("staffordshire-police.no-lower-tiers (§6.1)" in d["problem"] for d in ep["data_quality"])


def test_low_is_kept_as_the_police_recorded_it() -> None:
    """§6.1 bars Low only on initial reports, which the engine cannot tell from reviews: kept."""
    res = run(report("2026-03-02T10:00:00Z", risk="low"), until="2026-03-02T11:00:00Z")
    assert res.episodes[0]["episode"]["risk_level"] == "low"
    assert res.episodes[0].get("data_quality") in (None, [])


def test_the_childs_social_worker_is_contacted_on_every_report() -> None:
    """§12.2: whenever a child is reported missing, the child's social worker must be contacted."""
    res = run(report("2026-03-02T10:00:00Z"), until="2026-03-02T11:00:00Z")
    n = only(res, "staffordshire-police.social-worker-contacted", "la.860.allocated_worker")
    assert n.cite == "§12.2" and n.created_at == "2026-03-02T10:00:00Z" and n.profile == "full"


def test_no_social_worker_notice_for_a_child_not_open_and_not_looked_after() -> None:
    res = run(
        report("2026-03-02T10:00:00Z", case_status="closed", looked_after=False), until="2026-03-02T11:00:00Z"
    )
    none_from(res, "staffordshire-police.social-worker-contacted")


def test_high_risk_children_and_the_missing_persons_bureau_are_told_immediately() -> None:
    """§6.1 High risk: children's services notified immediately if under 18; the MPB (read as the
    NCA UK Missing Persons Unit) without undue delay. A Kent child placed in Staffordshire: both
    councils' children's services."""
    res = run(
        report("2026-03-02T10:00:00Z", responsible=KENT, host=STAFFS, risk="high", looked_after=True),
        until="2026-03-02T11:00:00Z",
    )
    kent = only(res, "staffordshire-police.high-risk-childrens-services", "la.886.front_door")
    assert kent.created_at == "2026-03-02T10:00:00Z" and kent.due_by is None
    assert (
        kent.raw.get("urgency") == "immediate"
        and kent.cite_of("staffordshire-police.high-risk-childrens-services") == "§6.1"
    )
    host = only(res, "staffordshire-police.high-risk-host-authority", "la.860.front_door")
    assert host.cite_of("staffordshire-police.high-risk-host-authority") == "§6.1; §3.1"
    assert "national.host-la-out-of-area" in host.rule_ids
    mpb = only(res, "staffordshire-police.high-risk-mpb", "national.ukmpu.ukmpu")
    assert mpb.created_at == "2026-03-02T10:00:00Z" and mpb.profile == "police"


def test_risk_raised_to_high_later_is_notified_when_it_changes() -> None:
    res = run(
        report("2026-03-02T10:00:00Z"),
        later("risk_changed", "2026-03-02T13:30:00Z", episode={"risk_level": "high"}),
        until="2026-03-02T14:00:00Z",
    )
    n = only(res, "staffordshire-police.high-risk-childrens-services", "la.860.front_door")
    assert n.created_at == "2026-03-02T13:30:00Z"
    none_from(res, "staffordshire-police.high-risk-host-authority")  # not out of area


def test_high_risk_notice_is_for_under_18s_only() -> None:
    """§6.1 "if the person is under 18": 18 at last seen (born 2 March 2008) is not."""
    res = run(report("2026-03-02T10:00:00Z", risk="high", dob="2008-03-02"), until="2026-03-02T11:00:00Z")
    none_from(res, "staffordshire-police.high-risk-childrens-services")
    only(res, "staffordshire-police.high-risk-mpb", "national.ukmpu.ukmpu")


def test_medium_risk_is_not_a_high_risk_notice() -> None:
    res = run(report("2026-03-02T10:00:00Z", risk="medium"), until="2026-03-02T11:00:00Z")
    none_from(res, "staffordshire-police.high-risk-childrens-services")
    none_from(res, "staffordshire-police.high-risk-mpb")
    none_from(res, "staffordshire.high-risk-out-of-hours")


# ------------------------------------------------------------------ longer missing episodes (§14)


def test_escalation_ladder_and_three_day_reviews_for_a_staffordshire_child() -> None:
    """§14.1: 24 hours → line manager and District Operational Lead (head_of_service); 72 hours →
    Assistant Director; 5 days → DCS. §14.2-14.4: urgent care review at 3 days (police and social
    worker; minutes to the IRO). §13.23: MIM considered from the third day. Last seen Thursday
    26 March 12:00 GMT: 3 and 5 calendar days run through the clock change (12:00 BST = 11:00 UTC)."""
    res = run(
        report("2026-03-26T13:00:00Z", last_seen="2026-03-26T12:00:00Z", looked_after=True),
        until="2026-04-02T00:00:00Z",
    )
    expect = {
        ("staffordshire.escalate-24h-line-manager", "la.860.team_manager"): "2026-03-27T12:00:00Z",
        ("staffordshire.escalate-24h", "la.860.head_of_service"): "2026-03-27T12:00:00Z",
        ("staffordshire.escalate-72h", "la.860.assistant_director"): "2026-03-29T12:00:00Z",
        ("staffordshire.escalate-5d", "la.860.director"): "2026-03-31T11:00:00Z",
        ("staffordshire.urgent-care-review-iro", "la.860.iro"): "2026-03-29T11:00:00Z",
    }
    for (rule, to), at in expect.items():
        n = only(res, rule, to)
        assert n.created_at == at and n.from_timer, (rule, n.created_at)
        assert n.cite_of(rule).startswith("§14"), rule
    tasks = {
        ("staffordshire.urgent-care-review-3d", "la.860.allocated_worker"): "§14.2; §14.3",
        ("staffordshire-police.urgent-care-review-3d", STAFFS_POLICE_TEAM): "§14.2",
        ("staffordshire.mim-consider-3d", "la.860.team_manager"): "§13.23; §13.21",
    }
    for (rule, to), cite in tasks.items():
        t = only(res, rule, to)
        assert t.kind == "task" and t.cite_of(rule) == cite
        assert t.created_at == t.due_by == "2026-03-29T11:00:00Z", rule
    # Not high risk: no national alert; no school or health notices anywhere in this protocol.
    none_from(res, "staffordshire.national-alert-3d")
    assert not [
        n for n in rules_of(res, "staffordshire") if n.raw["recipient"]["kind"] in ("school", "health")
    ]
    # Not a child of Stoke-on-Trent: none of its rules apply.
    assert rules_of(res, "stoke-on-trent.") == []


def test_a_child_found_after_30_hours_stops_the_ladder() -> None:
    res = run(
        report("2026-03-02T10:00:00Z", last_seen="2026-03-02T09:00:00Z"),
        found("2026-03-03T15:00:00Z"),
        until="2026-03-09T00:00:00Z",
    )
    assert (
        only(res, "staffordshire.escalate-24h", "la.860.head_of_service").created_at == "2026-03-03T09:00:00Z"
    )
    for rule in (
        "staffordshire.escalate-72h",
        "staffordshire.escalate-5d",
        "staffordshire.urgent-care-review-3d",
        "staffordshire-police.urgent-care-review-3d",
        "staffordshire.mim-consider-3d",
    ):
        none_from(res, rule)


def test_line_manager_is_told_only_of_open_cases_and_a_child_not_open_is_opened_for_assessment() -> None:
    """§14.1 first sentence is for open cases; §20.5: not open and missing longer than 24 hours → open
    for an assessment. A police-only report (no care record) of a child living in Staffordshire."""
    res = run(
        report("2026-03-02T10:00:00Z", last_seen="2026-03-02T09:00:00Z", responsible=None, case_status=None),
        until="2026-03-03T12:00:00Z",
    )
    none_from(res, "staffordshire.escalate-24h-line-manager")
    t = only(res, "staffordshire.assessment-not-open-24h", "la.860.front_door")
    assert t.kind == "task" and t.created_at == t.due_by == "2026-03-03T09:00:00Z" and t.cite == "§20.5"
    assert (
        only(res, "staffordshire.escalate-24h", "la.860.head_of_service").created_at == "2026-03-03T09:00:00Z"
    )


def test_an_open_case_is_not_sent_for_assessment() -> None:
    res = run(report("2026-03-02T10:00:00Z", last_seen="2026-03-02T09:00:00Z"), until="2026-03-03T12:00:00Z")
    none_from(res, "staffordshire.assessment-not-open-24h")


def test_high_risk_vulnerable_child_missing_three_days_prompts_a_national_alert() -> None:
    """§21.1: missing "several days" (read as 3) and high risk with notable vulnerabilities."""
    res = run(
        report("2026-03-02T10:00:00Z", last_seen="2026-03-02T09:00:00Z", risk="high", factors=["cse"]),
        until="2026-03-06T00:00:00Z",
    )
    t = only(res, "staffordshire.national-alert-3d", "la.860.allocated_worker")
    assert t.created_at == t.due_by == "2026-03-05T09:00:00Z" and t.cite == "§21.1; §21.3"


def test_no_national_alert_for_a_high_risk_child_without_the_listed_vulnerabilities() -> None:
    res = run(
        report("2026-03-02T10:00:00Z", risk="high", factors=["substance_misuse"]),
        until="2026-03-06T00:00:00Z",
    )
    none_from(res, "staffordshire.national-alert-3d")


# ------------------------------------------------------------------------ Stoke-on-Trent (inherits)


def test_a_stoke_child_gets_the_same_duties_under_stoke_on_trent_ids() -> None:
    """§14.1 "In Stoke on Trent": 24 hours → Strategic Manager (head_of_service), 72 hours → AD,
    5 days → DCS; the joint rules reach Stoke-on-Trent's roles under stoke-on-trent.* ids."""
    res = run(
        report(
            "2026-03-02T10:00:00Z",
            last_seen="2026-03-02T09:00:00Z",
            responsible=STOKE,
            host=STOKE,
            looked_after=True,
        ),
        until="2026-03-08T00:00:00Z",
    )
    expect = {
        ("stoke-on-trent.escalate-24h-line-manager", "la.861.team_manager"): "2026-03-03T09:00:00Z",
        ("stoke-on-trent.escalate-24h", "la.861.head_of_service"): "2026-03-03T09:00:00Z",
        ("stoke-on-trent.escalate-72h", "la.861.assistant_director"): "2026-03-05T09:00:00Z",
        ("stoke-on-trent.escalate-5d", "la.861.director"): "2026-03-07T09:00:00Z",
        ("stoke-on-trent.urgent-care-review-3d", "la.861.allocated_worker"): "2026-03-05T09:00:00Z",
        ("stoke-on-trent.urgent-care-review-iro", "la.861.iro"): "2026-03-05T09:00:00Z",
    }
    for (rule, to), at in expect.items():
        n = only(res, rule, to)
        assert n.created_at == at and n.rule_ids == [rule], (rule, n.rule_ids)
    assert only(res, "stoke-on-trent.escalate-24h", "la.861.head_of_service").cite == "§14.1"
    assert rules_of(res, "staffordshire.") == []


def test_a_stoke_child_placed_in_staffordshire() -> None:
    """Stoke's duties as the responsible authority come once, from stoke-on-trent.* (not also from
    Staffordshire as host); Staffordshire's duties as the council where the child lives are its own:
    Catch22's return interview (§13.6, §18.4: for every child living in either council) and the
    police's notice to its Missing Officer (§9.1). §18.4's email to the placing authority is not
    between the joint councils, and Stoke's social worker hears of each episode (§17.2)."""
    res = run(
        report(
            "2026-03-02T10:00:00Z",
            last_seen="2026-03-02T09:00:00Z",
            responsible=STOKE,
            host=STAFFS,
            looked_after=True,
        ),
        found("2026-03-05T12:00:00Z"),
        until="2026-03-09T00:00:00Z",
    )
    for rule, to in (
        ("stoke-on-trent.escalate-24h", "la.861.head_of_service"),
        ("stoke-on-trent.escalate-72h", "la.861.assistant_director"),
        ("stoke-on-trent.urgent-care-review-3d", "la.861.allocated_worker"),
    ):
        assert only(res, rule, to).rule_ids == [rule]
    for rule in (
        "staffordshire.escalate-24h",
        "staffordshire.escalate-72h",
        "staffordshire.rhi-coordinator",
        "staffordshire.placed-in-reports-to-placing-la",
        "stoke-on-trent.rhi-catch22",
        "stoke-on-trent.rhi-placed-out-of-area",
        "staffordshire.mim-consider-3d",
    ):
        none_from(res, rule)
    c22 = only(res, "staffordshire.rhi-catch22", "provider.catch22-staffordshire.rhi_provider")
    assert c22.due_by == "2026-03-08T12:00:00Z" and c22.profile == "provider"
    rhi = only(res, "stoke-on-trent.rhi-coordinator", "la.861.missing_coordinator")
    assert rhi.due_by == "2026-03-08T12:00:00Z" and "national.return-interview" in rhi.rule_ids
    sw = res.by_rule("stoke-on-trent.placed-out-provider-to-social-worker")
    assert [(n.recipient, n.created_at) for n in sw] == [
        ("la.861.allocated_worker", "2026-03-02T10:00:00Z"),
        ("la.861.allocated_worker", "2026-03-05T12:00:00Z"),
    ]
    told = res.by_rule("staffordshire-police.notify-staffordshire")
    assert [n.recipient for n in told] == ["la.860.missing_coordinator"] * 2
    assert only(res, "staffordshire.found-to-mpit", STAFFS_POLICE_TEAM).created_at == "2026-03-05T12:00:00Z"


def test_stoke_chairs_the_3_and_5_in_90_meetings_of_its_child_placed_in_staffordshire() -> None:
    """§13.18-13.19 (Stoke): 3/90 → Team Manager; 5/90 → Service Manager; within five working days
    (§13.17) of the report that makes it the third / fifth. The Staffordshire chairs do not apply."""
    who = child(la_code=STOKE, local_id="S-77")
    starts = [
        "2026-03-02T10:00:00Z",
        "2026-03-09T10:00:00Z",
        "2026-03-16T10:00:00Z",
        "2026-03-23T10:00:00Z",
        "2026-04-01T09:00:00Z",
    ]
    res = run(
        *repeat_episodes(starts, who=who, responsible=STOKE, host=STAFFS, looked_after=True),
        until="2026-04-02T00:00:00Z",
    )
    m3 = only(res, "stoke-on-trent.mim-3-in-90-open-stoke-branch", "la.861.team_manager")
    assert m3.kind == "task" and m3.created_at == "2026-03-16T10:00:00Z"
    assert m3.due_by == "2026-03-23T23:59:59Z" and m3.cite == "§13.18 (Stoke); §13.17"
    m5 = only(res, "stoke-on-trent.mim-5-in-90-stoke-branch", "la.861.service_manager")
    # Wednesday 1 April: Good Friday and Easter Monday are skipped → Friday 10 April, end of day BST.
    assert m5.created_at == "2026-04-01T09:00:00Z" and m5.due_by == "2026-04-10T22:59:59Z"
    invites = [n.created_at for n in res.by_rule("stoke-on-trent.mim-police-invite")]
    assert invites == ["2026-03-16T10:00:00Z", "2026-04-01T09:00:00Z"]
    for rule in (
        "staffordshire.mim-3-in-90-open-staffs-branch",
        "staffordshire.mim-5-in-90-staffs-branch",
        "stoke-on-trent.mim-3-in-90-not-open-stoke-branch",
        "stoke-on-trent.mim-5-in-90-not-open-stoke-branch",
        "staffordshire.mim-police-invite",
    ):
        none_from(res, rule)


def test_stoke_chad_manager_chairs_for_a_child_not_open() -> None:
    """§13.18 (Stoke): "The CHAD manager will chair the 3/90 and the 5/90 where not open"; §13.19
    names the Service Manager for 5/90: both are tasked. A police-only record of a child living in
    Stoke-on-Trent."""
    who = child(la_code=STOKE, local_id="S-88")
    starts = [
        "2026-02-02T10:00:00Z",
        "2026-02-09T10:00:00Z",
        "2026-02-16T10:00:00Z",
        "2026-02-23T10:00:00Z",
        "2026-03-02T10:00:00Z",
    ]
    res = run(
        *repeat_episodes(starts, who=who, responsible=None, host=STOKE, case_status=None),
        until="2026-03-03T00:00:00Z",
    )
    chad = res.by_rule("stoke-on-trent.mim-3-in-90-not-open-stoke-branch") + res.by_rule(
        "stoke-on-trent.mim-5-in-90-not-open-stoke-branch"
    )
    assert [(n.recipient, n.created_at, n.due_by) for n in chad] == [
        ("la.861.front_door", "2026-02-16T10:00:00Z", "2026-02-23T23:59:59Z"),
        ("la.861.front_door", "2026-03-02T10:00:00Z", "2026-03-09T23:59:59Z"),
    ]
    assert (
        only(res, "stoke-on-trent.mim-5-in-90-stoke-branch", "la.861.service_manager").due_by
        == "2026-03-09T23:59:59Z"
    )
    none_from(res, "stoke-on-trent.mim-3-in-90-open-stoke-branch")


# ------------------------------------------------------------- missing intervention meetings (Staffs)


def test_staffordshire_meetings_at_3_5_and_9_episodes_in_90_days() -> None:
    """§13.18-13.20 (Staffordshire): 3/90 → allocated social worker; 5/90 → Team Manager; 9/90 →
    District Operational Lead (head_of_service); each within five working days (§13.17); the police
    are invited (§13.23). The 4th episode has no meeting. The 9th report falls on the early May bank
    holiday (Monday 4 May): five working days after it end on Monday 11 May."""
    who = child(la_code=STAFFS, local_id="ST-1")
    starts = [
        "2026-03-02T10:00:00Z",
        "2026-03-09T10:00:00Z",
        "2026-03-16T10:00:00Z",
        "2026-03-23T10:00:00Z",
        "2026-04-01T09:00:00Z",
        "2026-04-13T09:00:00Z",
        "2026-04-20T09:00:00Z",
        "2026-04-27T09:00:00Z",
        "2026-05-04T09:00:00Z",
    ]
    res = run(*repeat_episodes(starts, who=who, looked_after=True), until="2026-05-05T00:00:00Z")
    m3 = only(res, "staffordshire.mim-3-in-90-open-staffs-branch", "la.860.allocated_worker")
    assert (m3.created_at, m3.due_by) == ("2026-03-16T10:00:00Z", "2026-03-23T23:59:59Z")
    assert m3.cite == "§13.18 (Staffordshire); §13.17" and m3.kind == "task"
    m5 = only(res, "staffordshire.mim-5-in-90-staffs-branch", "la.860.team_manager")
    assert (m5.created_at, m5.due_by) == ("2026-04-01T09:00:00Z", "2026-04-10T22:59:59Z")
    m9 = only(res, "staffordshire.mim-9-in-90", "la.860.head_of_service")
    assert (m9.created_at, m9.due_by) == ("2026-05-04T09:00:00Z", "2026-05-11T22:59:59Z")
    invites = res.by_rule("staffordshire.mim-police-invite")
    assert [(n.recipient, n.created_at, n.due_by) for n in invites] == [
        (STAFFS_POLICE_TEAM, "2026-03-16T10:00:00Z", "2026-03-23T23:59:59Z"),
        (STAFFS_POLICE_TEAM, "2026-04-01T09:00:00Z", "2026-04-10T22:59:59Z"),
        (STAFFS_POLICE_TEAM, "2026-05-04T09:00:00Z", "2026-05-11T22:59:59Z"),
    ]
    mims = [n.created_at for n in res.notes if any("mim-" in r and "invite" not in r for r in n.rule_ids)]
    assert "2026-03-23T10:00:00Z" not in mims  # the 4th episode
    assert rules_of(res, "stoke-on-trent.") == []


def test_staffordshire_meeting_offered_through_the_family_practitioner_lead_when_not_open() -> None:
    """§13.18 (Staffordshire): not open to a social worker or family practitioner → offered to the
    family via the district Family Practitioner Lead (team_manager)."""
    who = child(la_code=STAFFS, local_id="ST-2")
    starts = ["2026-03-02T10:00:00Z", "2026-03-09T10:00:00Z", "2026-03-16T10:00:00Z"]
    res = run(*repeat_episodes(starts, who=who, case_status="closed"), until="2026-03-17T00:00:00Z")
    t = only(res, "staffordshire.mim-3-in-90-not-open-staffs-branch", "la.860.team_manager")
    assert t.due_by == "2026-03-23T23:59:59Z"
    none_from(res, "staffordshire.mim-3-in-90-open-staffs-branch")


# ---------------------------------------------------------------------------- return interviews


def test_catch22_carries_out_the_return_interview_within_72_hours_of_being_found() -> None:
    """§13.6 Catch22 conducts all return interviews in both councils; §13.9 "carried out within 72
    hours of the child being located"; the council's coordinator task carries the local cite."""
    res = run(
        report("2026-03-02T10:00:00Z"),
        found("2026-03-03T15:00:00Z"),
        until="2026-03-03T16:00:00Z",
    )
    c = only(res, "staffordshire.rhi-catch22", "provider.catch22-staffordshire.rhi_provider")
    assert c.kind == "task" and c.due_by == "2026-03-06T15:00:00Z" and c.cite == "§13.6; §13.9; §18.4"
    assert c.profile == "provider" and "circumstances" not in c.payload.get("episode", {})
    coord = only(res, "staffordshire.rhi-coordinator", "la.860.missing_coordinator")
    assert (
        coord.due_by == "2026-03-06T15:00:00Z"
        and coord.cite_of("staffordshire.rhi-coordinator") == "§13.9; §9.2"
    )
    assert set(coord.rule_ids) == {"national.return-interview", "staffordshire.rhi-coordinator"}
    assert only(res, "staffordshire.found-to-mpit", STAFFS_POLICE_TEAM).cite == "§13.1; §10.5"


def test_completed_return_interviews_go_to_each_councils_inbox() -> None:
    """§13.10 Staffordshire: to missingchildren@ (the Missing Process Officer); §13.12 Stoke: to CHAD
    and, when open, the social worker."""
    done = {"completed_at": "2026-03-05T11:00:00Z", "provider": "Catch22"}
    staffs = run(
        report("2026-03-02T10:00:00Z"),
        found("2026-03-03T15:00:00Z"),
        later("return_interview_completed", "2026-03-05T11:00:00Z", return_interview=done),
        until="2026-03-05T12:00:00Z",
    )
    n = only(staffs, "staffordshire.rhi-completed-staffs-branch", "la.860.missing_coordinator")
    assert n.created_at == "2026-03-05T11:00:00Z" and n.cite == "§13.10 (Staffordshire)"
    none_from(staffs, "stoke-on-trent.rhi-completed-stoke-branch")
    stoke = run(
        report("2026-03-02T10:00:00Z", responsible=STOKE, host=STOKE),
        found("2026-03-03T15:00:00Z"),
        later("return_interview_completed", "2026-03-05T11:00:00Z", return_interview=done),
        until="2026-03-05T12:00:00Z",
    )
    chad = only(stoke, "stoke-on-trent.rhi-completed-stoke-branch", "la.861.front_door")
    assert chad.created_at == "2026-03-05T11:00:00Z" and "national.responsible-la-front-door" in chad.rule_ids
    only(stoke, "stoke-on-trent.rhi-completed-social-worker-stoke-branch", "la.861.allocated_worker")


# ------------------------------------------------------------------------ out-of-area placements


def test_a_kent_child_placed_in_staffordshire() -> None:
    """§3.4: other authorities' children placed here follow this protocol (escalation to Kent's
    roles); §18.4: the police missing and found reports go to the placing authority; Catch22 does
    the return interview."""
    res = run(
        report(
            "2026-03-02T10:00:00Z",
            last_seen="2026-03-02T09:00:00Z",
            responsible=KENT,
            host=STAFFS,
            looked_after=True,
        ),
        found("2026-03-03T15:00:00Z"),
        until="2026-03-04T00:00:00Z",
    )
    sent = res.by_rule("staffordshire.placed-in-reports-to-placing-la")
    assert [(n.recipient, n.created_at) for n in sent] == [
        ("la.886.front_door", "2026-03-02T10:00:00Z"),
        ("la.886.front_door", "2026-03-03T15:00:00Z"),
    ]
    assert sent[0].cite_of("staffordshire.placed-in-reports-to-placing-la") == "§18.4"
    assert (
        only(res, "staffordshire.escalate-24h", "la.886.head_of_service").created_at == "2026-03-03T09:00:00Z"
    )
    assert (
        only(res, "staffordshire.rhi-catch22", "provider.catch22-staffordshire.rhi_provider").due_by
        == "2026-03-06T15:00:00Z"
    )
    none_from(res, "staffordshire.placed-out-provider-to-social-worker")


def test_a_staffordshire_child_placed_in_kent() -> None:
    """§3.3 and §17.2: every episode reaches the case-holding social worker; §13.7: the allocated
    social worker makes sure the return interview is done within 72 hours (Catch22 does not work in
    Kent). Kent Police hold the report: no Staffordshire Police rule; no MPIT notice."""
    res = run(
        report("2026-03-02T10:00:00Z", responsible=STAFFS, host=KENT, force=KENT_POLICE, looked_after=True),
        found("2026-03-02T20:00:00Z"),
        until="2026-03-03T00:00:00Z",
    )
    sw = res.by_rule("staffordshire.placed-out-provider-to-social-worker")
    assert [(n.recipient, n.created_at) for n in sw] == [
        ("la.860.allocated_worker", "2026-03-02T10:00:00Z"),
        ("la.860.allocated_worker", "2026-03-02T20:00:00Z"),
    ]
    t = only(res, "staffordshire.rhi-placed-out-of-area", "la.860.allocated_worker")
    assert t.kind == "task" and t.due_by == "2026-03-05T20:00:00Z" and t.cite == "§13.7; §17.1; §17.3"
    for rule in (
        "staffordshire.rhi-catch22",
        "staffordshire.found-to-mpit",
        "staffordshire.placed-in-reports-to-placing-la",
    ):
        none_from(res, rule)
    assert rules_of(res, "staffordshire-police.") == []


# ------------------------------------------------------------------- child protection, out of hours


def test_high_risk_out_of_hours_goes_to_the_emergency_duty_service() -> None:
    """§20.2 (Staffordshire EDS) / §20.3 (Stoke-on-Trent EDT) out of hours; Monday 18:30 GMT."""
    res = run(report("2026-03-02T18:30:00Z", risk="high"), until="2026-03-02T19:00:00Z")
    n = only(res, "staffordshire.high-risk-out-of-hours", "la.860.edt")
    assert (
        n.created_at == "2026-03-02T18:30:00Z" and n.profile == "la_host" and n.cite == "§20.2; §20.3; §6.1"
    )
    stoke = run(
        report("2026-03-07T11:00:00Z", risk="high", responsible=STOKE, host=STOKE),  # a Saturday
        until="2026-03-07T12:00:00Z",
    )
    only(stoke, "stoke-on-trent.high-risk-out-of-hours", "la.861.edt")


def test_high_risk_in_office_hours_goes_to_the_front_door_not_the_duty_service() -> None:
    res = run(report("2026-03-02T10:00:00Z", risk="high"), until="2026-03-02T11:00:00Z")
    none_from(res, "staffordshire.high-risk-out-of-hours")
    only(res, "staffordshire-police.high-risk-childrens-services", "la.860.front_door")


def test_harm_disclosed_on_return_refers_to_the_host_authority_and_tells_the_police() -> None:
    """§19.1: victim of crime or at risk on return → the police informed and a parallel s47 referral;
    §19.3: child protection enquiries rest with the host authority (Staffordshire, for a Kent child)."""
    res = run(
        report("2026-03-02T10:00:00Z", responsible=KENT, host=STAFFS, looked_after=True),
        found("2026-03-03T15:00:00Z", episode={"harm_disclosed": True}),
        until="2026-03-03T16:00:00Z",
    )
    t = only(res, "staffordshire.harm-on-return", "la.860.front_door")
    assert t.kind == "task" and t.due_by == "2026-03-03T15:00:00Z" and t.profile == "la_host"
    assert t.cite == "§19.1; §19.3"
    assert only(res, "staffordshire.harm-on-return", STAFFS_POLICE_TEAM).created_at == "2026-03-03T15:00:00Z"


def test_no_referral_when_no_harm_is_disclosed() -> None:
    res = run(
        report("2026-03-02T10:00:00Z"),
        found("2026-03-03T15:00:00Z", episode={"harm_disclosed": False}),
        until="2026-03-03T16:00:00Z",
    )
    none_from(res, "staffordshire.harm-on-return")


# ---------------------------------------------------------------------------- trafficking and UASC


def test_trafficking_suspected_is_reported_at_once() -> None:
    """§23.3: immediately report to the police that trafficking is suspected, request a s47 strategy
    discussion (§10.4: through the MASH), notify the missing persons unit."""
    res = run(report("2026-03-02T10:00:00Z", factors=["trafficking"]), until="2026-03-02T11:00:00Z")
    t = only(res, "staffordshire.trafficking-immediate", "la.860.allocated_worker")
    assert t.kind == "task" and t.due_by == "2026-03-02T10:00:00Z" and t.cite == "§23.3; §10.4"
    u = only(res, "staffordshire.trafficking-missing-persons-unit", "national.ukmpu.ukmpu")
    assert u.created_at == "2026-03-02T10:00:00Z" and u.profile == "police"


def test_no_trafficking_duty_without_the_risk_factor() -> None:
    res = run(report("2026-03-02T10:00:00Z", factors=["cse"]), until="2026-03-02T11:00:00Z")
    none_from(res, "staffordshire.trafficking-immediate")
    none_from(res, "staffordshire.trafficking-missing-persons-unit")


def test_long_term_missing_uasc_reviewed_six_monthly_by_the_head_of_service() -> None:
    """§23.3: 6-monthly review meetings chaired by the head of service, IRO service represented.
    Last seen Monday 5 January 10:00 GMT; 181 days → Sunday 5 July 10:00 BST (09:00 UTC)."""
    res = run(
        report("2026-01-05T10:00:00Z", factors=["uasc"], looked_after=True),
        until="2026-07-06T00:00:00Z",
    )
    t = only(res, "staffordshire.uasc-6-monthly-review", "la.860.head_of_service")
    assert t.kind == "task" and t.created_at == t.due_by == "2026-07-05T09:00:00Z" and t.cite == "§23.3"
    assert only(res, "staffordshire.uasc-6-monthly-review", "la.860.iro").created_at == "2026-07-05T09:00:00Z"


def test_no_uasc_review_for_a_child_found_before_six_months() -> None:
    res = run(
        report("2026-01-05T10:00:00Z", factors=["uasc"], looked_after=True),
        found("2026-06-01T10:00:00Z"),
        until="2026-07-06T00:00:00Z",
    )
    none_from(res, "staffordshire.uasc-6-monthly-review")


def test_stoke_on_trent_does_not_inherit_staffordshire_s_own_chairs_and_inbox() -> None:
    """§13.10, §13.18, §13.19 name Staffordshire's chairs and inbox; Stoke-on-Trent's are its own."""
    book = load_rulebook(MAPPINGS)
    stoke = {r.id for r in book.rules.values() if r.area == "stoke-on-trent"}
    assert "stoke-on-trent.escalate-72h" in stoke  # a joint rule, inherited
    assert not [i for i in stoke if i.endswith("-staffs-branch")]
    assert {i for i in book.rules if i.startswith("staffordshire.") and i.endswith("-staffs-branch")} == {
        "staffordshire.mim-3-in-90-open-staffs-branch",
        "staffordshire.mim-3-in-90-not-open-staffs-branch",
        "staffordshire.mim-5-in-90-staffs-branch",
        "staffordshire.rhi-completed-staffs-branch",
    }
