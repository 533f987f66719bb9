"""Wiring: build the engine, publisher, processor, relay and consumer from one Settings.

Used by the CLI (``serve``, ``worker``, ``run``), the API and the tests, so they all run the same
objects the same way.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta

import pika
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.broker.connection import parameters
from gateway.broker.consumer import Consumer
from gateway.broker.publisher import ConfirmedPublisher
from gateway.broker.topology import PROCESS_QUEUE, declare_core
from gateway.delivery.directory import Directory, directory_from_settings
from gateway.delivery.provision import DirectoryQueues
from gateway.delivery.worker import DeliveryService, build_delivery
from gateway.episodes.handler import ProcessHandler
from gateway.episodes.history import DEFAULT_WINDOWS
from gateway.episodes.processor import EventProcessor
from gateway.ingest.service import IngestService
from gateway.routing.router import Router
from gateway.rules.loader import load_rulebook
from gateway.settings import Settings
from gateway.store.db import make_engine, make_sessionmaker
from gateway.store.outbox import OutboxRelay
from gateway.timers.scheduler import AmqpTransport, TimerScheduler


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


WORKER_PARTS = frozenset({"processor", "relay", "timers", "delivery"})


@dataclass
class Worker:
    """Processor (consumer of ``gateway.process``) and outbox relay, each on its own threads; the
    timer scheduler and the delivery workers (dispatcher, one consumer per channel) when enabled."""

    consumer: Consumer
    relay: OutboxRelay
    publisher: ConfirmedPublisher
    queues: DirectoryQueues
    threads: list[threading.Thread] = field(default_factory=list)
    scheduler: TimerScheduler | None = None  # fires due timers into missing.inbound (docs/rules.md)
    delivery: DeliveryService | None = None  # docs/recipients.md
    # Which of the processor and the relay run here (``gateway worker --only``): each can be its own
    # process, so an operator (or the chaos test) can scale or kill one without the other.
    parts: frozenset[str] = WORKER_PARTS

    def start(self) -> Worker:
        self.threads = []
        if "processor" in self.parts:
            self.threads.append(self.consumer.run_in_thread())
        if "relay" in self.parts:
            self.threads.append(self.relay.run_in_thread())
        if self.scheduler is not None:
            self.threads.append(self.scheduler.run_in_thread())
        if self.delivery is not None:
            self.delivery.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        self.consumer.stop()
        self.relay.stop()
        for t in self.threads:
            t.join(timeout)
        if self.delivery is not None:
            self.delivery.stop(timeout)
        self.publisher.close()
        self.queues.close()


def build_router(settings: Settings) -> Router:
    """The sharing-rules engine over ``settings.mappings_dir``; invalid rule files stop start-up here,
    naming each file, rule and field (RuleFileError)."""
    return Router(rulebook=load_rulebook(settings.mappings_dir))


def build_scheduler(
    settings: Settings, sessions: sessionmaker[Session], publisher: ConfirmedPublisher, *, name: str
) -> TimerScheduler:
    return TimerScheduler(
        sessions,
        AmqpTransport(publisher, confirm_timeout=settings.publish_confirm_timeout_s),
        poll_interval=settings.timer_poll_interval_s,
        lease=timedelta(seconds=settings.timer_lease_s),
        name=f"{name}-timers",
    )


def load_directory(settings: Settings) -> Directory:
    """The recipient directory; an invalid file stops start-up here, naming file and entry."""
    return directory_from_settings(settings)


def build_worker(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    name: str = "gateway-worker",
    with_scheduler: bool = True,
    with_delivery: bool | None = None,
    parts: frozenset[str] = WORKER_PARTS,
) -> Worker:
    """``parts`` limits what :meth:`Worker.start` runs; timers and delivery also need their flags."""
    directory = load_directory(settings)
    publisher = ConfirmedPublisher(
        settings.amqp_url, name=f"{name}-publisher", heartbeat=settings.heartbeat_s
    )
    publisher.start(wait=None)
    queues = DirectoryQueues(
        settings.amqp_url, directory, settings.delivery_retry_delays_ms, heartbeat=settings.heartbeat_s
    )
    relay = OutboxRelay(
        sessions,
        publisher,
        queues,
        batch_size=settings.relay_batch_size,
        poll_interval=settings.relay_poll_interval_s,
        confirm_timeout=settings.publish_confirm_timeout_s,
    )
    router = build_router(settings)
    processor = EventProcessor(
        sessions,
        router,
        on_commit=relay.wake,
        windows=tuple(sorted(set(DEFAULT_WINDOWS) | set(router.rulebook.windows()))),
    )
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
        batch_size=settings.process_batch_size,
        batch_wait=settings.process_batch_wait_ms / 1000,
        heartbeat=settings.heartbeat_s,
        declare=lambda ch: declare_core(
            ch, delivery_limit=settings.delivery_limit, retry_delays_ms=settings.retry_delays_ms
        ),
    )
    with_scheduler = with_scheduler and "timers" in parts
    scheduler = build_scheduler(settings, sessions, publisher, name=name) if with_scheduler else None
    deliver = (settings.delivery_enabled if with_delivery is None else with_delivery) and "delivery" in parts
    delivery = (
        build_delivery(settings, sessions, publisher, directory, name=f"{name}-delivery") if deliver else None
    )
    return Worker(consumer, relay, publisher, queues, scheduler=scheduler, delivery=delivery, parts=parts)


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
