"""The rule language: files load, and a bad file fails naming the file, the rule id and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.model import EventType, Role
from gateway.rules.loader import RuleFileError, load_rulebook
from gateway.settings import REPO_ROOT
from tests.rulesupport import PROTOCOLS, book, mappings

HEADER = """
area: testarea
name: "Test protocol"
authorities: ["937"]
police_forces: ["E23000017"]
lawful_basis: "Children Act 1989 s47"
rules:
"""


def errors_for(tmp_path: Path, rules_yaml: str, header: str = HEADER) -> list[str]:
    root = mappings(tmp_path, national=False, yaml={"testarea": header + rules_yaml})
    with pytest.raises(RuleFileError) as info:
        load_rulebook(root)
    return [str(e) for e in info.value.errors]


def test_the_shipped_rules_load_and_every_rule_cites_its_source() -> None:
    b = load_rulebook(REPO_ROOT / "mappings")
    assert {
        "national.responsible-la-front-door",
        "national.host-la-out-of-area",
        "national.return-interview",
        "national.ukmpu-72h",
    } <= set(b.rules)
    for r in b.rules.values():
        assert r.rule.cite.strip() and r.lawful_basis.strip()
        assert r.id.startswith(r.area + ".")
    # Issue 6: the five protocols' seven councils and their police areas.
    areas = {f.area for f in b.files}
    councils = {"warwickshire", "derby", "derbyshire", "kent", "wandsworth", "staffordshire"}
    councils.add("stoke-on-trent")
    forces = {"warwickshire-police", "derbyshire-police", "kent-police", "staffordshire-police"}
    assert councils | forces <= areas


def test_the_example_protocol_files_load(tmp_path: Path) -> None:
    b = book(
        tmp_path,
        "staffordshire",
        "warwickshire",
        "derby",
        "kent",
        "wandsworth",
        calendars=[PROTOCOLS / "calendars" / "warwickshire.yaml"],
    )
    assert b.files[0].area == "national"  # the baseline comes first
    assert b.windows() == (90,)
    assert b.calendars.school_calendar("937").name == "warwickshire-test"


@pytest.mark.parametrize(
    ("rules", "rule_id", "field", "words"),
    [
        (
            """
  - id: testarea.a
    cite: "§1"
    on: [reported]
    when: {risk_levle: high}
    notify: {kind: la, id: care.host_la, role: front_door, profile: full}
""",
            "testarea.a",
            "when.risk_levle",
            "Extra inputs",
        ),
        (
            """
  - id: testarea.b
    cite: "§1"
    on: [reported]
    notify: {kind: la, id: care.host_la, role: chief_bottle_washer, profile: full}
""",
            "testarea.b",
            "notify[0].role",
            "Input should be",
        ),
        (
            """
  - id: testarea.c
    on: [reported]
    notify: {kind: la, id: care.host_la, role: front_door, profile: full}
""",
            "testarea.c",
            "cite",
            "Field required",
        ),
        (
            """
  - id: testarea.d
    cite: "§1"
    after: {fortnights: 2, since: last_seen_at}
    while: {status: open}
    notify: {kind: la, id: care.host_la, role: front_door, profile: full}
""",
            "testarea.d",
            "after",
            "fortnights",
        ),
        (
            """
  - id: testarea.e
    cite: "§1"
    on: [reported]
    after: {hours: 24, since: last_seen_at}
    while: {status: open}
    notify: {kind: la, id: care.host_la, role: front_door, profile: full}
""",
            "testarea.e",
            "(rule)",
            "exactly one trigger",
        ),
        (
            """
  - id: testarea.f
    cite: "§1"
    after: {hours: 24, since: last_seen_at}
    notify: {kind: la, id: care.host_la, role: front_door, profile: full}
""",
            "testarea.f",
            "(rule)",
            "needs `while`",
        ),
        (
            """
  - id: testarea.g
    cite: "§1"
    on: [reported]
    notify: {kind: la, id: care.host_la, role: front_door, profile: everything}
""",
            "testarea.g",
            "notify[0].profile",
            "unknown profile",
        ),
        (
            """
  - id: testarea.h
    cite: "§1"
    on: [reported]
    notify: {kind: school, id: care.host_la, role: school_dsl, profile: school_encompass}
""",
            "testarea.h",
            "notify[0].id",
            "cannot address a school",
        ),
        (
            """
  - id: testarea.i
    cite: "§1"
    on: [reported]
    notify: {kind: la, id: care.responsibel_la, role: front_door, profile: full}
""",
            "testarea.i",
            "notify[0].id",
            "not a field of the Episode",
        ),
        (
            """
  - id: testarea.j
    cite: "§1"
    on: [reported]
    notify: {kind: la, id: "88", role: front_door, profile: full}
""",
            "testarea.j",
            "notify[0].id",
            "not a valid la code",
        ),
        (
            """
  - id: testarea.k
    cite: "§1"
    on: [reported]
    notify: {kind: school, id: education.school_urn, role: school_dsl, profile: school_encompass,
             purpose: "Child placed by {care.responsible_la} missing"}
""",
            "testarea.k",
            "notify[0].purpose",
            "withheld by profile 'school_encompass'",
        ),
        (
            """
  - id: otherarea.l
    cite: "§1"
    on: [reported]
    notify: {kind: la, id: care.host_la, role: front_door, profile: full}
""",
            "otherarea.l",
            "id",
            "must start with the file's area",
        ),
        (
            """
  - id: testarea.m
    cite: "§1"
    on: [reported]
    when: {age: {min: 18, max: 4}}
    notify: {kind: la, id: care.host_la, role: front_door, profile: full}
""",
            "testarea.m",
            "when.age",
            "nothing can match",
        ),
        (
            """
  - id: testarea.n
    cite: "§1"
    on: [reported]
    task: {kind: la, id: care.host_la, role: front_door, profile: full, what: "Hold a meeting"}
""",
            "testarea.n",
            "task[0].due",
            "Field required",
        ),
        (
            """
  - id: testarea.o
    cite: "{}"
    on: [reported]
    notify: {{kind: la, id: care.host_la, role: front_door, profile: full}}
""".format("x" * 129),
            "testarea.o",
            "cite",
            "at most 128",
        ),
        (
            """
  - id: testarea.p
    cite: "§1"
    on: [vanished]
    notify: {kind: la, id: care.host_la, role: front_door, profile: full}
""",
            "testarea.p",
            "on[0]",
            "Input should be",
        ),
        (
            """
  - id: testarea.q
    cite: "§1"
    on: [reported]
    when: {present: [care.nonsense]}
    notify: {kind: la, id: care.host_la, role: front_door, profile: full}
""",
            "testarea.q",
            "when.present",
            "not a field of the Episode",
        ),
        (
            """
  - id: testarea.r
    cite: "§1"
    after: {hours: 24, since: last_seen_at}
    while: {status: open}
    notify: {kind: school, id: education.school_urn, role: school_dsl, profile: school_encompass,
             urgency: digest}
""",
            "testarea.r",
            "(rule)",
            "cannot send a digest",
        ),
        (
            """
  - id: testarea.s
    cite: "§1"
    normalise: {field: episode.risk_level, from: [low], to: severe}
""",
            "testarea.s",
            "normalise",
            "not values of episode.risk_level",
        ),
    ],
)
def test_each_error_names_file_rule_and_field(
    tmp_path: Path, rules: str, rule_id: str, field: str, words: str
) -> None:
    errors = errors_for(tmp_path, rules)
    assert errors, "expected an error"
    hit = [e for e in errors if f"rule {rule_id}: field {field}:" in e and words in e]
    assert hit, errors
    assert all("testarea.yaml" in e for e in errors)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    errors = errors_for(
        tmp_path,
        """
  - id: testarea.one
    cite: "§1"
    on: [reported]
    notify: {kind: la, id: care.host_la, role: nobody, profile: full}
  - id: testarea.two
    cite: "§2"
    on: [reported]
    notify: {kind: la, id: care.host_la, role: front_door, profile: nothing}
""",
    )
    assert any("testarea.one" in e for e in errors) and any("testarea.two" in e for e in errors)


def test_placed_in_area_needs_the_files_authorities(tmp_path: Path) -> None:
    header = HEADER.replace('authorities: ["937"]\n', "")
    errors = errors_for(
        tmp_path,
        """
  - id: testarea.placed
    cite: "§1"
    on: [reported]
    when: {placed_in_area: true}
    notify: {kind: la, id: care.host_la, role: front_door, profile: full}
""",
        header=header,
    )
    assert any("field when.placed_in_area" in e for e in errors), errors


def test_file_level_problems(tmp_path: Path) -> None:
    no_scope = HEADER.replace('authorities: ["937"]\n', "").replace('police_forces: ["E23000017"]\n', "")
    errors = errors_for(tmp_path, "  []\n", header=no_scope.replace("rules:\n", "rules:"))
    assert any("rule -: field (rule)" in e and "authorities" in e for e in errors), errors
    errors = errors_for(
        tmp_path,
        """
  - id: testarea.x
    cite: "§1"
    on: [reported]
    notify: {kind: la, id: care.host_la, role: front_door, profile: full}
""",
        header=HEADER.replace('lawful_basis: "Children Act 1989 s47"\n', ""),
    )
    assert any("field lawful_basis: missing" in e for e in errors), errors


def test_duplicate_ids_and_duplicate_keys_are_refused(tmp_path: Path) -> None:
    rule = """
  - id: testarea.same
    cite: "§1"
    on: [reported]
    notify: {kind: la, id: care.host_la, role: front_door, profile: full}
"""
    errors = errors_for(tmp_path, rule + rule)
    assert any("rule testarea.same: field id: duplicate" in e for e in errors), errors
    errors = errors_for(
        tmp_path,
        """
  - id: testarea.twice
    cite: "§1"
    on: [reported]
    notify: {kind: la, id: care.host_la, role: front_door, profile: full}
    notify: {kind: la, id: care.responsible_la, role: front_door, profile: full}
""",
    )
    assert any("duplicate key 'notify'" in e for e in errors), errors


def test_on_and_clock_times_are_read_as_written(tmp_path: Path) -> None:
    """YAML 1.1 would read `on:` as true and 17:00 as 1020: the strict loader does neither."""
    root = mappings(
        tmp_path,
        national=False,
        yaml={
            "testarea": HEADER
            + """
  - id: testarea.ooh
    cite: "§1"
    on: [reported]
    when: {time_of_day: {from: 17:00, to: 09:00}}
    notify: {kind: la, id: care.host_la, role: edt, profile: full, due: 1 working_days 17:00}
"""
        },
    )
    rule = load_rulebook(root).rules["testarea.ooh"].rule
    assert rule.on == [EventType.reported]
    assert rule.when is not None and rule.when.time_of_day is not None
    assert (rule.when.time_of_day.start.hour, rule.when.time_of_day.end.hour) == (17, 9)
    assert rule.notify[0].due is not None and rule.notify[0].due.span is not None
    assert rule.notify[0].due.span.at is not None and rule.notify[0].due.span.at.hour == 17


_ROLE = st.sampled_from([r.value for r in Role])
_EVENTS = st.lists(st.sampled_from([e.value for e in EventType]), min_size=1, max_size=3, unique=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    role=_ROLE,
    events=_EVENTS,
    hours=st.integers(min_value=0, max_value=1000),
    age_min=st.integers(min_value=0, max_value=20),
    age_span=st.integers(min_value=0, max_value=5),
    risk=st.sampled_from(["no_apparent_risk", "very_low", "low", "medium", "high"]),
)
def test_generated_valid_rules_always_load(
    tmp_path_factory: pytest.TempPathFactory,
    role: str,
    events: list[str],
    hours: int,
    age_min: int,
    age_span: int,
    risk: str,
) -> None:
    tmp = tmp_path_factory.mktemp("gen")
    text = (
        HEADER
        + f"""
  - id: testarea.event
    cite: "§1"
    on: [{", ".join(events)}]
    when: {{age: {{min: {age_min}, max: {age_min + age_span}}}, risk_level: {{at_least: {risk}}}}}
    notify: {{kind: la, id: [care.responsible_la, care.host_la], role: {role}, profile: full, due: {hours}h}}
  - id: testarea.timer
    cite: "§2"
    after: {{hours: {hours}, since: reported_at}}
    while: {{status: open}}
    task: {{kind: la, id: care.host_la, role: {role}, profile: la_host, what: "Do it", due: {hours}h}}
"""
    )
    b = load_rulebook(mappings(tmp, national=False, yaml={"testarea": text}))
    assert set(b.rules) == {"testarea.event", "testarea.timer"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    junk=st.dictionaries(
        st.text(min_size=1, max_size=8), st.one_of(st.integers(), st.text(max_size=5)), max_size=4
    )
)
def test_random_junk_in_a_rule_fails_with_a_named_error_never_a_crash(
    tmp_path_factory: pytest.TempPathFactory, junk: dict[str, object]
) -> None:
    import yaml

    tmp = tmp_path_factory.mktemp("junk")
    body = {
        "id": "testarea.junk",
        "cite": "§1",
        "on": ["reported"],
        "notify": {"kind": "la", "id": "care.host_la", "role": "front_door", "profile": "full"},
        **junk,
    }
    text = HEADER + yaml.safe_dump([body], sort_keys=False).replace("\n", "\n  ").rstrip() + "\n"
    text = text.replace("rules:\n", "rules:\n  ")
    root = mappings(tmp, national=False, yaml={"testarea": text})
    try:
        load_rulebook(root)
    except RuleFileError as exc:
        assert exc.errors and all(e.file.endswith("testarea.yaml") for e in exc.errors)
