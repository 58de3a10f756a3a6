"""Automation: rules and their runs, round-robin assignment and teammates' availability.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _user(name: str, *, primary_key: bool = False) -> sa.Column[int]:
    return sa.Column(name, PK, sa.ForeignKey("users.id"), nullable=False, primary_key=primary_key)


def upgrade() -> None:
    op.create_table(
        "business_rules",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        _user("business_id"),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("enabled", sa.Integer, nullable=False, server_default="1"),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("trigger", sa.String(24), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        _user("created_by"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_business_rules_business", "business_rules", ["business_id", "trigger", "position"]
    )
    op.create_table(
        "business_rule_runs",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        _user("business_id"),
        sa.Column("rule_id", PK, sa.ForeignKey("business_rules.id"), nullable=False),
        sa.Column("conversation_id", PK, sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("trigger", sa.String(24), nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_business_rule_runs_rule", "business_rule_runs", ["rule_id", "id"])
    op.create_table(
        "business_assignment",
        _user("business_id", primary_key=True),
        sa.Column("mode", sa.String(16), nullable=False, server_default="manual"),
        sa.Column("capacity", sa.Integer, nullable=False, server_default="10"),
        sa.Column("roles", sa.String(64), nullable=False, server_default="agent"),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "business_availability",
        _user("business_id", primary_key=True),
        _user("user_id", primary_key=True),
        sa.Column("available", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_assigned_at", sa.BigInteger, nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("business_availability")
    op.drop_table("business_assignment")
    op.drop_index("ix_business_rule_runs_rule", "business_rule_runs")
    op.drop_table("business_rule_runs")
    op.drop_index("ix_business_rules_business", "business_rules")
    op.drop_table("business_rules")
