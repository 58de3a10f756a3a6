"""The business inbox: businesses, their teams, their conversations' working state,
labels, private notes, agent attribution, saved replies, contacts, the audit log, and team
events.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _user(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, PK, sa.ForeignKey("users.id"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "businesses",
        sa.Column("user_id", PK, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("hours", sa.Text, nullable=True),
        sa.Column("welcome_text", sa.Text, nullable=True),
        sa.Column("away_text", sa.Text, nullable=True),
    )
    op.create_table(
        "business_members",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        _user("business_id"),
        _user("user_id"),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False, server_default="all"),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("start_position", sa.BigInteger, nullable=False),
        sa.Column("end_position", sa.BigInteger, nullable=True),
        _user("added_by", nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("removed_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_business_members_user", "business_members", ["user_id", "business_id"])
    op.create_index(
        "ix_business_members_business", "business_members", ["business_id", "end_position"]
    )
    op.create_table(
        "business_teams",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        _user("business_id"),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("business_id", "name", name="uq_business_teams_name"),
    )
    op.create_table(
        "business_team_members",
        sa.Column("team_id", PK, sa.ForeignKey("business_teams.id"), primary_key=True),
        sa.Column("user_id", PK, sa.ForeignKey("users.id"), primary_key=True),
    )
    op.create_index("ix_business_team_members_user", "business_team_members", ["user_id"])
    op.create_table(
        "business_conversations",
        sa.Column("business_id", PK, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("conversation_id", PK, sa.ForeignKey("conversations.id"), primary_key=True),
        _user("customer_id"),
        sa.Column("start_position", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("snoozed_until", sa.BigInteger, nullable=True),
        _user("assignee_id", nullable=True),
        sa.Column("team_id", PK, sa.ForeignKey("business_teams.id"), nullable=True),
        sa.Column("priority", sa.String(8), nullable=False, server_default="none"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("waiting_since", sa.BigInteger, nullable=True),
        sa.Column("last_message_at", sa.BigInteger, nullable=True),
        sa.Column("away_sent_at", sa.BigInteger, nullable=True),
    )
    op.create_index(
        "ix_business_conversations_conversation", "business_conversations", ["conversation_id"]
    )
    op.create_index(
        "ix_business_conversations_status",
        "business_conversations",
        ["business_id", "status", "last_message_at"],
    )
    op.create_index(
        "ix_business_conversations_assignee",
        "business_conversations",
        ["business_id", "assignee_id"],
    )
    op.create_table(
        "business_labels",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        _user("business_id"),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("color", sa.String(7), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("business_id", "key", name="uq_business_labels_key"),
    )
    op.create_table(
        "business_conversation_labels",
        sa.Column("business_id", PK, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("conversation_id", PK, sa.ForeignKey("conversations.id"), primary_key=True),
        sa.Column("label_id", PK, sa.ForeignKey("business_labels.id"), primary_key=True),
    )
    op.create_index(
        "ix_business_conversation_labels_label", "business_conversation_labels", ["label_id"]
    )
    op.create_table(
        "business_notes",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        _user("business_id"),
        sa.Column("conversation_id", PK, sa.ForeignKey("conversations.id"), nullable=False),
        _user("author_id"),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("mentions", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_business_notes_conversation",
        "business_notes",
        ["business_id", "conversation_id", "created_at"],
    )
    op.create_table(
        "business_message_agents",
        sa.Column("message_id", PK, sa.ForeignKey("messages.id"), primary_key=True),
        _user("business_id"),
        _user("agent_id", nullable=True),
        sa.Column("automation", sa.String(16), nullable=True),
    )
    op.create_table(
        "business_saved_replies",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        _user("business_id"),
        sa.Column("shortcut", sa.String(32), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        _user("created_by"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("business_id", "shortcut", name="uq_business_saved_replies_shortcut"),
    )
    op.create_table(
        "business_contacts",
        sa.Column("business_id", PK, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("customer_id", PK, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("attributes", sa.Text, nullable=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "business_audit",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        _user("business_id"),
        _user("actor_id"),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("conversation_id", PK, sa.ForeignKey("conversations.id"), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_business_audit_business", "business_audit", ["business_id", "id"])
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("business_id", sa.BigInteger, nullable=True))
    op.create_index("ix_events_business_position", "events", ["business_id", "position"])
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("business", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("business")
    op.drop_index("ix_events_business_position", "events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("business_id")
    for table in (
        "business_audit",
        "business_contacts",
        "business_saved_replies",
        "business_message_agents",
        "business_notes",
        "business_conversation_labels",
        "business_labels",
        "business_conversations",
        "business_team_members",
        "business_teams",
        "business_members",
        "businesses",
    ):
        op.drop_table(table)
