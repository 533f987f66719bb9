"""A processor on a real database (SQLite and PostgreSQL), without a broker: correlation and lifecycle
are decided inside the processor's transaction, so they are tested there."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gateway.episodes.processor import EventProcessor, ProcessResult
from gateway.model import MissingEpisodeEvent
from gateway.model.build import idempotency_key
from gateway.routing.profiles import load_profiles
from gateway.routing.router import Router
from gateway.settings import REPO_ROOT
from gateway.store.db import make_engine, make_sessionmaker

_seq = itertools.count(1)


def ev(
    system: str,
    instance: str,
    record_id: str,
    event_type: str = "reported",
    *,
    occurred_at: str,
    **groups: Any,
) -> MissingEpisodeEvent:
    n = next(_seq)
    return MissingEpisodeEvent.model_validate(
        {
            "event_type": event_type,
            "occurred_at": occurred_at,
            "received_at": datetime.now(UTC),
            "source": {"system": system, "instance": instance, "record_id": record_id, "event_id": f"c{n}"},
            "idempotency_key": idempotency_key(system, instance, record_id, f"c{n}"),
            "child": groups.pop("child"),
            **groups,
        }
    )


class Harness:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions
        self.processor = EventProcessor(sessions, Router(load_profiles(REPO_ROOT / "mappings")))

    def process(self, *events: MissingEpisodeEvent) -> list[ProcessResult]:
        return [self.processor.process(e) for e in events]


@pytest.fixture
def harness(database_url: str) -> Iterator[Harness]:
    engine = make_engine(database_url)
    yield Harness(make_sessionmaker(engine))
    engine.dispose()
