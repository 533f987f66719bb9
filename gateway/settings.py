"""All configuration, from ``GATEWAY_*`` environment variables (one pydantic-settings class).

Secrets have no usable default outside development: ``Settings.check_production()`` refuses to start
a non-development environment with a development default.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
DEV_AMQP_URL = "amqp://guest:guest@localhost:5672/%2F"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"

    amqp_url: str = DEV_AMQP_URL
    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'gateway.db'}"
    mappings_dir: Path = REPO_ROOT / "mappings"

    # TLS to RabbitMQ for amqps:// URLs (docs/security.md): CA bundle, and a client certificate when the
    # broker requires one (RabbitMQ's ssl_options.fail_if_no_peer_cert).
    amqp_ca_file: Path | None = None
    amqp_cert_file: Path | None = None
    amqp_key_file: Path | None = None

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
    # Processor: events already delivered are processed together in one transaction (docs/performance.md)
    process_batch_size: int = Field(default=32, ge=1, le=1_000)
    process_batch_wait_ms: float = Field(default=5.0, ge=0)

    # Outbox relay
    relay_batch_size: int = Field(default=500, ge=1)
    relay_poll_interval_s: float = Field(default=0.2, gt=0)

    # Timers (deadlines and escalations)
    timer_poll_interval_s: float = Field(default=1.0, gt=0)
    timer_lease_s: float = Field(
        default=600.0, gt=0, description="a claimed timer not fired by then is retried"
    )

    # Ingest / API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)

    # Security (docs/security.md)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwks_url: str | None = None
    rate_limit_per_minute: int = Field(default=1200, ge=1)
    hsts: bool = False
    console_secret: SecretStr | None = Field(
        default=None,
        description="signs the browser console's session cookies; required in production (without it "
        "each process makes a random one, so sessions end when it restarts)",
    )

    # Retention (gateway retention run), in days
    retention_raw_days: int = Field(default=90, ge=1)
    retention_events_days: int = Field(default=730, ge=1)
    retention_audit_days: int = Field(default=2557, ge=1)  # seven years

    log_level: str = "INFO"
    log_json: bool = True

    # Delivery (docs/recipients.md): the recipient directory, channels, retries, digest, alerting.
    directory_dir: Path | None = Field(
        default=None, description="a deployment's own directory, overlaid on mappings/directory"
    )
    directory_shipped: bool = Field(
        default=True, description="also load mappings_dir/directory (false: only directory_dir)"
    )
    delivery_enabled: bool = Field(default=True, description="run delivery workers inside `gateway worker`")
    delivery_channels: list[str] | None = Field(
        default=None, description="channels this process delivers (default: every registered one)"
    )
    delivery_max_attempts: int = Field(
        default=6, ge=1, le=100, description="rounds per notification and endpoint before missing.dead"
    )
    delivery_retry_delays_ms: list[int] = Field(
        default=[10_000, 60_000, 300_000, 900_000, 1_800_000],
        description="delay tiers of the delivery retry queues (one round each)",
    )
    delivery_quick_retries: int = Field(
        default=2, ge=0, le=10, description="in-process retries of a transient failure within one round"
    )
    delivery_timeout_s: float = Field(default=15.0, gt=0, le=300)
    delivery_lease_s: float = Field(
        default=300.0, gt=0, description="a send in progress blocks other workers for this long"
    )
    delivery_prefetch: int = Field(default=16, ge=1, le=1_000)
    # Dispatcher: notifications already delivered are recorded together in one transaction
    # (docs/performance.md); 1 = one transaction per notification.
    delivery_dispatch_batch_size: int = Field(default=64, ge=1, le=1_000)
    delivery_dispatch_batch_wait_ms: float = Field(default=5.0, ge=0)
    delivery_workers: int = Field(default=4, ge=1, le=64, description="threads per channel consumer")
    delivery_digest_time: str = Field(
        default="08:00", pattern=r"^\d{2}:\d{2}$", description="school digest time, Europe/London"
    )
    delivery_poll_interval_s: float = Field(default=5.0, gt=0, description="digest release / gauge refresh")
    delivery_alert_failure_rate: float = Field(default=0.5, gt=0, le=1)
    delivery_alert_window: int = Field(default=20, ge=2, description="last N attempts per recipient")
    delivery_alert_min_attempts: int = Field(default=5, ge=1)
    delivery_metrics_port: int | None = Field(
        default=None, description="serve Prometheus metrics of `gateway worker`/`deliver` on this port"
    )
    webhook_ca_file: Path | None = Field(default=None, description="CA bundle for receivers' TLS")
    webhook_allow_http: bool = Field(default=False, description="development/test only: plain http://")
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "missing-notices@gateway.invalid"
    smtp_starttls: bool = Field(default=True, description="false only for development")
    smtp_ca_file: Path | None = Field(default=None, description="CA bundle for the SMTP server's TLS")
    rabbitmq_management_url: str | None = Field(
        default=None, description="for `gateway recipients provision` (default http://<amqp host>:15672)"
    )
    rabbitmq_management_user: str | None = None
    rabbitmq_management_password: str | None = None

    def check_production(self) -> None:
        if self.environment == "production" and self.amqp_url == DEV_AMQP_URL:
            raise RuntimeError(
                "GATEWAY_AMQP_URL must be set in production (the guest account is for development)"
            )
        if self.environment == "production" and (self.webhook_allow_http or not self.smtp_starttls):
            raise RuntimeError(
                "webhooks over plain http and SMTP without STARTTLS are for development only: a notice "
                "about a child must not cross a network unencrypted"
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
