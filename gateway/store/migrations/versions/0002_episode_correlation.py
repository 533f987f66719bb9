"""Episode correlation: identifiers, review items, merge/split audit, history columns.

Revision ID: 0002_correlation
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.store.types

revision = "0002_correlation"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = gateway.store.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("date_of_birth", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("started_at", UTC_TIME, nullable=True))
        batch_op.create_index(batch_op.f("ix_episodes_merged_into"), ["merged_into"], unique=False)
        batch_op.create_index(batch_op.f("ix_episodes_date_of_birth"), ["date_of_birth"], unique=False)

    op.create_table(
        "episode_keys",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["episode_id"], ["episodes.episode_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", "episode_id", name="uq_episode_key"),
    )
    with op.batch_alter_table("episode_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_episode_keys_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_episode_keys_episode_id"), ["episode_id"], unique=False)

    op.create_table(
        "review_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=False),
        sa.Column("candidate_episode_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("reasons", JSON_DOC, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("decided_at", UTC_TIME, nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["episode_id"], ["episodes.episode_id"]),
        sa.ForeignKeyConstraint(["candidate_episode_id"], ["episodes.episode_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_items_episode_id"), ["episode_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_review_items_candidate_episode_id"), ["candidate_episode_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_review_items_status"), ["status"], unique=False)

    op.create_table(
        "episode_audit",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("episode_id", sa.Uuid(), nullable=False),
        sa.Column("other_episode_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("details", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("episode_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_episode_audit_episode_id"), ["episode_id"], unique=False)


def downgrade() -> None:
    op.drop_table("episode_audit")
    op.drop_table("review_items")
    op.drop_table("episode_keys")
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_episodes_date_of_birth"))
        batch_op.drop_index(batch_op.f("ix_episodes_merged_into"))
        batch_op.drop_column("started_at")
        batch_op.drop_column("date_of_birth")
        batch_op.drop_column("merged_into")
