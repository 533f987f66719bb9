"""Prometheus counters the adapters share.

``gateway_adapter_ignored_total{system,instance,reason}`` counts inputs that were valid but carried no
missing-episode event (a Mosaic step of an unmapped type, an LCS form that is not a missing form, a
Liberi event type outside the pathway). A sudden rise after a council reconfigures its system is the
sign that a mapping needs updating, so it is worth a dashboard panel.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter

_NAME = "gateway_adapter_ignored"


def _ignored_counter() -> Counter:
    # Another module (or a test re-import) may already have registered it: registering twice raises.
    existing = getattr(REGISTRY, "_names_to_collectors", {}).get(f"{_NAME}_total")
    if isinstance(existing, Counter):
        return existing
    return Counter(
        _NAME,
        "Valid inputs acknowledged and ignored: no missing-episode event in them",
        ["system", "instance", "reason"],
    )


IGNORED = _ignored_counter()


def count_ignored(system: str, instance: str, reason: str) -> None:
    IGNORED.labels(system=system, instance=instance, reason=reason).inc()
