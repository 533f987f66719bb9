"""Prometheus metrics. Counters and histograms are updated where things happen; gauges that describe
state (queue depth, quarantine size, timer lag) are read when Prometheus scrapes ``/metrics``.
Labels are system, instance, recipient kind and channel: never anything about a child."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

INGESTED = Counter(
    "gateway_ingest_total", "Inputs received, by source and outcome", ["system", "instance", "outcome"]
)
PROCESSING_SECONDS = Histogram(
    "gateway_processing_seconds",
    "Ingest-to-committed latency of an event",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
NOTIFICATIONS = Counter(
    "gateway_notifications_total",
    "Notifications created, by recipient kind and kind",
    ["recipient_kind", "kind"],
)


class StateCollector(Collector):
    """Quarantine size, queue depths and timer lag, read at scrape time."""

    def __init__(self, sessions: Any, queue_depths: Any):
        self._sessions = sessions
        self._queue_depths = queue_depths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy import func, select

        from gateway.store import tables

        quarantine = GaugeMetricFamily("gateway_quarantine_open", "Inputs waiting in quarantine")
        lag = GaugeMetricFamily("gateway_timer_lag_seconds", "Age of the oldest due timer not yet fired")
        try:
            with self._sessions() as s:
                quarantine.add_metric(
                    [],
                    s.scalar(
                        select(func.count())
                        .select_from(tables.Quarantine)
                        .where(tables.Quarantine.status == "open")
                    )
                    or 0,
                )
                oldest = s.scalar(
                    select(func.min(tables.Timer.due_at)).where(
                        tables.Timer.status == "pending", tables.Timer.due_at <= datetime.now(UTC)
                    )
                )
                lag.add_metric([], (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0)
        except Exception:  # a scrape must not fail because the database is down
            return
        yield quarantine
        yield lag
        depth = GaugeMetricFamily("gateway_queue_depth", "Messages ready in a queue", labels=["queue"])
        for queue, n in self._queue_depths().items():
            depth.add_metric([queue], n)
        yield depth
