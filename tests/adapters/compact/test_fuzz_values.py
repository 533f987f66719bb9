"""Well-formed exports with arbitrary values: whatever passes the schema must map or be refused with an
AdapterError, never crash (the contract's fuzz test mostly exercises the parser; this one reaches the
mapping, the time parsing and the canonical model)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.base import AdapterError, RawInput
from adapters.registry import get_adapter
from tests.adapters.compact import variants as v
from tests.adapters.contract import MAPPINGS

SEEDS = [v.NEW_REPORT, v.PLACED, v.RISK_REVIEW, v.FOUND, v.INTERVIEW, v.CANCELLED, v.DELTA]
# Values shaped like the schema's lexical forms, so that many mutants pass validation.
LEXICAL = st.one_of(
    st.text(max_size=40),
    st.from_regex(
        r"-?[0-9]{4,5}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,12})?(Z|[+-][0-9]{2}:[0-9]{2})?",
        fullmatch=True,
    ),
    st.from_regex(r"-?[0-9]{4,5}-[0-9]{2}-[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})?", fullmatch=True),
    st.sampled_from(
        [
            "true",
            "false",
            "1",
            "0",
            " +01 ",
            "0",
            "HIGH",
            "MEDIUM",
            "Found",
            "Cancelled",
            "Closed",
            "RiskReview",
            "Update",
            "PreventionInterview",
            "RecordedInError",
            "9994224965",
            "999",
        ]
    ),
)


def _mutants(data: st.DataObject) -> bytes:
    name = data.draw(st.sampled_from(SEEDS))
    root = etree.fromstring((v.COMPACT / name).read_bytes())
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    for _ in range(data.draw(st.integers(1, 4))):
        target = data.draw(st.sampled_from(elements))
        if target.attrib and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(sorted(target.attrib)))
            value = data.draw(LEXICAL)
            try:
                target.set(key, value)
            except ValueError:  # lxml refuses characters XML cannot hold
                continue
        elif len(target) == 0:
            try:
                target.text = data.draw(LEXICAL)
            except ValueError:
                continue
        elif data.draw(st.booleans()) and target.getparent() is not None:
            target.getparent().remove(target)
            elements = [e for e in root.iter() if isinstance(e.tag, str)]
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _check(data: st.DataObject) -> None:
    adapter = get_adapter("compact", MAPPINGS)
    body = _mutants(data)
    raw = RawInput(
        body=body, instance="staffordshire-police", received_at=datetime(2026, 3, 4, 9, tzinfo=UTC)
    )
    try:
        events = adapter.parse(raw)
    except AdapterError as exc:
        assert exc.reason
    else:
        assert events


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_values_in_a_well_formed_export_never_crash_the_adapter(data: st.DataObject) -> None:
    _check(data)


@pytest.mark.slow
@settings(max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_long_run_arbitrary_values_never_crash_the_adapter(data: st.DataObject) -> None:
    """``make fuzz``: the same property, many more examples."""
    _check(data)
