"""Minimisation: a field outside a notification's profile never appears in its payload (property test
over random episodes), and the shipped profiles say what DESIGN.md says they say."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.model import (
    CaseStatus,
    Category,
    Episode,
    EpisodeStatus,
    FoundBy,
    LegalStatus,
    MissingFrom,
    PlacementType,
    RiskFactor,
    RiskLevel,
    Sex,
)
from gateway.routing.merge import materialise
from gateway.routing.profiles import (
    ALWAYS,
    Profile,
    ProfileFileError,
    disclosed_fields,
    load_profiles,
    minimise,
    union,
)
from gateway.rules.evaluate import evaluate_event
from gateway.settings import REPO_ROOT
from tests.rulesupport import PROTOCOLS, book, event

PROFILES = load_profiles(REPO_ROOT / "mappings")

# Non-blank text (the models strip whitespace, and an id must not be empty).
text = st.text(alphabet=st.characters(categories=["L", "N", "P"]), min_size=1, max_size=12)
maybe = st.none
times = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC))


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def worker() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={"name": text, "team": text, "email": text, "phone": text})


@st.composite
def episode_docs(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "episode_id": str(uuid.uuid4()),
        "status": draw(st.sampled_from(list(EpisodeStatus))).value,
        "opened_at": draw(times).isoformat(),
        "child": draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "given_name": text,
                    "family_name": text,
                    "known_as": text,
                    "date_of_birth": st.dates(min_value=date(2005, 1, 1), max_value=date(2025, 1, 1)).map(
                        str
                    ),
                    "sex": st.sampled_from([s.value for s in Sex]),
                    "description": text,
                    "languages": st.lists(text, max_size=2),
                    "interpreter_needed": st.booleans(),
                    "ids": st.fixed_dictionaries(
                        {},
                        optional={
                            "nhs_number": st.just("9434765919"),
                            "police_person_id": text,
                            "upn": text,
                            "la_ids": st.lists(
                                st.fixed_dictionaries(
                                    {"la_code": st.sampled_from(["886", "860"]), "id": text}
                                ),
                                max_size=2,
                            ),
                        },
                    ),
                },
            )
        ),
        "episode": draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "category": st.sampled_from([c.value for c in Category]),
                    "missing_from": st.sampled_from([m.value for m in MissingFrom]),
                    "last_seen_at": times.map(datetime.isoformat),
                    "reported_at": times.map(datetime.isoformat),
                    "last_seen_location": st.fixed_dictionaries(
                        {}, optional={"text": text, "postcode": text}
                    ),
                    "risk_level": st.sampled_from([r.value for r in RiskLevel]),
                    "risk_factors": st.lists(
                        st.sampled_from([f.value for f in RiskFactor]), max_size=3, unique=True
                    ),
                    "risk_assessed_by": text,
                    "circumstances": text,
                    "police": st.fixed_dictionaries(
                        {}, optional={"force": st.just("E23000015"), "reference": text}
                    ),
                    "found_at": times.map(datetime.isoformat),
                    "found_by": st.sampled_from([f.value for f in FoundBy]),
                    "found_location": st.fixed_dictionaries({}, optional={"text": text}),
                    "harm_disclosed": st.booleans(),
                },
            )
        ),
        "data_quality": draw(
            st.lists(st.fixed_dictionaries({"field": text, "problem": text, "original": text}), max_size=2)
        ),
        "source_refs": [{"system": "compact", "instance": "x-police", "record_id": draw(text)}],
        "event_ids": [str(uuid.uuid4())],
        "field_sources": {"child.given_name": str(uuid.uuid4())},
    }
    if draw(st.booleans()):
        doc["care"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "looked_after": st.booleans(),
                    "legal_status": st.sampled_from([s.value for s in LegalStatus]),
                    "cp_plan": st.booleans(),
                    "child_in_need": st.booleans(),
                    "early_help": st.booleans(),
                    "case_status": st.sampled_from([c.value for c in CaseStatus]),
                    "responsible_la": st.sampled_from(["886", "860", "937"]),
                    "host_la": st.sampled_from(["886", "860", "937"]),
                    "placement": st.fixed_dictionaries(
                        {},
                        optional={
                            "type": st.sampled_from([p.value for p in PlacementType]),
                            "provider": text,
                            "ofsted_urn": text,
                            "postcode": text,
                        },
                    ),
                    "allocated_worker": worker(),
                    "iro": worker(),
                },
            )
        )
    if draw(st.booleans()):
        doc["education"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "school_urn": st.just("123456"),
                    "school_name": text,
                    "electively_home_educated": st.booleans(),
                },
            )
        )
    if draw(st.booleans()):
        doc["health"] = draw(
            st.fixed_dictionaries(
                {}, optional={"gp_ods": text, "named_nurse_ods": text, "nhs_alert_requested": st.booleans()}
            )
        )
    if draw(st.booleans()):
        doc["return_interview"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "offered_at": times.map(datetime.isoformat),
                    "declined": st.booleans(),
                    "provider": text,
                },
            )
        )
    return doc


def _allowed(path: str, allow: list[str]) -> bool:
    return any(a == "*" or path == a or path.startswith(a + ".") for a in allow)


@settings(max_examples=300, deadline=None)
@given(
    doc=episode_docs(), names=st.lists(st.sampled_from(sorted(PROFILES)), min_size=1, max_size=3, unique=True)
)
def test_no_field_outside_the_profile_ever_appears(doc: dict[str, Any], names: list[str]) -> None:
    episode = Episode.model_validate(doc)
    profile = PROFILES[names[0]] if len(names) == 1 else union(names, PROFILES)
    payload = minimise(episode, profile)
    allow = [*ALWAYS, *profile.fields]
    for leaf in disclosed_fields(payload):
        assert _allowed(leaf, allow), f"{leaf} leaked through {names}"
    # Nothing allowed is lost either (projection, not a guess).
    full = minimise(episode, PROFILES["full"])
    for leaf in disclosed_fields(full):
        if _allowed(leaf, allow) and not leaf.startswith(("field_sources", "episode_counts")):
            assert leaf in disclosed_fields(payload) or any(
                leaf.startswith(p + ".") for p in disclosed_fields(payload)
            )


@settings(max_examples=200, deadline=None)
@given(doc=episode_docs())
def test_the_school_profile_never_carries_risk_circumstances_or_care(doc: dict[str, Any]) -> None:
    payload = minimise(Episode.model_validate(doc), PROFILES["school_encompass"])
    leaves = disclosed_fields(payload)
    forbidden = (
        "care",
        "health",
        "episode.risk_factors",
        "episode.circumstances",
        "episode.risk_level",
        "episode.last_seen_location",
        "data_quality",
        "source_refs",
        "risk_history",
        "child.ids",
    )
    assert not [f for f in leaves if f.startswith(forbidden)]
    assert set(payload) <= {
        "schema",
        "episode_id",
        "status",
        "child",
        "episode",
        "education",
        "opened_at",
        "found_at",
        "closed_at",
    }


def test_profiles_are_what_the_design_says() -> None:
    assert {"full", "la_host", "school_encompass", "health_safeguarding", "police", "provider"} <= set(
        PROFILES
    )
    school = PROFILES["school_encompass"].fields
    assert {
        "child.given_name",
        "child.family_name",
        "child.date_of_birth",
        "episode.police.reference",
    } <= set(school)
    for name, profile in PROFILES.items():
        if name != "full":
            assert "episode.circumstances" not in profile.fields or name == "police"
            assert "data_quality" not in profile.fields and "source_refs" not in profile.fields


def test_a_profile_naming_a_field_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    (tmp_path / "profiles.yaml").write_text(
        "profiles:\n  bad:\n    description: x\n    fields: [child.given_name, child.shoe_size]\n",
        encoding="utf-8",
    )
    with pytest.raises(ProfileFileError, match=r"profile bad: field 'child\.shoe_size'"):
        load_profiles(tmp_path)


@settings(max_examples=150, deadline=None)
@given(doc=episode_docs())
def test_purpose_text_never_names_what_the_profile_withholds(doc: dict[str, Any], tmp_path_factory) -> None:
    """The default purpose adds "placed by X in Y" only when the profile itself discloses both codes."""
    b = _book(tmp_path_factory)
    episode = Episode.model_validate({**doc, "status": "open"})
    ev = event(education={"school_urn": "123456"}, child={"given_name": "A", "date_of_birth": "2014-01-01"})
    files = b.applicable(episode)
    outcome = evaluate_event(b, files, episode, ev, datetime(2026, 3, 2, tzinfo=UTC))
    for routed in materialise(
        None,
        episode,
        outcome.candidates,
        b.profiles,
        cause="t",
        event_id=None,
        now=datetime(2026, 3, 2, tzinfo=UTC),
    ):
        n = routed.notification
        profile: Profile = (
            b.profiles[n.profile] if n.profile in b.profiles else union(n.profile.split("+"), b.profiles)
        )
        care = episode.care
        if care and care.responsible_la and care.host_la and care.responsible_la != care.host_la:
            placed = f"placed by {care.responsible_la} in {care.host_la}"
            if (
                "care.host_la" not in {f for f in profile.fields}
                and "*" not in profile.fields
                and "care" not in profile.fields
            ):
                assert placed not in n.purpose


_BOOKS: dict[str, Any] = {}


def _book(factory) -> Any:
    if "b" not in _BOOKS:
        _BOOKS["b"] = book(
            factory.mktemp("b"),
            "warwickshire",
            "staffordshire",
            "wandsworth",
            calendars=[PROTOCOLS / "calendars" / "warwickshire.yaml"],
        )
    return _BOOKS["b"]


# --- the compiled allow-list answers exactly what the plain definitions answer ---------------------
_SEGMENT = st.sampled_from(["child", "ids", "nhs_number", "care", "episode", "risk", "a", "a.b", "x"])
_PATH = st.lists(_SEGMENT, min_size=1, max_size=4).map(".".join)


@settings(max_examples=500, deadline=None)
@given(allow=st.lists(st.one_of(_PATH, st.just("*")), max_size=6), path=_PATH)
def test_compiled_allow_list_matches_the_plain_definition(allow: list[str], path: str) -> None:
    from gateway.routing.profiles import _compiled

    compiled = _compiled(tuple(allow))
    assert compiled.allowed(path) == any(a == "*" or path == a or path.startswith(a + ".") for a in allow)
    assert compiled.beneath(path) == any(a.startswith(path + ".") for a in allow)
