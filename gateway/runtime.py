"""Wiring: build the engine, publisher, processor, relay and consumer from one Settings.

Used by the CLI (``serve``, ``worker``, ``run``), the API and the tests, so they all run the same
objects the same way.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pika
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.broker.connection import parameters
from gateway.broker.consumer import Consumer
from gateway.broker.publisher import ConfirmedPublisher
from gateway.broker.topology import PROCESS_QUEUE, declare_core
from gateway.episodes.handler import ProcessHandler
from gateway.episodes.processor import EventProcessor
from gateway.ingest.service import IngestService
from gateway.routing.profiles import load_profiles
from gateway.routing.router import Router
from gateway.settings import Settings
from gateway.store.db import make_engine, make_sessionmaker
from gateway.store.outbox import OutboxRelay, RecipientQueues


def open_store(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    # hide_parameters: a database error must never print a child's details into a log.
    engine = make_engine(settings.database_url, hide_parameters=True)
    return engine, make_sessionmaker(engine)


def declare_topology(settings: Settings) -> None:
    conn = pika.BlockingConnection(parameters(settings.amqp_url, name="gateway-topology"))
    try:
        declare_core(
            conn.channel(), delivery_limit=settings.delivery_limit, retry_delays_ms=settings.retry_delays_ms
        )
    finally:
        conn.close()


@dataclass
class Worker:
    """Processor (consumer of ``gateway.process``) and outbox relay, each on its own threads."""

    consumer: Consumer
    relay: OutboxRelay
    publisher: ConfirmedPublisher
    queues: RecipientQueues
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Worker:
        self.threads = [self.consumer.run_in_thread(), self.relay.run_in_thread()]
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self.consumer.stop()
        self.relay.stop()
        for t in self.threads:
            t.join(timeout)
        self.publisher.close()
        self.queues.close()


def build_worker(
    settings: Settings, sessions: sessionmaker[Session], *, name: str = "gateway-worker"
) -> Worker:
    publisher = ConfirmedPublisher(
        settings.amqp_url, name=f"{name}-publisher", heartbeat=settings.heartbeat_s
    )
    publisher.start(wait=None)
    queues = RecipientQueues(settings.amqp_url, heartbeat=settings.heartbeat_s)
    relay = OutboxRelay(
        sessions,
        publisher,
        queues,
        batch_size=settings.relay_batch_size,
        poll_interval=settings.relay_poll_interval_s,
        confirm_timeout=settings.publish_confirm_timeout_s,
    )
    processor = EventProcessor(sessions, Router(load_profiles(settings.mappings_dir)), on_commit=relay.wake)
    handler = ProcessHandler(
        processor,
        publisher,
        delivery_limit=settings.delivery_limit,
        retry_delays_ms=settings.retry_delays_ms,
        confirm_timeout=settings.publish_confirm_timeout_s,
    )
    consumer = Consumer(
        settings.amqp_url,
        PROCESS_QUEUE,
        handler,
        prefetch=settings.prefetch,
        name=f"{name}-consumer",
        heartbeat=settings.heartbeat_s,
        declare=lambda ch: declare_core(
            ch, delivery_limit=settings.delivery_limit, retry_delays_ms=settings.retry_delays_ms
        ),
    )
    return Worker(consumer, relay, publisher, queues)


class ClosingIngestService(IngestService):
    """An IngestService that owns its engine and publisher (for the CLI file-drop watcher)."""

    def __init__(self, settings: Settings):
        self._engine, sessions = open_store(settings)
        self._own_publisher = ConfirmedPublisher(
            settings.amqp_url, name="gateway-ingest-publisher", heartbeat=settings.heartbeat_s
        ).start(wait=None)
        super().__init__(
            sessions,
            self._own_publisher,
            settings.mappings_dir,
            confirm_timeout=settings.publish_confirm_timeout_s,
        )

    def close(self) -> None:
        self._own_publisher.close()
        self._engine.dispose()


def build_ingest_service(settings: Settings) -> ClosingIngestService:
    declare_topology(settings)
    return ClosingIngestService(settings)
