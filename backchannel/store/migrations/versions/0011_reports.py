"""Reports: conversation cycles, response times and CSAT surveys.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _user(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, PK, sa.ForeignKey("users.id"), nullable=nullable)


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer, nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "business_report_cycles",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        _user("business_id"),
        sa.Column("conversation_id", PK, sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("opened_at", sa.BigInteger, nullable=False),
        sa.Column("waiting_since", sa.BigInteger, nullable=True),
        _user("first_responder_id", nullable=True),
        _user("assignee_id", nullable=True),
        sa.Column("team_id", sa.BigInteger, nullable=True),
        _count("customer_messages"),
        _count("agent_messages"),
        _count("bot_messages"),
        sa.Column("handoff_at", sa.BigInteger, nullable=True),
        sa.Column("resolved_at", sa.BigInteger, nullable=True),
        _user("resolved_by", nullable=True),
        sa.Column("csat_sent_at", sa.BigInteger, nullable=True),
        sa.Column("csat_score", sa.Integer, nullable=True),
        sa.Column("csat_at", sa.BigInteger, nullable=True),
    )
    for name, columns in (
        ("conversation", ["business_id", "conversation_id", "id"]),
        ("opened", ["business_id", "opened_at"]),
        ("resolved", ["business_id", "resolved_at"]),
        ("csat", ["business_id", "csat_at"]),
    ):
        op.create_index(f"ix_business_report_cycles_{name}", "business_report_cycles", columns)
    op.create_table(
        "business_report_responses",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        _user("business_id"),
        sa.Column("cycle_id", PK, sa.ForeignKey("business_report_cycles.id"), nullable=False),
        sa.Column("waited_from", sa.BigInteger, nullable=False),
        sa.Column("answered_at", sa.BigInteger, nullable=False),
        _user("responder_id"),
        sa.Column("first", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_business_report_responses_answered",
        "business_report_responses",
        ["business_id", "answered_at"],
    )
    op.create_table(
        "business_report_settings",
        sa.Column("business_id", PK, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("csat_enabled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("csat_question", sa.Text, nullable=True),
        sa.Column("csat_thanks", sa.Text, nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("business_report_settings")
    op.drop_index("ix_business_report_responses_answered", "business_report_responses")
    op.drop_table("business_report_responses")
    for name in ("csat", "resolved", "opened", "conversation"):
        op.drop_index(f"ix_business_report_cycles_{name}", "business_report_cycles")
    op.drop_table("business_report_cycles")
