"""Specimens of the NHS feed and variants built from them, for the contract and the adapter's tests.

Every variant starts from a partner specimen (shared/contracts/specimens/nhs/) and changes one thing,
so that a test's failure points at the one rule it exercises.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from tests.adapters.contract import SHARED, SPECIMENS

NHS = SPECIMENS / "nhs"
UKCORE = SHARED / "fixtures" / "fhir-ukcore"

WARD = "01-ward-left-without-authorisation.json"
ALERT = "02-alert-request-health-safeguarding.json"
ED = "03-emergency-department-child-flagged-missing.json"
RETURNED = "04-returned-to-ward-collection.json"
MENTAL_HEALTH_XML = "05-mental-health-unit-absent-from-leave.xml"

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"


def load(name: str) -> dict[str, Any]:
    return json.loads((NHS / name).read_text(encoding="utf-8"))


def dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def resources(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == kind]


def one(doc: dict[str, Any], kind: str, index: int = 0) -> dict[str, Any]:
    return resources(doc, kind)[index]


def missing_flag(doc: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in resources(doc, "Flag") if f["code"]["coding"][0]["code"] == "missing-child")


def without(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["entry"] = [e for e in doc["entry"] if e["resource"]["resourceType"] != kind]
    return doc


def edit(name: str, change: Callable[[dict[str, Any]], Any]) -> bytes:
    """The specimen ``name`` with ``change`` applied to its JSON (in place)."""
    doc = load(name)
    change(doc)
    return dump(doc)


def xml_edit(name: str, *pairs: tuple[str, str]) -> bytes:
    text = (NHS / name).read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, f"{old!r} not in {name}"
        text = text.replace(old, new, 1)
    return text.encode()


def xxe(target: str = "file:///etc/passwd") -> bytes:
    """The XML specimen with an external entity pulled into a value."""
    return xml_edit(
        MENTAL_HEALTH_XML,
        (
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Bundle [<!ENTITY xxe SYSTEM "{target}">]>',
        ),
        ('<family value="Wardle"/>', '<family value="&xxe;"/>'),
    )


def billion_laughs() -> bytes:
    """Ten levels of ten-fold entity expansion (a thousand million "lol"s if anything expanded them)."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    return xml_edit(
        MENTAL_HEALTH_XML,
        (
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Bundle [' + "".join(entities) + "]>",
        ),
        ('<family value="Wardle"/>', '<family value="&lol9;"/>'),
    )


def standalone(name: str, focus_kind: str) -> dict[str, Any]:
    """The specimen's focus resource on its own, with everything it refers to contained (``#id``)."""
    doc = load(name)
    focus = copy.deepcopy(one(doc, focus_kind))
    others = [copy.deepcopy(e) for e in doc["entry"] if e["resource"] is not None]
    by_url = {
        e["fullUrl"]: e["resource"]
        for e in others
        if e["resource"]["resourceType"] not in ("MessageHeader", focus_kind)
    }
    text = json.dumps(focus)
    contained = []
    for url, resource in by_url.items():
        inner = json.dumps(resource)
        for other_url, other in by_url.items():
            inner = inner.replace(other_url, "#" + other["id"])
        contained.append(json.loads(inner))
        text = text.replace(url, "#" + resource["id"])
    out = json.loads(text)
    out["contained"] = contained
    return out
