"""The Warwickshire Missing Children Protocol v2.0 (September 2023), as encoded in
mappings/areas/warwickshire.yaml (the council) and mappings/areas/warwickshire-police.yaml (Warwickshire
Police, E23000017). Each test runs a scenario through `gateway simulate` and checks the recipient, the
deadline worked out by hand from the protocol line it cites, and the cite. "L188" is a line of
../shared/seeds/warwickshire-000_*.txt. 2026: clocks go forward on 29 March; Good Friday 3 April and
Easter Monday 6 April, and 25 May, are bank holidays; 2 March 2026 is a Monday.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.areas.support import (
    WARWICKSHIRE_POLICE,
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

WCC = "937"
BIRMINGHAM = "330"  # another authority, for out-of-area cases
WEST_MIDLANDS_POLICE = "E23000014"
SCHOOL = "999371"  # example school (mappings/directory/warwickshire.yaml)
MON = "2026-03-02T09:00:00Z"  # a Monday; last seen an hour before


def wk_child_report(at: str = MON, **kw: Any) -> dict[str, Any]:
    """A Warwickshire child in care with an open case, reported to Warwickshire Police."""
    kw.setdefault("responsible", WCC)
    kw.setdefault("host", WCC)
    kw.setdefault("force", WARWICKSHIRE_POLICE)
    kw.setdefault("looked_after", True)
    kw.setdefault("case_status", "open")
    return reported(at, **kw)


def created(result: Result, rule_id: str, recipient: str, at: str) -> Note:
    """The one notification from ``rule_id`` to ``recipient`` created at ``at`` (repeating timers)."""
    hits = [n for n in result.by_rule(rule_id) if n.recipient == recipient and n.created_at == at]
    assert len(hits) == 1, [(n.recipient, n.created_at) for n in result.by_rule(rule_id)]
    return hits[0]


def tasks(result: Result, rule_id: str, recipient: str) -> list[Note]:
    return [n for n in result.by_rule(rule_id) if n.recipient == recipient and n.kind == "task"]


def episodes(days: list[int], *, base_day: int = 2, **kw: Any) -> list[dict[str, Any]]:
    """Reports of one child on the given day offsets from 2 March 2026 09:00Z, each found 2 hours later."""
    base = datetime(2026, 3, base_day, 9, 0, tzinfo=UTC)
    out: list[dict[str, Any]] = []
    for i, d in enumerate(days):
        at = base + timedelta(days=d)
        rec = f"MP/26/{i + 1:04d}"
        iso = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(
            wk_child_report(
                iso,
                record=rec,
                child=child(la_code=kw.get("la_code", WCC), local_id="C9"),
                **{k: v for k, v in kw.items() if k != "la_code"},
            )
        )
        out.append(found((at + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"), record=rec))
    return out


# --- A medium-risk (graded low) report that runs on: the timers of L188, L561, L565, L567, L613, L617 --


def test_a_warwickshire_child_missing_for_days_gets_every_local_duty_on_time() -> None:
    r = run(
        wk_child_report(risk="low", last_seen="2026-03-02T08:00:00Z", school_urn=SCHOOL),
        until="2026-03-15T00:00:00Z",
    )
    # L91/L214/App 3: no child is graded below medium in Warwickshire; the police's "low" stays visible.
    ep = r.episodes[0]
    assert ep["episode"]["risk_level"] == "medium"
    assert any(
        d["original"] == "low" and "warwickshire-police.no-low-risk" in d["problem"]
        for d in ep["data_quality"]
    )

    # L188: the Front Door electronically, within 24 hours of the report (merged with the national notice).
    fd = only(r, "warwickshire-police.front-door-24h", "la.937.front_door")
    assert fd.due_by == "2026-03-03T09:00:00Z" and fd.cite == "L188"
    assert "national.responsible-la-front-door" in fd.rule_ids

    # L494: the Missing Coordinator screens it; L494/L611: allocated worker and supervisor; L322: IRO.
    assert (
        only(r, "warwickshire.missing-coordinator-screening", "la.937.missing_coordinator").cite_of(
            "warwickshire.missing-coordinator-screening"
        )
        == "L494"
    )
    aw = only(r, "warwickshire.allocated-worker-and-supervisor", "la.937.allocated_worker")
    assert aw.cite_of("warwickshire.allocated-worker-and-supervisor") == "L494; L611"
    only(r, "warwickshire.allocated-worker-and-supervisor", "la.937.team_manager")
    assert only(r, "warwickshire.iro", "la.937.iro").cite_of("warwickshire.iro") == "L322"

    # L617: a medium-risk case is reviewed by a Detective Inspector within 48 hours.
    di = only(r, "warwickshire-police.di-review-medium-risk", "police.E23000017.police_missing_team")
    assert (
        di.kind == "task"
        and di.due_by == "2026-03-04T09:00:00Z"
        and di.cite_of("warwickshire-police.di-review-medium-risk") == "L617"
    )

    # L190: the school, on the next weekday morning (digest at 07:00, due 08:00), with school data only.
    school = only(r, "warwickshire-police.school-missing", "school.999371.school_dsl")
    assert (school.created_at, school.due_by) == ("2026-03-03T07:00:00Z", "2026-03-03T08:00:00Z")
    assert school.profile == "school_encompass" and "care" not in school.payload
    assert school.cite_of("warwickshire-police.school-missing") == "L190"

    # L561: missing over 24 hours → DREAMM, the next working day's meeting.
    dreamm = only(r, "warwickshire.dreamm-24h", "la.937.missing_coordinator")
    assert (dreamm.created_at, dreamm.due_by) == ("2026-03-03T08:00:00Z", "2026-03-04T23:59:59Z")
    assert dreamm.cite_of("warwickshire.dreamm-24h") == "L561"

    # L613: missing more than 72 hours → the Operations Manager the same working day; HoS and Director told.
    ops = only(r, "warwickshire.ops-manager-72h", "la.937.service_manager")
    assert (ops.created_at, ops.due_by) == ("2026-03-05T08:00:00Z", "2026-03-05T23:59:00Z")
    assert ops.cite_of("warwickshire.ops-manager-72h") == "L613" and ops.profile == "la_host"
    assert only(r, "warwickshire.ops-manager-72h", "la.937.head_of_service").due_by is None
    only(r, "warwickshire.ops-manager-72h", "la.937.director")

    # L565: still missing at 72 hours → strategy meeting (team manager: open case), NHS alert considered.
    sm = tasks(r, "warwickshire.strategy-meeting-72h", "la.937.team_manager")
    purposes = sorted(n.purpose for n in sm)
    assert len(sm) == 2 and purposes[0].startswith(
        "At the strategy meeting, consider requesting an NHS alert"
    )
    assert purposes[1].startswith("Convene a strategy meeting")
    assert {(n.created_at, n.due_by, n.cite) for n in sm} == {
        ("2026-03-05T08:00:00Z", "2026-03-05T23:59:00Z", "L565")
    }

    # L567: day 5 (a Saturday) → further meeting chaired by the Operations Manager, by Monday; then weekly.
    first = created(
        r, "warwickshire.further-strategy-meetings", "la.937.service_manager", "2026-03-07T08:00:00Z"
    )
    assert first.due_by == "2026-03-09T23:59:00Z" and first.cite == "L567"
    weekly = created(
        r, "warwickshire.further-strategy-meetings", "la.937.service_manager", "2026-03-14T08:00:00Z"
    )
    assert weekly.due_by == "2026-03-16T23:59:00Z"

    # L617: a Detective Chief Inspector review at 7 days, by the end of that day.
    dci = only(r, "warwickshire-police.dci-review-7-days", "police.E23000017.police_missing_team")
    assert (dci.created_at, dci.due_by) == ("2026-03-09T08:00:00Z", "2026-03-10T00:00:00Z")

    # Not high risk: none of the high-risk duties, and nothing for children placed by others.
    for rule in (
        "warwickshire-police.high-risk-missing-team",
        "warwickshire-police.high-risk-children-and-families",
        "warwickshire-police.high-risk-out-of-hours",
        "warwickshire-police.di-review-high-risk",
        "warwickshire.dreamm-high-risk",
        "warwickshire.ops-manager-high-risk",
        "warwickshire.strategy-meeting-high-risk",
        "warwickshire.strategy-meeting-placed-in",
        "warwickshire.placed-in-notify-warwickshire",
        "warwickshire.mim-exploitation",
    ):
        none_from(r, rule)


# --- High risk (L188, L222, L360, L561, L565, L613, L617) -------------------------------------------


def test_a_high_risk_report_on_a_friday_evening_reaches_edt_and_managers_at_once() -> None:
    r = run(
        wk_child_report("2026-03-06T18:30:00Z", risk="high", last_seen="2026-03-06T16:00:00Z"),
        until="2026-03-10T12:00:00Z",
    )
    mc = only(r, "warwickshire-police.high-risk-missing-team", "la.937.missing_coordinator")
    assert mc.cite_of("warwickshire-police.high-risk-missing-team") == "L188" and mc.due_by is None
    # L222: immediately; the 24-hour rule does not apply, so no later deadline is attached.
    fd = only(r, "warwickshire-police.high-risk-children-and-families", "la.937.front_door")
    assert fd.due_by is None and fd.raw["urgency"] == "immediate"
    assert fd.cite_of("warwickshire-police.high-risk-children-and-families") == "L222"
    none_from(r, "warwickshire-police.front-door-24h")
    edt = only(r, "warwickshire-police.high-risk-out-of-hours", "la.937.edt")
    assert edt.cite == "L222; L233; L360" and edt.created_at == "2026-03-06T18:30:00Z"

    # L613: the Operations Manager the same working day: Friday, before midnight.
    ops = only(r, "warwickshire.ops-manager-high-risk", "la.937.service_manager")
    assert ops.due_by == "2026-03-06T23:59:00Z" and ops.cite == "L613"
    only(r, "warwickshire.ops-manager-high-risk", "la.937.head_of_service")
    only(r, "warwickshire.ops-manager-high-risk", "la.937.director")

    dreamm = only(r, "warwickshire.dreamm-high-risk", "la.937.missing_coordinator")
    assert dreamm.kind == "task" and dreamm.due_by == "2026-03-09T23:59:59Z" and dreamm.cite == "L561"
    # L565: a high-risk strategy meeting within 48 hours of going missing (last seen 16:00 Friday).
    sm = tasks(r, "warwickshire.strategy-meeting-high-risk", "la.937.team_manager")
    assert len(sm) == 2 and {(n.due_by, n.cite) for n in sm} == {("2026-03-08T16:00:00Z", "L565")}
    # L617: a Detective Inspector the same day (midnight Friday).
    di = only(r, "warwickshire-police.di-review-high-risk", "police.E23000017.police_missing_team")
    assert di.due_by == "2026-03-07T00:00:00Z"
    # Still missing at 72 hours: the Operations Manager again, but no second initial meeting
    # or DREAMM listing.
    ops72 = only(r, "warwickshire.ops-manager-72h", "la.937.service_manager")
    assert (ops72.created_at, ops72.due_by) == ("2026-03-09T16:00:00Z", "2026-03-09T23:59:00Z")
    none_from(r, "warwickshire.strategy-meeting-72h")
    none_from(r, "warwickshire.dreamm-24h")


def test_a_high_risk_report_in_office_hours_does_not_go_to_edt() -> None:
    r = run(wk_child_report("2026-03-03T11:00:00Z", risk="high"))
    only(r, "warwickshire-police.high-risk-children-and-families", "la.937.front_door")
    none_from(r, "warwickshire-police.high-risk-out-of-hours")


def test_high_risk_for_an_adult_is_not_the_under_18_notice() -> None:
    r = run(wk_child_report("2026-03-07T02:00:00Z", risk="high", dob="2008-03-01"))
    none_from(r, "warwickshire-police.high-risk-children-and-families")
    none_from(r, "warwickshire-police.high-risk-out-of-hours")
    # The Missing Team is still told of a high-risk report (L188 has no age limit).
    only(r, "warwickshire-police.high-risk-missing-team", "la.937.missing_coordinator")


def test_a_risk_raised_to_high_later_starts_the_high_risk_duties_then() -> None:
    r = run(
        wk_child_report(last_seen="2026-03-02T08:00:00Z"),
        later("risk_changed", "2026-03-02T15:00:00Z", episode={"risk_level": "high"}),
    )
    fd = [n for n in r.by_rule("warwickshire-police.high-risk-children-and-families")]
    assert [n.created_at for n in fd] == ["2026-03-02T15:00:00Z"]
    di = only(r, "warwickshire-police.di-review-high-risk", "police.E23000017.police_missing_team")
    assert di.due_by == "2026-03-03T00:00:00Z"
    sm = tasks(r, "warwickshire.strategy-meeting-high-risk", "la.937.team_manager")
    assert {n.due_by for n in sm} == {"2026-03-04T08:00:00Z"}


# --- Schools: Operation Encompass, ages 4 to 17 (L190, L440) -----------------------------------------


def test_the_school_is_told_of_the_missing_and_the_found_report_each_weekday_morning() -> None:
    r = run(
        wk_child_report(school_urn=SCHOOL),
        found("2026-03-03T14:00:00Z"),
        later("safe_and_well_completed", "2026-03-03T18:00:00Z"),
        later("return_interview_declined", "2026-03-04T10:00:00Z"),
    )
    miss = only(r, "warwickshire-police.school-missing", "school.999371.school_dsl")
    assert miss.created_at == "2026-03-03T07:00:00Z"
    fnd = only(r, "warwickshire-police.school-found", "school.999371.school_dsl")
    assert (fnd.created_at, fnd.due_by) == ("2026-03-04T07:00:00Z", "2026-03-04T08:00:00Z")
    assert fnd.cite_of("warwickshire-police.school-found") == "L440; L190"

    # L438: the Front Door is told of the return; L470: Prevention Interview within 24 hours of being found.
    assert any(
        n.created_at == "2026-03-03T14:00:00Z" for n in r.by_rule("warwickshire-police.found-front-door")
    )
    pi = only(r, "warwickshire-police.prevention-interview", "police.E23000017.police_missing_team")
    assert pi.kind == "task" and pi.due_by == "2026-03-04T14:00:00Z" and pi.cite == "L470"
    # L476: the Prevention Interview details go to Warwickshire Children's Services.
    piw = only(r, "warwickshire-police.prevention-interview-to-wcc", "la.937.front_door")
    assert (
        piw.created_at == "2026-03-03T18:00:00Z"
        and piw.cite_of("warwickshire-police.prevention-interview-to-wcc") == "L476"
    )
    none_from(r, "warwickshire-police.prevention-interview-to-responsible-la")  # Warwickshire's own child

    # L480/L488: the FAST Return Conversation within 72 hours; L510: a decline goes to a FAST manager.
    rc = only(r, "warwickshire.return-conversation", "provider.warwickshire-fast.rhi_provider")
    assert rc.kind == "task" and rc.due_by == "2026-03-06T14:00:00Z" and rc.profile == "provider"
    assert rc.cite == "L480; L488-L490; L356"
    dec = only(r, "warwickshire.return-conversation-declined", "provider.warwickshire-fast.rhi_provider")
    assert dec.created_at == "2026-03-04T10:00:00Z" and dec.cite == "L510"

    # Found within the first day: the 72-hour duties never fire.
    none_from(r, "warwickshire.strategy-meeting-72h")
    none_from(r, "warwickshire.ops-manager-72h")


def test_over_a_bank_holiday_weekend_the_school_gets_one_tuesday_notice_once_its_urn_is_known() -> None:
    r = run(
        wk_child_report("2026-04-03T20:00:00Z"),  # Good Friday, 21:00 BST; the school not yet known
        later("updated", "2026-04-04T10:00:00Z", education={"school_urn": SCHOOL}),
        found("2026-04-05T12:00:00Z"),
        until="2026-04-08T00:00:00Z",
    )
    (note,) = r.to("school.999371.school_dsl")
    # Easter Monday is not a school day: Tuesday 07:00 BST, due 08:00 BST; one notice listing both rules.
    assert (note.created_at, note.due_by) == ("2026-04-07T06:00:00Z", "2026-04-07T07:00:00Z")
    assert {"warwickshire-police.school-missing", "warwickshire-police.school-found"} <= set(note.rule_ids)
    # The report without a school was recorded, not silently dropped.
    assert any("education.school_urn" in d["problem"] for d in r.episodes[0]["data_quality"])


def school_notices(dob: str | None) -> Result:
    kid = child(dob) if dob else {"given_name": "Sam", "family_name": "Test"}
    return run(
        wk_child_report(school_urn=SCHOOL, child=kid),
        found("2026-03-02T15:00:00Z"),
        until="2026-03-04T00:00:00Z",
    )


def test_a_child_aged_4_on_the_day_is_in_the_school_notices() -> None:
    r = school_notices("2022-03-02")
    only(r, "warwickshire-police.school-missing", "school.999371.school_dsl")


def test_a_child_aged_17_is_in_the_school_notices() -> None:
    r = school_notices("2008-03-03")
    only(r, "warwickshire-police.school-missing", "school.999371.school_dsl")


def test_a_child_aged_3_is_not_shared_with_a_school() -> None:
    r = school_notices("2022-03-03")
    none_from(r, "warwickshire-police.school-missing")
    none_from(r, "warwickshire-police.school-found")


def test_a_young_person_aged_18_is_not_shared_with_a_school() -> None:
    r = school_notices("2008-03-02")
    none_from(r, "warwickshire-police.school-missing")
    none_from(r, "warwickshire-police.school-found")


def test_without_a_date_of_birth_the_school_is_not_told() -> None:
    r = school_notices(None)
    none_from(r, "warwickshire-police.school-missing")
    none_from(r, "warwickshire-police.school-found")


# --- Out of area, both ways (L139, L229, L239, L356, L476, L555) -------------------------------------


def test_a_child_placed_in_warwickshire_by_another_authority() -> None:
    r = run(
        reported(
            MON,
            responsible=BIRMINGHAM,
            host=WCC,
            force=WARWICKSHIRE_POLICE,
            looked_after=True,
            case_status="open",
        ),
        found("2026-03-08T10:00:00Z"),
        later("safe_and_well_completed", "2026-03-08T12:00:00Z"),
        later("return_interview_completed", "2026-03-09T12:00:00Z"),
    )
    # L239-L241: Warwickshire is notified (host profile only: not the placing authority's full record).
    host = [n for n in r.by_rule("warwickshire.placed-in-notify-warwickshire") if n.created_at == MON]
    assert len(host) == 1 and host[0].recipient == "la.937.front_door" and host[0].profile == "la_host"
    assert host[0].due_by == "2026-03-03T09:00:00Z"  # L188 attached: same notice
    # L555/L565: the responsible authority convenes the strategy meeting at 72 hours and the
    # further one on day 5.
    sm = only(r, "warwickshire.strategy-meeting-placed-in", "la.330.front_door")
    assert (sm.kind, sm.created_at, sm.due_by) == ("task", "2026-03-05T09:00:00Z", "2026-03-05T23:59:00Z")
    assert sm.cite == "L555; L565"
    fsm = only(r, "warwickshire.further-strategy-meetings-placed-in", "la.330.front_door")
    assert (fsm.created_at, fsm.due_by) == ("2026-03-07T09:00:00Z", "2026-03-09T23:59:00Z")
    # L613 covers all children: Warwickshire's Operations Manager at 72 hours, host profile.
    assert only(r, "warwickshire.ops-manager-72h", "la.937.service_manager").profile == "la_host"
    # L476: the Prevention Interview goes to the responsible authority of a child in care from elsewhere.
    pi = only(r, "warwickshire-police.prevention-interview-to-responsible-la", "la.330.front_door")
    assert (
        pi.created_at == "2026-03-08T12:00:00Z"
        and pi.cite_of("warwickshire-police.prevention-interview-to-responsible-la") == "L476"
    )
    # L356: every child missing in Warwickshire is offered a FAST Return Conversation; the responsible
    # authority's own conversation is shared with FAST.
    only(r, "warwickshire.return-conversation", "provider.warwickshire-fast.rhi_provider")
    shared = only(
        r, "warwickshire.placed-in-return-conversation-shared", "provider.warwickshire-fast.rhi_provider"
    )
    assert shared.created_at == "2026-03-09T12:00:00Z" and shared.cite == "L356"
    # Warwickshire's own case duties are not asked of it for another authority's child.
    for rule in (
        "warwickshire.allocated-worker-and-supervisor",
        "warwickshire.iro",
        "warwickshire.strategy-meeting-72h",
        "warwickshire.further-strategy-meetings",
        "warwickshire.placed-out-share-risk",
    ):
        none_from(r, rule)


def test_a_warwickshire_child_placed_elsewhere_and_reported_to_another_force() -> None:
    r = run(
        reported(
            MON,
            responsible=WCC,
            host=BIRMINGHAM,
            force=WEST_MIDLANDS_POLICE,
            risk="low",
            looked_after=True,
            case_status="open",
            school_urn=SCHOOL,
        )
    )
    share = only(r, "warwickshire.placed-out-share-risk", "la.330.front_door")
    assert share.cite_of("warwickshire.placed-out-share-risk") == "L139; L229; L352"
    assert share.profile == "la_host"
    only(r, "warwickshire.iro", "la.937.iro")
    # L229: another area's procedures apply: no Warwickshire Police duties, no risk floor, no school notice.
    assert r.episodes[0]["episode"]["risk_level"] == "low"
    for rule in (
        "warwickshire-police.front-door-24h",
        "warwickshire-police.school-missing",
        "warwickshire-police.di-review-medium-risk",
        "warwickshire.placed-in-notify-warwickshire",
    ):
        none_from(r, rule)


# --- Missing intervention meetings (L573-L587, L605) -------------------------------------------------


def test_mims_at_3_6_and_9_episodes_within_5_working_days() -> None:
    r = run(*episodes([0, 10, 20, 30, 40, 50, 60, 70, 80]))
    s1 = tasks(r, "warwickshire.mim-stage-1", "la.937.allocated_worker")
    # 3rd episode: Sunday 22 March → five working days → Friday 27 March, end of day.
    assert [(n.created_at, n.due_by, n.cite) for n in s1] == [
        ("2026-03-22T09:00:00Z", "2026-03-27T23:59:59Z", "L573; L579")
    ]
    s2 = tasks(r, "warwickshire.mim-stage-2", "la.937.allocated_worker")
    # 6th: Tuesday 21 April (BST) → Tuesday 28 April 23:59:59 BST.
    assert [(n.created_at, n.due_by) for n in s2] == [("2026-04-21T09:00:00Z", "2026-04-28T22:59:59Z")]
    s3 = tasks(r, "warwickshire.mim-escalation", "la.937.allocated_worker")
    # 9th: Thursday 21 May; the 25 May bank holiday is skipped → Friday 29 May 23:59:59 BST.
    assert [(n.created_at, n.due_by) for n in s3] == [("2026-05-21T09:00:00Z", "2026-05-29T22:59:59Z")]
    chair = only(r, "warwickshire.mim-escalation", "la.937.service_manager")
    assert chair.kind == "notify" and chair.created_at == "2026-05-21T09:00:00Z"
    none_from(r, "warwickshire.mim-front-door")  # the case is open: the allocated worker convenes


def test_three_episodes_in_91_days_are_within_3_months() -> None:
    r = run(*episodes([0, 40, 91]))
    (s1,) = tasks(r, "warwickshire.mim-stage-1", "la.937.allocated_worker")
    assert (s1.created_at, s1.due_by) == ("2026-06-01T09:00:00Z", "2026-06-08T22:59:59Z")


def test_three_episodes_spread_over_more_than_3_months_call_no_mim() -> None:
    r = run(*episodes([0, 50, 93]))
    none_from(r, "warwickshire.mim-stage-1")


def test_a_child_not_open_to_a_team_gets_a_stage_1_mim_at_the_front_door() -> None:
    r = run(*episodes([0, 5, 10, 15], case_status="closed"))
    (mim,) = tasks(r, "warwickshire.mim-front-door", "la.937.front_door")
    assert (mim.created_at, mim.due_by, mim.cite) == (
        "2026-03-12T09:00:00Z",
        "2026-03-19T23:59:59Z",
        "L573; L579; L587",
    )
    none_from(r, "warwickshire.mim-stage-1")


def test_a_first_episode_with_exploitation_calls_a_mim_and_tells_the_operations_manager() -> None:
    r = run(wk_child_report(factors=["cce"]))
    mim = only(r, "warwickshire.mim-exploitation", "la.937.allocated_worker")
    assert mim.due_by == "2026-03-09T23:59:59Z" and mim.cite == "L579; L605"
    # L613: especially vulnerable (exploitation) though graded medium: the Operations Manager, same day.
    ops = only(r, "warwickshire.ops-manager-high-risk", "la.937.service_manager")
    assert ops.due_by == "2026-03-02T23:59:00Z"


def test_repeat_episodes_of_a_child_placed_here_go_to_the_responsible_authority() -> None:
    evs = episodes([0, 5, 10], la_code=BIRMINGHAM, responsible=BIRMINGHAM)
    r = run(*evs)
    mim = only(r, "warwickshire.mim-placed-in", "la.330.front_door")
    assert (mim.kind, mim.due_by, mim.cite) == ("task", "2026-03-19T23:59:59Z", "L555; L573")
    none_from(r, "warwickshire.mim-stage-1")


# --- UASC, unlawfully at large, long-term missing (L394, L416-L420, L631) ----------------------------


def test_an_unaccompanied_child_in_a_home_office_hotel_unlawfully_at_large() -> None:
    r = run(
        reported(MON, host=WCC, force=WARWICKSHIRE_POLICE, factors=["uasc", "unlawfully_at_large"]),
        found("2026-03-02T20:00:00Z"),
    )
    ho = [n for n in r.by_rule("warwickshire.home-office-uasc")]
    assert [(n.recipient, n.created_at) for n in ho] == [
        ("national.home_office.home_office", MON),
        ("national.home_office.home_office", "2026-03-02T20:00:00Z"),
    ]
    assert ho[0].cite == "L394; L398-L400" and ho[0].profile == "school_encompass"
    assert "risk_factors" not in ho[0].payload.get("episode", {})
    yj = [n for n in r.by_rule("warwickshire.youth-justice-ual") if n.created_at == MON]
    assert len(yj) == 1 and yj[0].recipient == "la.937.youth_justice" and yj[0].cite == "L416-L420"


def test_a_child_missing_6_weeks_is_reviewed_by_the_head_of_service_and_a_chief_inspector() -> None:
    r = run(wk_child_report(), until="2026-04-14T00:00:00Z")
    # 42 days after 09:00 GMT on 2 March is 09:00 BST on Monday 13 April.
    hos = only(r, "warwickshire.hos-6-weeks", "la.937.head_of_service")
    assert (hos.kind, hos.created_at, hos.due_by) == ("task", "2026-04-13T08:00:00Z", "2026-04-13T22:59:00Z")
    assert hos.cite == "L631-L633"
    ci = only(r, "warwickshire-police.chief-inspector-6-weeks", "police.E23000017.police_missing_team")
    assert (ci.created_at, ci.due_by, ci.cite) == ("2026-04-13T08:00:00Z", "2026-04-13T23:00:00Z", "L631")


def test_a_completed_return_conversation_goes_to_the_social_worker_and_the_police() -> None:
    r = run(
        wk_child_report(),
        found("2026-03-02T20:00:00Z"),
        later("return_interview_completed", "2026-03-04T11:00:00Z"),
    )
    sw = only(r, "warwickshire.return-conversation-to-social-worker", "la.937.allocated_worker")
    assert (sw.created_at, sw.cite) == ("2026-03-04T11:00:00Z", "L512")
    pol = only(r, "warwickshire.return-conversation-to-police", "police.E23000017.police_missing_team")
    assert (pol.created_at, pol.cite, pol.profile) == ("2026-03-04T11:00:00Z", "L514", "police")
