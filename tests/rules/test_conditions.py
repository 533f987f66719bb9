"""Each condition kind, its boundaries and the `unknown` rule; property tests of the evaluator."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.model import Episode, RiskFactor, RiskLevel
from gateway.rules.calendars import Calendars, SchoolCalendar, TermBreak
from gateway.rules.conditions import Conditions, EvalContext, age_on, evaluate, holds
from tests.rulesupport import PLACED, episode_of, event, utc

CAL = Calendars(
    [
        SchoolCalendar(
            name="t",
            authorities=["860"],
            breaks=[
                TermBreak.model_validate({"name": "half term", "from": "2026-02-16", "to": "2026-02-20"})
            ],
        )
    ]
)


def check(
    cond: dict[str, Any],
    episode: Episode,
    now: str = "2026-03-03T10:00:00Z",
    authorities: frozenset[str] = frozenset(),
) -> bool:
    ctx = EvalContext(episode, utc(now), CAL, authorities)
    return holds(evaluate(Conditions.model_validate(cond), ctx))


def placed(**over: Any) -> Episode:
    groups = {k: dict(v) for k, v in PLACED.items()}
    for group, values in over.items():
        groups.setdefault(group, {}).update(values)
    return episode_of(event(**groups))


def with_dob(dob: str, last_seen: str) -> Episode:
    return episode_of(
        event(child={"given_name": "A", "date_of_birth": dob}, episode={"last_seen_at": last_seen})
    )


@pytest.mark.parametrize(
    ("dob", "ok"),
    [
        ("2022-03-02", True),  # 4th birthday on the day last seen: 4 is included
        ("2022-03-03", False),  # 4 tomorrow: still 3, excluded
        ("2008-03-03", True),  # 18 tomorrow: still 17, included
        ("2008-03-02", False),  # 18 that day: excluded
    ],
)
def test_age_bounds_are_inclusive_whole_years_at_last_seen(dob: str, ok: bool) -> None:
    ep = with_dob(dob, "2026-03-02T12:00:00Z")
    assert check({"age": {"min": 4, "max": 17}}, ep) is ok


def test_age_uses_the_london_date_of_last_seen() -> None:
    # 23:30 UTC on 31 May is 00:30 BST on 1 June: the birthday has come.
    ep = with_dob("2009-06-01", "2026-05-31T23:30:00Z")
    assert check({"age": {"min": 17}}, ep)
    assert not check({"age": {"max": 16}}, ep)


def test_leap_day_birthdays_come_on_the_first_of_march() -> None:
    assert age_on(date(2012, 2, 29), date(2026, 2, 28)) == 13
    assert age_on(date(2012, 2, 29), date(2026, 3, 1)) == 14
    assert age_on(date(2012, 2, 29), date(2028, 2, 29)) == 16


def test_an_unknown_age_matches_only_when_the_rule_says_so() -> None:
    ep = episode_of(event(child={"given_name": "A"}))
    assert not check({"age": {"min": 4, "max": 17}}, ep)
    assert check({"age": {"min": 4, "max": 17, "unknown": True}}, ep)


def test_risk_level_exact_set_and_ordered() -> None:
    ep = placed(episode={"risk_level": "medium"})
    assert check({"risk_level": "medium"}, ep)
    assert not check({"risk_level": "high"}, ep)
    assert check({"risk_level": ["medium", "high"]}, ep)
    assert check({"risk_level": {"at_least": "medium"}}, ep)
    assert check({"risk_level": {"at_least": "low", "at_most": "medium"}}, ep)
    assert not check({"risk_level": {"at_least": "high"}}, ep)
    assert not check({"risk_level": {"at_most": "low"}}, ep)


def test_unknown_risk() -> None:
    ep = episode_of(event(episode={"category": "missing"}))
    assert not check({"risk_level": {"at_least": "no_apparent_risk"}}, ep)
    assert check({"risk_level": {"at_least": "high", "unknown": True}}, ep)
    assert check({"risk_level": ["high", "unknown"]}, ep)


def test_care_predicates_and_unknown() -> None:
    ep = placed()
    assert check(
        {"looked_after": True, "legal_status": ["s31_care_order", "s38_interim"], "case_status": "open"}, ep
    )
    assert not check({"cp_plan": True}, ep)
    assert check({"cp_plan": ["unknown", False]}, ep)
    police_only = episode_of(event(episode={"category": "missing"}))
    assert not check({"looked_after": True}, police_only)
    assert not check({"looked_after": False}, police_only)
    assert check({"looked_after": [True, "unknown"]}, police_only)


def test_risk_factors_any_all_none() -> None:
    ep = placed(episode={"risk_factors": ["cse", "county_lines"]})
    assert check({"risk_factors": {"any": ["cse", "trafficking"]}}, ep)
    assert not check({"risk_factors": {"all": ["cse", "trafficking"]}}, ep)
    assert check({"risk_factors": {"all": ["cse", "county_lines"], "none": ["uasc"]}}, ep)
    assert not check({"risk_factors": {"none": ["cse"]}}, ep)


def test_missing_from_category_police_force_and_placement() -> None:
    ep = placed(care={"placement": {"type": "childrens_home"}})
    assert check({"missing_from": "care_placement", "category": "missing", "police_force": "E23000015"}, ep)
    assert check({"placement_type": ["childrens_home", "secure"]}, ep)
    assert not check({"police_force": ["E23000017"]}, ep)


def test_out_of_area_in_both_directions() -> None:
    ep = placed()  # responsible 886 (Kent), host 860 (Staffordshire)
    assert check({"out_of_area": True}, ep)
    staffs, kent = frozenset({"860", "861"}), frozenset({"886"})
    assert check({"placed_in_area": True}, ep, authorities=staffs)
    assert not check({"placed_out_of_area": True}, ep, authorities=staffs)
    assert check({"placed_out_of_area": True}, ep, authorities=kent)
    assert not check({"placed_in_area": True}, ep, authorities=kent)
    home = placed(care={"host_la": "886"})
    assert not check({"out_of_area": True}, home)
    assert check({"out_of_area": False}, home)
    assert not check({"placed_out_of_area": True}, home, authorities=kent)
    assert check({"responsible_la": "886", "host_la": ["886", "unknown"]}, home)


def test_time_of_day_wraps_midnight_and_reads_london_time() -> None:
    ep = placed()
    ooh = {"time_of_day": {"from": "17:00", "to": "09:00"}}
    assert check(ooh, ep, now="2026-03-03T17:00:00Z")  # 17:00 GMT: from is inclusive
    assert check(ooh, ep, now="2026-03-03T08:59:00Z")
    assert not check(ooh, ep, now="2026-03-03T09:00:00Z")  # to is exclusive
    # 16:30 UTC in summer is 17:30 BST: out of hours.
    assert check(ooh, ep, now="2026-06-03T16:30:00Z")


def test_working_and_school_days() -> None:
    ep = placed()  # host 860: the test calendar has a February half term
    assert check({"working_day": True, "school_day": True}, ep, now="2026-03-03T10:00:00Z")
    assert check({"working_day": False}, ep, now="2026-04-06T10:00:00Z")  # Easter Monday
    assert check({"working_day": True, "school_day": False}, ep, now="2026-02-17T10:00:00Z")
    assert check({"working_day": False}, ep, now="2026-03-07T10:00:00Z")  # Saturday


def test_episode_counts_and_windows() -> None:
    ep = placed().model_copy(
        update={"episode_count_90d": 3, "episode_counts": {"90d": 3, "30d": 1, "365d": 7}}
    )
    assert check({"episodes": {"at_least": 3, "within": "90d"}}, ep)
    assert check({"episodes": {"exactly": 3, "within": 90}}, ep)
    assert not check({"episodes": {"at_least": 2, "within": "30d"}}, ep)
    assert check({"episodes": {"at_least": 7, "within": "365 days"}}, ep)
    assert not check({"episodes": {"at_least": 1, "within": "60d"}}, ep)  # window not computed


def test_status_present_absent_and_combinators() -> None:
    ep = placed(education={"school_urn": "123456"})
    assert check({"status": "open", "present": ["education.school_urn"], "absent": ["health.gp_ods"]}, ep)
    assert check({"any": [{"risk_level": "high"}, {"looked_after": True}]}, ep)
    assert not check({"all": [{"risk_level": "high"}, {"looked_after": True}]}, ep)
    assert check({"not": {"risk_level": "high"}}, ep)
    assert not check({"not": {"status": "open"}}, ep)


def test_explanations_name_each_predicate() -> None:
    ep = placed()
    ctx = EvalContext(ep, utc("2026-03-03T10:00:00Z"), CAL)
    checks = evaluate(
        Conditions.model_validate({"risk_level": {"at_least": "high"}, "looked_after": True}), ctx
    )
    assert [c.name for c in checks] == ["risk_level", "looked_after"]
    assert checks[0].detail == "risk_level is medium; rule wants >= high" and not checks[0].ok
    assert checks[1].ok


# --- properties -------------------------------------------------------------------------------

_LEVELS = st.sampled_from(list(RiskLevel))
_FACTORS = st.sets(st.sampled_from(list(RiskFactor)), max_size=4)


@st.composite
def episodes(draw: st.DrawFn) -> Episode:
    level = draw(st.none() | _LEVELS)
    dob = draw(st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2026, 1, 1)))
    groups: dict[str, Any] = {
        "child": {"given_name": "A", **({"date_of_birth": dob.isoformat()} if dob else {})},
        "episode": {
            "last_seen_at": "2026-03-02T08:30:00Z",
            "risk_factors": [f.value for f in draw(_FACTORS)],
            **({"risk_level": level.value} if level else {}),
        },
    }
    if draw(st.booleans()):
        groups["care"] = {
            "looked_after": draw(st.booleans()),
            "responsible_la": draw(st.sampled_from(["886", "860", "937"])),
            "host_la": draw(st.sampled_from(["886", "860", "937"])),
        }
    return episode_of(event(**groups))


_CONDS = st.one_of(
    st.builds(lambda lo: {"risk_level": {"at_least": lo.value}}, _LEVELS),
    st.builds(
        lambda a, b: {"age": {"min": min(a, b), "max": max(a, b)}}, st.integers(0, 20), st.integers(0, 20)
    ),
    st.builds(lambda fs: {"risk_factors": {"any": [f.value for f in fs]}}, _FACTORS.filter(bool)),
    st.builds(lambda v: {"looked_after": v}, st.booleans()),
    st.builds(lambda v: {"out_of_area": v}, st.booleans()),
    st.builds(lambda v: {"placed_in_area": v}, st.booleans()),
)


@settings(max_examples=300, deadline=None)
@given(ep=episodes(), cond=_CONDS, other=_CONDS)
def test_combinators_obey_logic(ep: Episode, cond: dict[str, Any], other: dict[str, Any]) -> None:
    auth = frozenset({"860"})
    a, b = check(cond, ep, authorities=auth), check(other, ep, authorities=auth)
    assert check({"not": cond}, ep, authorities=auth) is (not a)
    assert check({"any": [cond, other]}, ep, authorities=auth) is (a or b)
    assert check({"all": [cond, other]}, ep, authorities=auth) is (a and b)


@settings(max_examples=300, deadline=None)
@given(ep=episodes(), lo=_LEVELS, hi=_LEVELS)
def test_risk_bounds_agree_with_the_risk_order(ep: Episode, lo: RiskLevel, hi: RiskLevel) -> None:
    from gateway.model.enums import RISK_ORDER

    if RISK_ORDER[lo] > RISK_ORDER[hi]:
        lo, hi = hi, lo
    level = ep.episode.risk_level
    expected = level is not None and RISK_ORDER[lo] <= RISK_ORDER[level] <= RISK_ORDER[hi]
    assert check({"risk_level": {"at_least": lo.value, "at_most": hi.value}}, ep) is expected
    members = [m.value for m in RiskLevel if RISK_ORDER[lo] <= RISK_ORDER[m] <= RISK_ORDER[hi]]
    assert check({"risk_level": members}, ep) is expected
