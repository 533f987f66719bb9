"""Application factory. The app owns one engine and one shared confirmed publisher."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from gateway import __version__
from gateway.api import metrics
from gateway.api.middleware import SecurityHeaders
from gateway.api.routes import dead, episodes, fhir, health, ingest, notifications, quarantine, review, rules
from gateway.broker.publisher import ConfirmedPublisher
from gateway.console import mount as mount_console
from gateway.ingest.service import IngestService
from gateway.runtime import build_router, declare_topology, open_store
from gateway.security.jwt import JwtVerifier
from gateway.security.ratelimit import RateLimiter
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
        app.state.jwt = (
            JwtVerifier(
                issuer=settings.jwt_issuer, audience=settings.jwt_audience, jwks_url=settings.jwks_url
            )
            if settings.jwt_issuer and settings.jwt_audience and settings.jwks_url
            else None
        )
        app.state.ratelimit = RateLimiter(settings.rate_limit_per_minute)
        app.state.router = build_router(settings)  # review decisions reconcile timers through it
        app.state.metrics = metrics.registry_for(sessions, settings.amqp_url)
        try:
            yield
        finally:
            publisher.close()
            engine.dispose()

    app = FastAPI(title="Missing-episode gateway", version=__version__, lifespan=lifespan)
    app.add_middleware(SecurityHeaders, hsts=settings.hsts)

    @app.exception_handler(DataError)
    async def _bad_characters(_request: Request, _exc: DataError) -> JSONResponse:
        # The database refused a value (e.g. a NUL character PostgreSQL cannot store): the caller's input.
        return JSONResponse(
            status_code=422,
            content={"detail": "a value in the request cannot be stored (invalid characters)"},
        )

    app.include_router(health.router)
    app.include_router(ingest.router)
    app.include_router(review.router)
    app.include_router(metrics.router)
    app.include_router(episodes.router)
    app.include_router(notifications.router)
    app.include_router(quarantine.router)
    app.include_router(rules.router)
    app.include_router(dead.router)
    app.include_router(fhir.router)
    mount_console(app, settings)  # the browser console (docs/console.md); not in the OpenAPI document
    return app
