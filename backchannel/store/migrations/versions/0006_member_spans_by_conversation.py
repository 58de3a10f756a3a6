"""Member spans by conversation: the fan-out looks up each event's audience by it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_member_spans_conversation", "member_spans", ["conversation_id", "start_position"]
    )


def downgrade() -> None:
    op.drop_index("ix_member_spans_conversation", table_name="member_spans")
