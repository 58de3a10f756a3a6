"""Data exports (a person's and an operator's).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        sa.Column("user_id", PK, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("done_steps", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total_steps", sa.Integer, nullable=False, server_default="0"),
        sa.Column("storage_key", sa.String(200), nullable=True),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_exports_user", "exports", ["user_id", "kind", "created_at"])
    op.create_table(
        "export_steps",
        sa.Column("export_id", PK, sa.ForeignKey("exports.id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("conversation_id", PK, sa.ForeignKey("conversations.id"), nullable=True),
        sa.Column("storage_key", sa.String(200), nullable=True),
        sa.Column("done_at", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("export_steps")
    op.drop_index("ix_exports_user", "exports")
    op.drop_table("exports")
