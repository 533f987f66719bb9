"""Who is calling, and what they may do.

Roles and scopes:
- ``source``: may ingest, only for the ``system/instance`` pairs in its scopes
  (``ingest:compact/staffordshire-police``);
- ``recipient``: may read and acknowledge only its own notifications (``recipient:la.886`` or a single
  role, ``recipient:la.886.front_door``);
- ``operator``: quarantine, dead letters, review items, episodes and both audits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["source", "recipient", "operator"]
ROLES: tuple[Role, ...] = ("source", "recipient", "operator")


@dataclass(frozen=True)
class Principal:
    id: str  # key:<prefix> or jwt:<client id>: safe to log and audit
    role: Role
    scopes: frozenset[str] = field(default_factory=frozenset)

    def may_ingest(self, system: str, instance: str) -> bool:
        return self.role == "source" and f"ingest:{system}/{instance}" in self.scopes

    def recipients(self) -> list[tuple[str, str, str | None]]:
        """(kind, id, role-or-None) this recipient may read."""
        out: list[tuple[str, str, str | None]] = []
        if self.role != "recipient":
            return out
        for scope in self.scopes:
            if scope.startswith("recipient:"):
                parts = scope.removeprefix("recipient:").split(".")
                if len(parts) in (2, 3):
                    out.append((parts[0], parts[1], parts[2] if len(parts) == 3 else None))
        return out

    def may_read(self, kind: str, rid: str, role: str) -> bool:
        return any(k == kind and i == rid and (r is None or r == role) for k, i, r in self.recipients())


def valid_scope(role: Role, scope: str) -> bool:
    if role == "source":
        body = scope.removeprefix("ingest:")
        return scope.startswith("ingest:") and body.count("/") == 1 and all(body.split("/"))
    if role == "recipient":
        parts = scope.removeprefix("recipient:").split(".")
        return scope.startswith("recipient:") and len(parts) in (2, 3) and all(parts)
    return scope == "operator"
