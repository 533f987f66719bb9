"""structlog configuration: JSON lines with ids only.

Never pass a child's name, date of birth, NHS number or free text to a logger: log event ids, episode
ids, raw input ids, record ids and codes. SQLAlchemy is configured with ``hide_parameters`` so that a
database error cannot leak a row's values into a log either.
"""

from __future__ import annotations

import logging
import sys

import structlog


class _CurrentStderr:
    """Write to whatever ``sys.stderr`` is now, not the stream it was when logging was configured
    (test runners and daemons replace it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(level: str = "INFO", json: bool = True) -> None:
    logging.basicConfig(format="%(message)s", stream=_CurrentStderr(), level=level.upper(), force=True)
    logging.getLogger("pika").setLevel(logging.WARNING)
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
