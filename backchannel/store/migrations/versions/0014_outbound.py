"""Outbound: scheduled messages and broadcasts to opted-in contacts.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ref(name: str, table: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, PK, sa.ForeignKey(f"{table}.id"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "business_scheduled",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        _ref("business_id", "users"),
        _ref("conversation_id", "conversations"),
        _ref("author_id", "users"),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("send_at", sa.BigInteger, nullable=False),
        sa.Column("cancel_if_reply", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("reason", sa.String(40), nullable=True),
        _ref("cancelled_by", "users", nullable=True),
        _ref("message_id", "messages", nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_business_scheduled_business", "business_scheduled", ["business_id", "status", "send_at"]
    )
    op.create_index(
        "ix_business_scheduled_conversation", "business_scheduled", ["conversation_id", "status"]
    )
    op.create_table(
        "business_subscribers",
        sa.Column("business_id", PK, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("customer_id", PK, sa.ForeignKey("users.id"), primary_key=True),
        _ref("conversation_id", "conversations"),
        sa.Column("status", sa.String(4), nullable=False),
        sa.Column("opted_in_at", sa.BigInteger, nullable=False),
        sa.Column("opted_out_at", sa.BigInteger, nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_business_subscribers_status", "business_subscribers", ["business_id", "status"]
    )
    op.create_table(
        "business_broadcast_keywords",
        sa.Column("business_id", PK, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("opt_in", sa.Text, nullable=False),
        sa.Column("opt_out", sa.Text, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "business_broadcasts",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        _ref("business_id", "users"),
        _ref("author_id", "users"),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("audience", sa.Text, nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("send_at", sa.BigInteger, nullable=False),
        _ref("cancelled_by", "users", nullable=True),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_business_broadcasts_business", "business_broadcasts", ["business_id", "id"])
    op.create_table(
        "business_broadcast_recipients",
        sa.Column("broadcast_id", PK, sa.ForeignKey("business_broadcasts.id"), primary_key=True),
        sa.Column("customer_id", PK, sa.ForeignKey("users.id"), primary_key=True),
        _ref("conversation_id", "conversations"),
        sa.Column("status", sa.String(12), nullable=False, server_default="queued"),
        sa.Column("reason", sa.String(40), nullable=True),
        _ref("message_id", "messages", nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_business_broadcast_recipients_status",
        "business_broadcast_recipients",
        ["broadcast_id", "status"],
    )
    op.create_index(
        "ix_business_broadcast_recipients_customer",
        "business_broadcast_recipients",
        ["customer_id", "status"],
    )


def downgrade() -> None:
    for table in (
        "business_broadcast_recipients",
        "business_broadcasts",
        "business_broadcast_keywords",
        "business_subscribers",
        "business_scheduled",
    ):
        op.drop_table(table)
