"""API keys, the access audit and acknowledgements of pulled notifications.

Revision ID: 0004_security
Revises: 0003_rules
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.store.types

revision = "0004_security"
down_revision = "0003_rules"
branch_labels = None
depends_on = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = gateway.store.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("scopes", JSON_DOC, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=True),
        sa.Column("revoked_at", UTC_TIME, nullable=True),
        sa.Column("last_used_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix"),
    )
    op.create_table(
        "access_audit",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("principal", sa.String(length=160), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_audit", schema=None) as batch_op:
        batch_op.create_index("ix_access_audit_episode", ["episode_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_audit_at"), ["at"], unique=False)
    op.create_table(
        "notification_acks",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("recipient", sa.String(length=128), nullable=False),
        sa.Column("principal", sa.String(length=160), nullable=False),
        sa.Column("acked_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notification_id", "recipient", name="uq_notification_ack"),
    )
    with op.batch_alter_table("notification_acks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_acks_notification_id"), ["notification_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("notification_acks")
    op.drop_table("access_audit")
    op.drop_table("api_keys")
