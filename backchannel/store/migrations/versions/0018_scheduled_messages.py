"""A person's scheduled messages ("send later").

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "scheduled_messages",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        sa.Column("author_id", PK, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("conversation_id", PK, sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("reply_to_pid", sa.String(32), nullable=True),
        sa.Column("send_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("message_pid", sa.String(32), nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_scheduled_messages_author", "scheduled_messages", ["author_id", "status", "send_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_scheduled_messages_author", "scheduled_messages")
    op.drop_table("scheduled_messages")
