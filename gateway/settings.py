"""All configuration, from ``GATEWAY_*`` environment variables (one pydantic-settings class).

Secrets have no usable default outside development: ``Settings.check_production()`` refuses to start
a non-development environment with a development default.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
DEV_AMQP_URL = "amqp://guest:guest@localhost:5672/%2F"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"

    amqp_url: str = DEV_AMQP_URL
    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'gateway.db'}"
    mappings_dir: Path = REPO_ROOT / "mappings"

    # Broker behaviour
    prefetch: int = Field(default=64, ge=1, le=10_000)
    delivery_limit: int = Field(
        default=5, ge=1, le=100, description="processing attempts before an event goes to missing.dead"
    )
    retry_delays_ms: list[int] = Field(
        default=[1_000, 10_000, 60_000], description="delay tiers of the processor's retry queues"
    )
    heartbeat_s: int = 30
    publish_confirm_timeout_s: float = 30.0

    # Outbox relay
    relay_batch_size: int = Field(default=500, ge=1)
    relay_poll_interval_s: float = Field(default=0.2, gt=0)

    # Ingest / API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)

    log_level: str = "INFO"
    log_json: bool = True

    def check_production(self) -> None:
        if self.environment == "production" and self.amqp_url == DEV_AMQP_URL:
            raise RuntimeError(
                "GATEWAY_AMQP_URL must be set in production (the guest account is for development)"
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
