"""Replies keep a snapshot of the text they quote.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("reply_text", sa.Text, nullable=True))
    # Existing replies quote what the original says now.
    op.execute(
        "UPDATE messages SET reply_text = (SELECT substr(o.text, 1, 200) FROM messages o "
        "WHERE o.id = messages.reply_to_id) WHERE reply_to_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("reply_text")
