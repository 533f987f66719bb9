"""Kent County Council's "Responding to Children who are Missing" (mappings/areas/kent.yaml) and Kent
Police's part in it (mappings/areas/kent-police.yaml), scenario by scenario through `gateway simulate`.

The procedure is Kent's (886) alone: Kent Police also polices Medway (887), and a Medway child must not
be touched by it. Cites: § = the procedure's sections; L = the line of shared/seeds/kent-002_*.txt.
March 2026 is GMT until Sunday 29 March, BST (UTC+1) after.
"""

from __future__ import annotations

from typing import Any

from gateway.delivery.directory import load_directory
from gateway.rules.loader import load_rulebook
from tests.areas.support import KENT_POLICE, MAPPINGS, found, later, none_from, only, reported, run

KENT, MEDWAY, STAFFORDSHIRE = "886", "887", "860"
MON_10 = "2026-03-02T10:00:00Z"  # Monday 2 March 2026, 10:00 GMT: office hours
MON_0800 = "2026-03-02T08:00:00Z"
KENT_RULES = ("kent.", "kent-police.")


def kent_notes(result: Any) -> list[tuple[str, list[str]]]:
    return [
        (n.recipient, n.rule_ids) for n in result.notes if any(i.startswith(KENT_RULES) for i in n.rule_ids)
    ]


# --- the Front Door and the scope of the procedure (§3, §4.4, §4.7, §5) --------------------------------


def test_every_missing_and_found_notice_reaches_the_front_door_missing_coordinators() -> None:
    r = run(
        reported(MON_10, responsible=KENT, host=KENT, force=KENT_POLICE, case_status="open"),
        later("risk_changed", "2026-03-02T12:00:00Z", episode={"risk_level": "high"}),
        found("2026-03-02T16:00:00Z"),
    )
    notes = r.by_rule("kent.front-door-coordinator")
    assert [(n.recipient, n.created_at) for n in notes] == [
        ("la.886.missing_coordinator", MON_10),
        ("la.886.missing_coordinator", "2026-03-02T12:00:00Z"),
        ("la.886.missing_coordinator", "2026-03-02T16:00:00Z"),
    ]
    assert notes[0].cite == "§3 (L51); §4.4 (L105)" and notes[0].profile == "full"
    # Kent Police's updates (§4.7) are the same notices: one per event, full record for Kent's own child.
    updates = r.by_rule("kent-police.updates-to-scs")
    assert [n.created_at for n in updates] == ["2026-03-02T12:00:00Z", "2026-03-02T16:00:00Z"]
    assert all("full" in n.profile for n in updates)
    assert updates[0].cite_of("kent-police.updates-to-scs") == "§4.7 (L173)"


def test_a_child_placed_in_kent_by_medway_is_told_to_kent_with_the_host_view() -> None:
    r = run(
        reported(MON_10, responsible=MEDWAY, host=KENT, force=KENT_POLICE, looked_after=True),
        found("2026-03-02T16:00:00Z"),
    )
    notes = r.by_rule("kent.front-door-coordinator-placed-in")
    assert [(n.recipient, n.profile) for n in notes] == [("la.886.missing_coordinator", "la_host")] * 2
    assert "circumstances" not in str(notes[0].payload.get("episode", {}))
    none_from(r, "kent.front-door-coordinator")
    assert [n.recipient for n in r.by_rule("kent.iro")] == ["la.887.iro"] * 2  # §5: Kent's procedure applies


def test_a_medway_child_reported_by_kent_police_is_outside_the_kent_procedure() -> None:
    r = run(
        reported(
            MON_10,
            responsible=MEDWAY,
            host=MEDWAY,
            force=KENT_POLICE,
            looked_after=True,
            risk="high",
            factors=["uasc"],
        ),
        found("2026-03-05T16:00:00Z", episode={"harm_disclosed": True}),
        later("return_interview_completed", "2026-03-06T10:00:00Z"),
        until="2026-03-07T00:00:00Z",
    )
    assert kent_notes(r) == []
    police_only = run(reported(MON_10, host=MEDWAY, force=KENT_POLICE), found("2026-03-02T16:00:00Z"))
    assert kent_notes(police_only) == []


def test_kent_police_update_a_kent_child_placed_in_medway() -> None:
    r = run(
        reported(MON_10, responsible=KENT, host=MEDWAY, force=KENT_POLICE, looked_after=True),
        found("2026-03-02T16:00:00Z"),
    )
    assert only(r, "kent-police.updates-to-scs").recipient == "la.886.missing_coordinator"
    assert [n.created_at for n in r.by_rule("kent.front-door-coordinator")] == [
        MON_10,
        "2026-03-02T16:00:00Z",
    ]


def test_the_iro_is_told_when_a_looked_after_child_is_missing_and_found() -> None:
    r = run(reported(MON_10, responsible=KENT, host=KENT, looked_after=True), found("2026-03-02T16:00:00Z"))
    iro = r.by_rule("kent.iro")
    assert [(n.recipient, n.created_at) for n in iro] == [
        ("la.886.iro", MON_10),
        ("la.886.iro", "2026-03-02T16:00:00Z"),
    ]
    assert iro[0].cite == "§4.5 (L135)"
    none_from(run(reported(MON_10, responsible=KENT, host=KENT, looked_after=False)), "kent.iro")


# --- the social work response (§4.6, §10) ---------------------------------------------------------------


def test_imminent_risk_needs_a_strategy_discussion_within_24_hours_of_going_missing() -> None:
    r = run(reported(MON_10, responsible=KENT, host=KENT, risk="high", last_seen=MON_0800))
    task = only(r, "kent.strategy-discussion-24h", "la.886.allocated_worker")
    assert task.kind == "task" and task.due_by == "2026-03-03T08:00:00Z" and task.created_at == MON_10
    assert task.cite == "§4.6 bullet 1 (L141)"
    tm = only(r, "kent.strategy-discussion-24h", "la.886.team_manager")
    assert tm.due_by == "2026-03-03T08:00:00Z"
    none_from(
        run(reported(MON_10, responsible=KENT, host=KENT, risk="medium")), "kent.strategy-discussion-24h"
    )


def test_a_risk_raised_to_high_starts_the_24_hours_from_going_missing() -> None:
    r = run(
        reported(MON_10, responsible=KENT, host=KENT, risk="medium", last_seen=MON_0800),
        later("risk_changed", "2026-03-02T20:00:00Z", episode={"risk_level": "high"}),
    )
    task = only(r, "kent.strategy-discussion-24h", "la.886.allocated_worker")
    assert task.created_at == "2026-03-02T20:00:00Z" and task.due_by == "2026-03-03T08:00:00Z"


def test_missing_48_hours_raises_the_alert_through_the_management_chain() -> None:
    r = run(
        reported(MON_10, responsible=KENT, host=KENT, looked_after=True, last_seen=MON_0800),
        until="2026-03-04T12:00:00Z",
    )
    task = only(r, "kent.alert-48h", "la.886.allocated_worker")
    assert (
        task.kind == "task"
        and task.created_at == "2026-03-04T08:00:00Z"
        and task.due_by == "2026-03-04T08:00:00Z"
    )
    assert task.cite == "§4.6 bullet 3 (L143); §10 (L253-L257)"
    for role in ("service_manager", "assistant_director", "edt"):
        assert only(r, "kent.alert-48h", f"la.886.{role}").created_at == "2026-03-04T08:00:00Z"
    director = only(r, "kent.alert-48h-director")
    assert director.recipient == "la.886.director" and director.cite == "§10 (L261)"


def test_no_alert_for_a_child_found_within_48_hours_and_no_director_for_a_child_not_in_care() -> None:
    r = run(
        reported(MON_10, responsible=KENT, host=KENT, looked_after=True, last_seen=MON_0800),
        found("2026-03-04T07:59:00Z"),
        until="2026-03-05T00:00:00Z",
    )
    none_from(r, "kent.alert-48h")
    not_in_care = run(
        reported(MON_10, responsible=KENT, host=KENT, looked_after=False, last_seen=MON_0800),
        until="2026-03-04T12:00:00Z",
    )
    only(not_in_care, "kent.alert-48h", "la.886.allocated_worker")  # "whether looked after or not"
    none_from(not_in_care, "kent.alert-48h-director")


def test_still_missing_a_risk_management_meeting_within_72_hours_with_the_liaison_officer() -> None:
    r = run(
        reported(MON_10, responsible=KENT, host=KENT, force=KENT_POLICE, risk="medium", last_seen=MON_0800),
        until="2026-03-08T00:00:00Z",
    )
    rmm = only(r, "kent.rmm-72h", "la.886.allocated_worker")
    assert (
        rmm.kind == "task"
        and rmm.created_at == "2026-03-03T08:00:00Z"
        and rmm.due_by == "2026-03-05T08:00:00Z"
    )
    assert rmm.cite == "§4.6 bullets 4-5 (L144-L145)"
    mplo = only(r, "kent.rmm-72h", "police.E23000032.police_missing_team")
    assert mplo.due_by == "2026-03-05T08:00:00Z" and mplo.profile == "police"
    further = only(r, "kent.rmm-5d", "la.886.allocated_worker")
    assert further.created_at == "2026-03-07T08:00:00Z" and further.due_by == "2026-03-07T08:00:00Z"
    assert further.cite == "§4.6 bullet 8 (L154)"


def test_no_risk_management_meeting_for_a_high_risk_child_or_one_found_within_a_day() -> None:
    high = run(
        reported(MON_10, responsible=KENT, host=KENT, risk="high", last_seen=MON_0800),
        until="2026-03-04T00:00:00Z",
    )
    none_from(high, "kent.rmm-72h")  # bullet 4 is for "no immediate risk"; bullet 1 applies instead
    back = run(
        reported(MON_10, responsible=KENT, host=KENT, last_seen=MON_0800),
        found("2026-03-03T07:00:00Z"),
        until="2026-03-08T00:00:00Z",
    )
    none_from(back, "kent.rmm-72h")
    none_from(back, "kent.rmm-5d")


def test_trafficking_concerns_or_an_unaccompanied_child_prompt_an_nrm_referral() -> None:
    r = run(reported(MON_10, responsible=KENT, host=KENT, looked_after=True, factors=["uasc"]))
    n = only(r, "kent.nrm-consider")
    assert n.recipient == "la.886.allocated_worker" and n.cite == "§6 (L212); §7 (L218); §3 (L65)"
    none_from(run(reported(MON_10, responsible=KENT, host=KENT, factors=["self_harm"])), "kent.nrm-consider")


# --- out of hours (§4.8) ------------------------------------------------------------------------------------


def test_out_of_hours_the_ooh_team_is_told_and_not_in_office_hours() -> None:
    evening = run(reported("2026-03-02T19:00:00Z", responsible=KENT, host=KENT))
    n = only(evening, "kent.ooh")
    assert (n.recipient, n.profile, n.cite) == ("la.886.edt", "full", "§4.8 (L181, L183)")
    none_from(run(reported(MON_10, responsible=KENT, host=KENT)), "kent.ooh")
    saturday = run(reported("2026-03-07T11:00:00Z", responsible=KENT, host=KENT))
    assert only(saturday, "kent.ooh").recipient == "la.886.edt"


def test_a_placed_child_found_out_of_hours_brings_in_the_other_authoritys_ooh_team() -> None:
    r = run(
        reported(MON_10, responsible=STAFFORDSHIRE, host=KENT, looked_after=True),
        found("2026-03-02T23:00:00Z"),
    )
    kent = only(r, "kent.ooh-placed-in")
    assert (kent.recipient, kent.profile, kent.created_at) == (
        "la.886.edt",
        "la_host",
        "2026-03-02T23:00:00Z",
    )
    other = only(r, "kent.ooh-found-other-la")
    assert other.recipient == "la.860.edt" and other.cite == "§4.8 (L183)"
    none_from(r, "kent.ooh")


# --- return and the Missing Conversation (§12, §4.4) -------------------------------------------------------


def test_a_returned_child_is_offered_a_missing_conversation_and_the_young_lives_foundation() -> None:
    r = run(
        reported(MON_10, responsible=KENT, host=KENT, looked_after=True),
        found("2026-03-03T18:30:00Z"),
    )
    mc = only(r, "kent.missing-conversation")
    assert mc.recipient == "la.886.missing_coordinator" and "national.return-interview" in mc.rule_ids
    assert (
        mc.due_by == "2026-03-06T18:30:00Z"
        and mc.cite_of("kent.missing-conversation") == "§12 (L303); §4.4 (L105-L111)"
    )
    sw = only(r, "kent.missing-conversation-social-worker")
    assert (sw.recipient, sw.kind, sw.due_by) == ("la.886.allocated_worker", "task", "2026-03-06T18:30:00Z")
    ylf = only(r, "kent.ylf-offer")
    assert (ylf.recipient, ylf.profile, ylf.due_by) == (
        "provider.young-lives-foundation.rhi_provider",
        "provider",
        "2026-03-06T18:30:00Z",
    )
    assert ylf.cite == "§12 (L290-L291, L303)"
    assert "legal_status" not in str(ylf.payload) and "risk_factors" not in str(ylf.payload)
    found_note = only(r, "kent.on-return-social-worker")
    assert found_note.recipient == "la.886.allocated_worker" and found_note.cite == "§12 (L293, L299)"


def test_the_young_lives_foundation_is_not_told_of_children_outside_kent_or_placed_by_others() -> None:
    placed_in = run(reported(MON_10, responsible=MEDWAY, host=KENT), found("2026-03-03T18:30:00Z"))
    none_from(placed_in, "kent.ylf-offer")
    placed_out = run(
        reported(MON_10, responsible=KENT, host=STAFFORDSHIRE, looked_after=True),
        found("2026-03-03T18:30:00Z"),
    )
    none_from(placed_out, "kent.ylf-offer")
    assert only(placed_out, "kent.missing-conversation").recipient == "la.886.missing_coordinator"


def test_harm_on_return_goes_to_the_police_and_the_social_worker() -> None:
    r = run(
        reported(MON_10, responsible=KENT, host=KENT, force=KENT_POLICE, case_status="open"),
        found("2026-03-02T20:00:00Z", episode={"harm_disclosed": True}),
    )
    police = only(r, "kent.harm-on-return", "police.E23000032.police_missing_team")
    assert police.created_at == "2026-03-02T20:00:00Z" and police.cite == "§12 (L297, L301)"
    only(r, "kent.harm-on-return", "la.886.allocated_worker")
    concern = only(r, "kent-police.welfare-concern")
    assert (
        concern.recipient == "la.886.front_door"
        and concern.cite_of("kent-police.welfare-concern") == "§4.7 (L177)"
    )
    clean = run(
        reported(MON_10, responsible=KENT, host=KENT, force=KENT_POLICE), found("2026-03-02T20:00:00Z")
    )
    none_from(clean, "kent.harm-on-return")
    none_from(clean, "kent-police.welfare-concern")


def test_a_conversation_for_a_child_in_a_childrens_home_asks_the_social_worker_to_share_it() -> None:
    r = run(
        reported(
            MON_10,
            responsible=KENT,
            host=KENT,
            looked_after=True,
            care={"placement": {"type": "childrens_home", "ofsted_urn": "SC999001"}},
        ),
        found("2026-03-02T20:00:00Z"),
        later("return_interview_completed", "2026-03-04T10:00:00Z"),
    )
    n = only(r, "kent.provider-copy")
    assert n.recipient == "la.886.allocated_worker" and n.created_at == "2026-03-04T10:00:00Z"
    assert n.cite == "§12 (L309); §1 bullet 9 (L31)"
    # Not sent to the provider itself: the "setting implicated" exception needs a person's judgement.
    assert not [x for x in r.notes if x.recipient.startswith("provider.SC999001")]


# --- unaccompanied asylum-seeking children who remain missing (§8) --------------------------------------


def test_an_unaccompanied_child_is_reviewed_weekly_then_at_28_days_then_monthly() -> None:
    r = run(
        reported(
            MON_10,
            responsible=KENT,
            host=KENT,
            force=KENT_POLICE,
            looked_after=True,
            factors=["uasc"],
            last_seen=MON_0800,
        ),
        until="2026-04-28T00:00:00Z",
    )
    weekly = ["kent.uasc-weekly-rmm-7d", "kent.uasc-weekly-rmm-14d", "kent.uasc-weekly-rmm-21d"]
    assert [only(r, w, "la.886.service_manager").created_at for w in weekly] == [
        "2026-03-09T08:00:00Z",
        "2026-03-16T08:00:00Z",
        "2026-03-23T08:00:00Z",
    ]
    # 28 days on the wall clock: 08:00 GMT on 2 March → 08:00 BST on 30 March = 07:00 UTC.
    rmm = only(r, "kent.uasc-28d", "la.886.service_manager")
    assert (
        rmm.created_at == "2026-03-30T07:00:00Z"
        and rmm.due_by == "2026-03-30T07:00:00Z"
        and rmm.cite == "§8 (L226)"
    )
    assert (
        only(r, "kent.uasc-28d", "police.E23000032.police_missing_team").created_at == "2026-03-30T07:00:00Z"
    )
    monthly = r.by_rule("kent.uasc-monthly-review")
    assert [(n.recipient, n.created_at, n.due_by) for n in monthly] == [
        ("la.886.team_manager", "2026-03-30T07:00:00Z", "2026-04-27T07:00:00Z"),
        ("la.886.team_manager", "2026-04-27T07:00:00Z", "2026-05-25T07:00:00Z"),
    ]


def test_the_six_and_twelve_month_audits() -> None:
    r = run(
        reported(
            MON_10, responsible=KENT, host=KENT, looked_after=True, factors=["uasc"], last_seen=MON_0800
        ),
        until="2027-03-02T00:00:00Z",
    )
    six = only(r, "kent.uasc-6-month-audit")
    assert six.recipient == "la.886.service_manager" and six.created_at == "2026-08-31T07:00:00Z"  # 08:00 BST
    twelve = only(r, "kent.uasc-12-month-audit")
    assert twelve.created_at == "2027-03-01T08:00:00Z"  # 08:00 GMT


def test_no_uasc_reviews_for_other_children_or_once_found() -> None:
    other = run(
        reported(MON_10, responsible=KENT, host=KENT, looked_after=True, last_seen=MON_0800),
        until="2026-04-01T00:00:00Z",
    )
    for rule in ("kent.uasc-weekly-rmm-7d", "kent.uasc-28d", "kent.uasc-monthly-review"):
        none_from(other, rule)
    back = run(
        reported(MON_10, responsible=KENT, host=KENT, factors=["uasc"], last_seen=MON_0800),
        found("2026-03-20T12:00:00Z"),
        until="2026-04-30T00:00:00Z",
    )
    only(back, "kent.uasc-weekly-rmm-14d", "la.886.service_manager")
    none_from(back, "kent.uasc-weekly-rmm-21d")
    none_from(back, "kent.uasc-28d")


# --- the files themselves ------------------------------------------------------------------------------


def test_the_kent_files_cover_kent_only() -> None:
    areas = {f.area: f for f in load_rulebook(MAPPINGS).files}
    assert areas["kent"].header.authorities == [KENT]
    assert areas["kent-police"].header.police_forces == [KENT_POLICE]
    assert not areas["kent-police"].header.authorities
    # Every Kent Police rule is conditioned on Kent being the responsible or the host authority.
    for lr in areas["kent-police"].rules:
        assert lr.rule.when is not None and "886" in lr.rule.when.model_dump_json(), lr.id


def test_every_recipient_the_kent_rules_name_is_in_the_directory() -> None:
    book = load_rulebook(MAPPINGS)
    directory = load_directory(MAPPINGS / "directory")
    missing = []
    for f in book.files:
        if f.area not in {"kent", "kent-police"}:
            continue
        for lr in f.rules:
            for action in [*lr.rule.notify, *lr.rule.task]:
                ids = [i for i in action.id if "." not in i]
                if action.kind.value == "la" and any(i.startswith("care.") for i in action.id):
                    ids.append(KENT)
                if action.kind.value == "police" and "episode.police.force" in action.id:
                    ids.append(KENT_POLICE)
                for i in ids:
                    if directory.lookup(action.kind.value, i, action.role.value) is None:
                        missing.append(f"{lr.id}: {action.kind.value}.{i}.{action.role.value}")
    assert not missing, missing
