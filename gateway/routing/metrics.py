"""Prometheus counters of the sharing-rules engine and its timers (a dashboard's "is anything being
left out?" panels). Labels are rule ids and codes only, never anything about a child."""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter


def _counter(name: str, doc: str, labels: list[str]) -> Counter:
    # A test re-import (or another module) may have registered it already: registering twice raises.
    existing = getattr(REGISTRY, "_names_to_collectors", {}).get(f"{name}_total")
    if isinstance(existing, Counter):
        return existing
    return Counter(name, doc, labels)


UNRESOLVED = _counter(
    "gateway_rules_unresolved_recipient",
    "A rule fired but its recipient id expression had no usable value (e.g. no school URN)",
    ["rule_id", "field"],
)
CONFLICTS = _counter(
    "gateway_rules_conflict",
    "Rules asking for one notification disagreed (deadline, profile, urgency, consent)",
    ["field"],
)
NORMALISED = _counter(
    "gateway_rules_normalised", "A normalise rule rewrote a value the area does not use", ["rule_id"]
)
TIMERS = _counter(
    "gateway_timers",
    "Timer lifecycle: armed, rearmed, rescheduled, claimed, fired, cancelled, released, failed",
    ["outcome"],
)
