"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 13:54:46.456876
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "episodes",
        sa.Column("episode_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("responsible_la", sa.String(length=3), nullable=True),
        sa.Column("host_la", sa.String(length=3), nullable=True),
        sa.Column("police_force", sa.String(length=9), nullable=True),
        sa.Column("police_reference", sa.String(length=64), nullable=True),
        sa.Column("opened_at", gateway.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("found_at", gateway.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", gateway.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", gateway.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", JSON_DOC, nullable=False),
        sa.Column("field_times", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("episode_id"),
    )
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_episodes_host_la"), ["host_la"], unique=False)
        batch_op.create_index(batch_op.f("ix_episodes_police_reference"), ["police_reference"], unique=False)
        batch_op.create_index(batch_op.f("ix_episodes_responsible_la"), ["responsible_la"], unique=False)
        batch_op.create_index(batch_op.f("ix_episodes_status"), ["status"], unique=False)

    op.create_table(
        "events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=512), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=True),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("source_system", sa.String(length=32), nullable=False),
        sa.Column("source_instance", sa.String(length=64), nullable=False),
        sa.Column("source_record_id", sa.String(length=128), nullable=False),
        sa.Column("occurred_at", gateway.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", gateway.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", gateway.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("body", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_episode_id"), ["episode_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("exchange", sa.String(length=128), nullable=False),
        sa.Column("routing_key", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", JSON_DOC, nullable=False),
        sa.Column("created_at", gateway.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("published_at", gateway.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_unpublished", ["published_at", "id"], unique=False)

    op.create_table(
        "raw_inputs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("received_at", gateway.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("event_ids", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("raw_inputs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_raw_inputs_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_raw_inputs_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_raw_inputs_status"), ["status"], unique=False)

    op.create_table(
        "episode_sources",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episodes.episode_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("system", "instance", "record_id", name="uq_episode_source"),
    )
    with op.batch_alter_table("episode_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_episode_sources_episode_id"), ["episode_id"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", gateway.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("due_by", gateway.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("recipient_role", sa.String(length=32), nullable=False),
        sa.Column("routing_key", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("body", JSON_DOC, nullable=False),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episodes.episode_id"],
        ),
        sa.PrimaryKeyConstraint("notification_id"),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_notifications_episode_id"), ["episode_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notifications_routing_key"), ["routing_key"], unique=False)

    op.create_table(
        "quarantine",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("raw_input_id", sa.Uuid(), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", gateway.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_at", gateway.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["raw_input_id"],
            ["raw_inputs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantine_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_quarantine_raw_input_id"), ["raw_input_id"], unique=False)

    op.create_table(
        "timers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("due_at", gateway.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", gateway.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("fired_at", gateway.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episodes.episode_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.create_index("ix_timers_due", ["status", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_timers_episode_id"), ["episode_id"], unique=False)

    op.create_table(
        "disclosures",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("recipient_role", sa.String(length=32), nullable=False),
        sa.Column("fields", JSON_DOC, nullable=False),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("cite", sa.String(length=128), nullable=False),
        sa.Column("lawful_basis", sa.Text(), nullable=False),
        sa.Column("consent", sa.String(length=32), nullable=False),
        sa.Column("disclosed_at", gateway.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.notification_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disclosures_disclosed_at"), ["disclosed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_disclosures_episode_id"), ["episode_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_disclosures_notification_id"), ["notification_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disclosures_notification_id"))
        batch_op.drop_index(batch_op.f("ix_disclosures_episode_id"))
        batch_op.drop_index(batch_op.f("ix_disclosures_disclosed_at"))

    op.drop_table("disclosures")
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timers_episode_id"))
        batch_op.drop_index("ix_timers_due")

    op.drop_table("timers")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_raw_input_id"))
        batch_op.drop_index(batch_op.f("ix_quarantine_created_at"))

    op.drop_table("quarantine")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_routing_key"))
        batch_op.drop_index(batch_op.f("ix_notifications_episode_id"))
        batch_op.drop_index(batch_op.f("ix_notifications_created_at"))

    op.drop_table("notifications")
    with op.batch_alter_table("episode_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_episode_sources_episode_id"))

    op.drop_table("episode_sources")
    with op.batch_alter_table("raw_inputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_raw_inputs_status"))
        batch_op.drop_index(batch_op.f("ix_raw_inputs_sha256"))
        batch_op.drop_index(batch_op.f("ix_raw_inputs_received_at"))

    op.drop_table("raw_inputs")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unpublished")

    op.drop_table("outbox")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_episode_id"))

    op.drop_table("events")
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_episodes_status"))
        batch_op.drop_index(batch_op.f("ix_episodes_responsible_la"))
        batch_op.drop_index(batch_op.f("ix_episodes_police_reference"))
        batch_op.drop_index(batch_op.f("ix_episodes_host_la"))

    op.drop_table("episodes")
