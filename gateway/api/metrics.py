"""``GET /metrics`` (operators): the process's Prometheus metrics plus state read at scrape time."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from gateway.broker.inspect import queue_depths
from gateway.metrics import StateCollector
from gateway.security.deps import OperatorDep

router = APIRouter(tags=["operations"])


def registry_for(sessions: Any, amqp_url: str) -> CollectorRegistry:
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(sessions, lambda: queue_depths(amqp_url)))
    return state


@router.get("/metrics", response_class=Response)
def metrics(request: Request, _: OperatorDep) -> Response:
    body = generate_latest(REGISTRY) + generate_latest(request.app.state.metrics)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
