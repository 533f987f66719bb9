"""The shipped recipient directory can reach every recipient the shipped rules address in their own
areas: a rule that names a role nobody reads would leave a child's notice on the dead-letter list."""

from __future__ import annotations

from gateway.delivery.directory import load_directory
from gateway.model import RecipientKind
from gateway.rules.loader import load_rulebook
from gateway.settings import REPO_ROOT

SHIPPED = load_rulebook(REPO_ROOT / "mappings")
DIRECTORY = load_directory(REPO_ROOT / "mappings" / "directory")
PRODUCTION = load_directory(REPO_ROOT / "mappings" / "directory", production=True)


def _addressed() -> set[tuple[str, str, str, str]]:
    """(kind, id, role, rule id) for every recipient a rule addresses in the file's own area."""
    out = set()
    for f in SHIPPED.files:
        for lr in f.rules:
            for action in [*lr.rule.notify, *lr.rule.task]:
                kind = action.kind
                for expr in action.id:
                    if "." not in expr:  # a literal: that organisation must be in the directory
                        out.add((kind.value, expr, action.role.value, lr.id))
                    elif kind is RecipientKind.la:
                        out |= {(kind.value, a, action.role.value, lr.id) for a in f.authorities}
                    elif kind is RecipientKind.police:
                        out |= {(kind.value, p, action.role.value, lr.id) for p in f.police_forces}
    return out


def test_every_recipient_a_rule_addresses_in_its_own_area_is_in_the_directory() -> None:
    missing = sorted(
        f"{kind}.{id_}.{role} (for {rule})"
        for kind, id_, role, rule in _addressed()
        if DIRECTORY.lookup(kind, id_, role) is None
    )
    assert not missing, "no directory entry for:\n" + "\n".join(missing)


def test_the_encoded_councils_and_forces_are_all_there() -> None:
    councils = {"937", "831", "830", "886", "212", "860", "861"}
    covered = {a for f in SHIPPED.files for a in f.authorities}
    assert councils <= covered
    for code in councils:
        assert DIRECTORY.lookup("la", code, "front_door") is not None


def test_placeholders_never_reach_a_real_organisation_and_are_dropped_in_production() -> None:
    for key, entry in DIRECTORY.entries.items():
        for endpoint in entry.endpoints():
            for host in endpoint.hosts():
                # Shipped endpoints are placeholders: a reserved domain, or the gateway's own queue.
                assert host.endswith((".example", "example.org", "example.com", ".test")), (key, host)
                assert entry.example, f"{key}: an entry with a placeholder endpoint must say example: true"
    # Production keeps only entries with no placeholder (the councils' queues on the gateway's broker).
    assert set(PRODUCTION.entries) == {k for k, e in DIRECTORY.entries.items() if not e.example}
