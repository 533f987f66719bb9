"""50,000 generated or mutated inputs per adapter through the ingest service (what ``POST /ingest`` and
the file-drop and e-mail transports call), against a real broker and a real store.

For every input: no exception other than the service's own ``Rejected``; no rejection answered with a
5xx (the HTTP layer sends ``Rejected.http_status``); every rejected input kept in quarantine with a
reason (Liberi's unsigned input is refused before anything is stored, by design: each fuzzed Liberi
body is therefore signed, so the parser behind the signature check is what gets fuzzed). At the end
the quarantine table holds exactly one row per rejection. Accepted inputs are published (confirmed).

``make fuzz`` runs it (marker ``slow``); ``GATEWAY_FUZZ_EXAMPLES`` changes the count per adapter. A
quicker run of the same test, 300 inputs per adapter, is in the normal suite (CI).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from adapters.liberi.signature import sign
from gateway.broker.publisher import ConfirmedPublisher
from gateway.ingest.service import IngestService, PublishFailed, Rejected
from gateway.runtime import declare_topology
from gateway.settings import REPO_ROOT, Settings
from gateway.store import tables
from gateway.store.db import make_engine, make_sessionmaker
from gateway.store.migrate import upgrade
from tests.adapters.contract import SPECIMENS
from tests.fuzz.mutate import inputs

EXAMPLES = int(os.environ.get("GATEWAY_FUZZ_EXAMPLES", "50000"))
QUICK = 100
LIBERI_SECRET = "fuzz-only-secret-for-kent-liberi-0123456789abcdef"


@dataclass(frozen=True)
class Target:
    system: str
    instance: str
    seeds: tuple[Path, ...]
    content_types: tuple[str | None, ...]


def _seeds(folder: str, *suffixes: str) -> tuple[Path, ...]:
    return tuple(sorted(p for p in (SPECIMENS / folder).iterdir() if p.suffix in suffixes))


TARGETS = [
    Target(
        "compact",
        "staffordshire-police",
        _seeds("compact", ".xml", ".eml"),
        ("application/xml", "text/xml", "message/rfc822", None, "application/json"),
    ),
    Target(
        "mosaic", "wandsworth-mosaic", _seeds("mosaic", ".json"), ("application/json", None, "text/plain")
    ),
    Target(
        "liquidlogic",
        "stoke-on-trent-liquidlogic",
        _seeds("liquidlogic", ".csv", ".xml"),
        ("text/csv", "application/xml", None, "application/json"),
    ),
    Target("liberi", "kent-liberi", _seeds("liberi", ".json"), ("application/json", None)),
    Target(
        "nhs",
        "nhs-test",
        _seeds("nhs", ".json", ".xml"),
        ("application/fhir+json", "application/fhir+xml", "application/json", None, "text/csv"),
    ),
    Target("manual", "demo", (REPO_ROOT / "examples" / "canonical-event.json",), ("application/json", None)),
]


def _fresh(target: Target, seed: bytes) -> bytes:
    """Liberi refuses a webhook older than its replay window before parsing: stamp the seeds now, so
    the parser behind the check is what gets fuzzed."""
    if target.system != "liberi":
        return seed
    doc = json.loads(seed)
    doc["publishedAt"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(doc).encode()


@pytest.fixture
def service(
    vhost: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[IngestService, object]]:
    monkeypatch.setenv("GATEWAY_LIBERI_SECRET_KENT_LIBERI", LIBERI_SECRET)
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    upgrade(url)
    settings = Settings(
        amqp_url=vhost, database_url=url, mappings_dir=REPO_ROOT / "mappings", environment="test"
    )
    declare_topology(settings)
    engine = make_engine(url)
    publisher = ConfirmedPublisher(vhost, name="fuzz-publisher").start()
    sessions = make_sessionmaker(engine)
    yield IngestService(sessions, publisher, settings.mappings_dir, confirm_timeout=30), sessions
    publisher.close()
    engine.dispose()


def _fuzz(service: tuple[IngestService, object], target: Target, examples: int) -> None:
    ingest, sessions = service
    seeds = [_fresh(target, p.read_bytes()) for p in target.seeds]
    assert seeds, f"no seeds for {target.system}"
    tally = {"accepted": 0, "rejected": 0, "unauthenticated": 0}

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,  # 50,000 examples would fill .hypothesis; failures print their reproduction
        suppress_health_check=list(HealthCheck),
    )
    @given(body=inputs(seeds), content_type=st.sampled_from(target.content_types))
    def run(body: bytes, content_type: str | None) -> None:
        headers = (
            {"X-Liberi-Signature": sign(body, LIBERI_SECRET.encode())} if target.system == "liberi" else {}
        )
        try:
            ingest.ingest(target.system, target.instance, body, content_type=content_type, headers=headers)
        except Rejected as exc:
            if exc.code == "unauthenticated":
                # Refused before anything is stored (DESIGN.md): a mutated signed timestamp, say.
                assert exc.http_status == 401 and exc.reason and exc.quarantine_id is None
                tally["unauthenticated"] += 1
                return
            assert exc.http_status < 500, f"{exc.http_status} {exc.code}: {exc.reason}"
            assert exc.reason, "a rejection without a reason"
            assert exc.quarantine_id is not None, f"rejected but not quarantined: {exc.code} {exc.reason}"
            tally["rejected"] += 1
        except PublishFailed as exc:  # the broker is real and local: this is a failure of the run
            raise AssertionError(f"broker did not confirm: {exc}") from exc
        else:
            tally["accepted"] += 1

    run()
    with sessions() as s:  # type: ignore[operator]
        quarantined = s.scalar(select(func.count()).select_from(tables.Quarantine))
    assert quarantined == tally["rejected"], (quarantined, tally)
    print(
        f"\n{target.system}: {examples} inputs, {tally['accepted']} accepted, "
        f"{tally['rejected']} quarantined, {tally['unauthenticated']} refused unauthenticated"
    )


@pytest.mark.slow
@pytest.mark.timeout(0)  # 50,000 inputs take minutes per adapter on a shared machine
@pytest.mark.parametrize("target", TARGETS, ids=[t.system for t in TARGETS])
def test_fuzz_every_adapter_through_ingest(service: tuple[IngestService, object], target: Target) -> None:
    _fuzz(service, target, EXAMPLES)


@pytest.mark.parametrize("target", TARGETS, ids=[t.system for t in TARGETS])
def test_fuzz_every_adapter_through_ingest_quick(
    service: tuple[IngestService, object], target: Target
) -> None:
    _fuzz(service, target, QUICK)
