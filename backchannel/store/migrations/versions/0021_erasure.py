"""Account erasure and retention.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_index("ix_messages_sender", "messages", ["sender_id", "id"])
    op.create_table(
        "account_erasures",
        sa.Column("user_id", PK, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("handle_hash", sa.String(64), nullable=False),
        sa.Column("handle_free_at", sa.BigInteger, nullable=False),
        sa.Column("messages", sa.String(8), nullable=False),
        sa.Column("requested_at", sa.BigInteger, nullable=False),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_account_erasures_handle_hash", "account_erasures", ["handle_hash"])
    op.create_table(
        "retention_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("position", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retention_state")
    op.drop_index("ix_account_erasures_handle_hash", "account_erasures")
    op.drop_table("account_erasures")
    op.drop_index("ix_messages_sender", "messages")
