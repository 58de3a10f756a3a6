"""Disappearing messages: a conversation's timer, and each message's.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("disappear_seconds", sa.Integer, nullable=True))
        batch.add_column(
            sa.Column("disappear_from", sa.String(8), nullable=False, server_default="sent")
        )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("disappear_seconds", sa.Integer, nullable=True))
        batch.add_column(sa.Column("expires_at", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("expired_at", sa.BigInteger, nullable=True))
    op.create_index("ix_messages_expiry", "messages", ["conversation_id", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_expiry", "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("expired_at")
        batch.drop_column("expires_at")
        batch.drop_column("disappear_seconds")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("disappear_from")
        batch.drop_column("disappear_seconds")
