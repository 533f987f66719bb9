"""The manual (canonical JSON) adapter passes the shared adapter contract."""

from __future__ import annotations

import json

from gateway.settings import REPO_ROOT
from tests.adapters.contract import AdapterContract, Invalid, Specimen

EXAMPLE = json.loads((REPO_ROOT / "examples" / "canonical-event.json").read_text())


def variant(**changes: object) -> bytes:
    doc = json.loads(json.dumps(EXAMPLE))
    for dotted, value in changes.items():
        node = doc
        *parents, last = dotted.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return json.dumps(doc).encode()


class TestManualContract(AdapterContract):
    system = "manual"
    instance = "demo"
    specimen_dir = REPO_ROOT / "examples"
    valid = [
        Specimen(
            "canonical-event.json",
            [
                {
                    "event_type": "reported",
                    "occurred_at": "2026-03-03T22:15:00Z",
                    "source.record_id": "DEMO/2026/0001",
                    "source.event_id": "demo-change-1",
                    "idempotency_key": "manual:demo:DEMO/2026/0001:demo-change-1",
                    "child.ids.nhs_number": "9996501388",
                    "child.ids.la_ids.0.la_code": "886",
                    "child.date_of_birth": "2011-05-01",
                    "episode.risk_level": "medium",
                    "episode.police.force": "E23000015",
                    "care.responsible_la": "886",
                    "care.host_la": "860",
                    "data_quality": [],
                }
            ],
        ),
    ]
    invalid = [
        Invalid("not json", b"{nope", "JSON"),
        Invalid("not utf-8", b"\xff\xfe{}", "JSON"),
        Invalid("a number", b"42", "expected a canonical event"),
        Invalid("empty list", b"[]", "no events"),
        Invalid("no source", variant(source=None), "source"),
        Invalid("another instance", variant(source__instance="other"), "instance"),
        Invalid("another system", variant(source__system="compact"), "manual"),
        Invalid("unknown event type", variant(event_type="vanished"), "event_type"),
        Invalid("unknown field", variant(child__favourite_colour="red"), "favourite_colour"),
        Invalid("no identity", variant(child={"sex": "female"}), "identity"),
        Invalid("bad time", variant(occurred_at="last tuesday"), "occurred_at"),
    ]


def test_a_bad_nhs_number_is_flagged_not_rejected() -> None:
    from adapters.base import RawInput
    from adapters.registry import get_adapter
    from tests.adapters.contract import MAPPINGS, RECEIVED

    body = variant(child__ids={"nhs_number": "9996501389"})
    [event] = get_adapter("manual", MAPPINGS).parse(
        RawInput(body=body, instance="demo", received_at=RECEIVED)
    )
    assert event.child.ids.nhs_number is None
    assert [(d.field, d.original) for d in event.data_quality] == [("child.ids.nhs_number", "9996501389")]
