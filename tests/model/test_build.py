"""build_event: a bad non-essential value never blocks a notice; what identifies the report is essential."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.model.build import EventRejected, build_event, idempotency_key

VALUES = {
    "event_type": "reported",
    "occurred_at": "2026-03-03T22:15:00Z",
    "received_at": "2026-03-04T09:00:00Z",
    "source": {"system": "compact", "instance": "staffordshire-police", "record_id": "MP/2026/001234"},
    "idempotency_key": "k",
    "child": {"given_name": "Tia", "ids": {"nhs_number": "9996501388"}},
    "episode": {"last_seen_at": "2026-03-03T19:30:00Z"},
}


def with_(path: str, value: Any) -> dict[str, Any]:
    import copy

    data = copy.deepcopy(VALUES)
    node = data
    parts = path.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return data


def test_an_nhs_number_failing_its_check_digit_is_left_out_and_recorded() -> None:
    ev = build_event(with_("child.ids.nhs_number", "9996501389"))
    assert ev.child.ids.nhs_number is None
    assert ev.child.given_name == "Tia"
    [issue] = ev.data_quality
    assert issue.field == "child.ids.nhs_number" and "Modulus 11" in issue.problem
    assert issue.original == "9996501389"


def test_a_date_of_birth_in_the_future_is_left_out_and_recorded() -> None:
    ev = build_event(with_("child.date_of_birth", "2030-01-01"))
    assert ev.child.date_of_birth is None
    assert ev.data_quality[0].field == "child.date_of_birth"
    assert "future" in ev.data_quality[0].problem


def test_a_date_of_birth_after_last_seen_is_left_out() -> None:
    ev = build_event(with_("child.date_of_birth", "2026-03-04"))
    assert ev.child.date_of_birth is None and "after the last-seen" in ev.data_quality[0].problem


def test_found_before_last_seen_keeps_both_times_and_flags_the_conflict() -> None:
    ev = build_event(with_("episode.found_at", "2026-03-03T18:00:00Z"))
    assert ev.episode.found_at is not None and ev.episode.last_seen_at is not None
    assert ev.data_quality[0].field == "episode.found_at"


def test_a_bad_list_item_goes_alone() -> None:
    ev = build_event(with_("child.ids.la_ids", [{"la_code": "88", "id": "x"}, {"la_code": "886", "id": "y"}]))
    assert [i.la_code for i in ev.child.ids.la_ids] == ["886"]
    assert ev.data_quality[0].field == "child.ids.la_ids.0"


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("event_type", "vanished", "event_type"),
        ("occurred_at", "yesterday", "occurred_at"),
        ("source.record_id", "", "source.record_id"),
        ("child.favourite_colour", "red", "child.favourite_colour"),
    ],
)
def test_essential_problems_reject_naming_the_field(path: str, value: Any, named: str) -> None:
    with pytest.raises(EventRejected) as exc:
        build_event(with_(path, value))
    assert named in str(exc.value)


def test_no_identity_of_the_child_is_a_rejection() -> None:
    with pytest.raises(EventRejected, match="identity"):
        build_event(with_("child", {"sex": "female"}))


def test_the_idempotency_key_is_stable() -> None:
    assert idempotency_key("compact", "x", "R1", "C1") == "compact:x:R1:C1"
    assert idempotency_key("manual", "x", "R1", content=b"abc") == idempotency_key(
        "manual", "x", "R1", content=b"abc"
    )
    assert idempotency_key("manual", "x", "R1", content=b"abc") != idempotency_key(
        "manual", "x", "R1", content=b"abd"
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
paths = st.sampled_from(
    [
        "child.ids.nhs_number",
        "child.date_of_birth",
        "child.sex",
        "child.languages",
        "episode.risk_level",
        "episode.risk_factors",
        "episode.last_seen_at",
        "care.host_la",
        "care.placement",
        "education",
        "health.gp_ods",
        "return_interview.offered_at",
        "attachments",
        "child.ids.la_ids",
        "episode.police",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(paths, json_values), max_size=5))
def test_garbage_in_non_essential_fields_never_blocks_the_notice(changes: list[tuple[str, Any]]) -> None:
    data = VALUES
    for path, value in changes:
        data = with_(path, value) if data is VALUES else _set(data, path, value)
    try:
        ev = build_event(data)
    except EventRejected as exc:
        # The only acceptable rejections: an unknown key (a mapping bug) or no identity of the child left.
        assert all("Extra inputs" in p or "identity" in p or p.startswith("child:") for p in exc.problems), (
            exc
        )
        return
    assert ev.source.record_id == "MP/2026/001234" and ev.event_type.value == "reported"


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node = data
    parts = path.split(".")
    for p in parts[:-1]:
        nxt = node.get(p)
        if not isinstance(nxt, dict):
            nxt = {}
            node[p] = nxt
        node = nxt
    node[parts[-1]] = value
    return data
