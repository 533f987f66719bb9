"""Delivery: per-endpoint delivery state, receipts of every attempt, operator audit.

Revision ID: 0004_delivery
Revises: 0004_security
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.store.types

revision = "0004_delivery"
down_revision = "0004_security"
branch_labels = None
depends_on = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = gateway.store.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=True),
        sa.Column("recipient", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("endpoint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("lease_until", UTC_TIME, nullable=True),
        sa.Column("release_at", UTC_TIME, nullable=True),
        sa.Column("delivered_at", UTC_TIME, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("body", JSON_DOC, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notification_id", "endpoint", name="uq_delivery_endpoint"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_notification_id"), ["notification_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_recipient"), ["recipient"], unique=False)
        batch_op.create_index("ix_deliveries_status_release", ["status", "release_at"], unique=False)

    op.create_table(
        "delivery_receipts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("recipient", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("endpoint", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("receipt", JSON_DOC, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delivery_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_receipts_notification_id"), ["notification_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_delivery_receipts_at"), ["at"], unique=False)

    op.create_table(
        "delivery_audit",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=True),
        sa.Column("recipient", sa.String(length=128), nullable=True),
        sa.Column("endpoint", sa.String(length=64), nullable=True),
        sa.Column("details", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delivery_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_audit_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_delivery_audit_notification_id"), ["notification_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("delivery_audit")
    op.drop_table("delivery_receipts")
    op.drop_table("deliveries")
