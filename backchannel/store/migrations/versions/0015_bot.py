"""The FAQ bot (settings, knowledge list, per-conversation state) and approvals (restricted
members, held replies).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _user(name: str, *, nullable: bool = False, primary_key: bool = False) -> sa.Column[int]:
    return sa.Column(
        name, PK, sa.ForeignKey("users.id"), nullable=nullable, primary_key=primary_key
    )


def upgrade() -> None:
    op.create_table(
        "business_bots",
        _user("business_id", primary_key=True),
        sa.Column("enabled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("greeting", sa.Text, nullable=True),
        sa.Column("unsure_text", sa.Text, nullable=False),
        sa.Column("handoff_text", sa.Text, nullable=False),
        sa.Column("handoff_label", sa.String(40), nullable=False),
        sa.Column("threshold", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "business_bot_entries",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        _user("business_id"),
        sa.Column("question", sa.String(300), nullable=False),
        sa.Column("alternatives", sa.Text, nullable=False),
        sa.Column("keywords", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("quick_replies", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_business_bot_entries_business", "business_bot_entries", ["business_id", "id"]
    )
    op.create_table(
        "business_bot_conversations",
        _user("business_id", primary_key=True),
        sa.Column("conversation_id", PK, sa.ForeignKey("conversations.id"), primary_key=True),
        sa.Column("offered", sa.Text, nullable=True),
        sa.Column("handed_off_at", sa.BigInteger, nullable=True),
        sa.Column("handoff_reason", sa.String(16), nullable=True),
        sa.Column("greeted_at", sa.BigInteger, nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "business_restricted_members",
        sa.Column("member_id", PK, sa.ForeignKey("business_members.id"), primary_key=True),
        _user("business_id"),
        _user("set_by"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "business_approvals",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        _user("business_id"),
        sa.Column("conversation_id", PK, sa.ForeignKey("conversations.id"), nullable=False),
        _user("author_id"),
        sa.Column("txn_id", sa.String(64), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("reply_to", sa.String(32), nullable=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        _user("decided_by", nullable=True),
        sa.Column("decided_at", sa.BigInteger, nullable=True),
        sa.Column("message_id", PK, sa.ForeignKey("messages.id"), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("author_id", "txn_id", name="uq_business_approvals_txn"),
    )
    op.create_index(
        "ix_business_approvals_business", "business_approvals", ["business_id", "state", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_business_approvals_business", "business_approvals")
    op.drop_table("business_approvals")
    op.drop_table("business_restricted_members")
    op.drop_table("business_bot_conversations")
    op.drop_index("ix_business_bot_entries_business", "business_bot_entries")
    op.drop_table("business_bot_entries")
    op.drop_table("business_bots")
