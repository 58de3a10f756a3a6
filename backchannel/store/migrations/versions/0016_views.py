"""Saved views of a business's inbox.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "business_views",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        sa.Column("business_id", PK, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("owner_id", PK, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("filters", sa.Text, nullable=False),
        sa.Column("created_by", PK, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_business_views_business", "business_views", ["business_id", "owner_id"])


def downgrade() -> None:
    op.drop_index("ix_business_views_business", "business_views")
    op.drop_table("business_views")
