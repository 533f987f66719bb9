"""Failpoints for fault-injection tests (like etcd's gofail): named places where a test can make the
process die or fail, to prove the guarantees in DESIGN.md hold when something is killed.

Inactive unless ``GATEWAY_FAILPOINTS`` is set, e.g. ``processor.after_commit=exit`` (the process dies
as if by ``kill -9``) or ``processor.before_commit=raise``. Never set in production.
"""

from __future__ import annotations

import os


class InjectedFault(RuntimeError):
    pass


def failpoint(name: str) -> None:
    spec = os.environ.get("GATEWAY_FAILPOINTS")
    if not spec:
        return
    for item in spec.split(","):
        point, _, action = item.strip().partition("=")
        if point != name:
            continue
        if action == "exit":
            os._exit(137)
        raise InjectedFault(f"failpoint {name}")
