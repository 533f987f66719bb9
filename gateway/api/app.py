"""Application factory. The app owns one engine and one shared confirmed publisher."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from gateway import __version__
from gateway.api.routes import health, ingest, review
from gateway.broker.publisher import ConfirmedPublisher
from gateway.ingest.service import IngestService
from gateway.runtime import declare_topology, open_store
from gateway.settings import Settings, get_settings

log = structlog.get_logger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.check_production()
        engine, sessions = open_store(settings)
        try:
            declare_topology(settings)
        except Exception as exc:  # the publisher keeps trying; /readyz says unreachable meanwhile
            log.warning("api.topology_not_declared", error=type(exc).__name__)
        publisher = ConfirmedPublisher(
            settings.amqp_url, name="gateway-api-publisher", heartbeat=settings.heartbeat_s
        ).start(wait=None)
        app.state.settings = settings
        app.state.sessions = sessions
        app.state.publisher = publisher
        app.state.ingest = IngestService(
            sessions, publisher, settings.mappings_dir, confirm_timeout=settings.publish_confirm_timeout_s
        )
        try:
            yield
        finally:
            publisher.close()
            engine.dispose()

    app = FastAPI(title="Missing-episode gateway", version=__version__, lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(ingest.router)
    app.include_router(review.router)
    return app
