"""Initial schema: accounts, social graph, conversations, messages, event log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False),
        sa.Column("handle", sa.String(40), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("bio", sa.String(300), nullable=False, server_default=""),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("deactivated_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("pid", name="uq_users_pid"),
        sa.UniqueConstraint("handle", name="uq_users_handle"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False),
        sa.Column("user_id", PK, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("device_name", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_used_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("pid", name="uq_sessions_pid"),
        sa.UniqueConstraint("token_hash", name="uq_sessions_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_sessions_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "follows",
        sa.Column("follower_id", PK, nullable=False),
        sa.Column("followee_id", PK, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("follower_id", "followee_id", name="pk_follows"),
        sa.ForeignKeyConstraint(
            ["follower_id"], ["users.id"], name="fk_follows_follower_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["followee_id"], ["users.id"], name="fk_follows_followee_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_follows_followee", "follows", ["followee_id", "created_at"])
    op.create_index("ix_follows_follower", "follows", ["follower_id", "created_at"])
    op.create_table(
        "conversations",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("direct_key", sa.String(64), nullable=True),
        sa.Column("title", sa.String(100), nullable=True),
        sa.Column("created_by", PK, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_position", sa.BigInteger, nullable=False),
        sa.Column("last_message_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        sa.UniqueConstraint("pid", name="uq_conversations_pid"),
        sa.UniqueConstraint("direct_key", name="uq_conversations_direct_key"),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_conversations_created_by_users"
        ),
    )
    op.create_table(
        "members",
        sa.Column("conversation_id", PK, nullable=False),
        sa.Column("user_id", PK, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("joined_position", sa.BigInteger, nullable=False),
        sa.Column("joined_at", sa.BigInteger, nullable=False),
        sa.Column("read_position", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", "user_id", name="pk_members"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_members_conversation_id_conversations",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_members_user_id_users"),
    )
    op.create_index("ix_members_user", "members", ["user_id"])
    op.create_table(
        "member_spans",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", PK, nullable=False),
        sa.Column("user_id", PK, nullable=False),
        sa.Column("start_position", sa.BigInteger, nullable=False),
        sa.Column("end_position", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_member_spans"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_member_spans_conversation_id_conversations",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_member_spans_user_id_users"),
    )
    op.create_index("ix_member_spans_user", "member_spans", ["user_id", "conversation_id"])
    op.create_table(
        "messages",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False),
        sa.Column("conversation_id", PK, nullable=False),
        sa.Column("sender_id", PK, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("txn_id", sa.String(64), nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("reply_to_id", PK, nullable=True),
        sa.Column("forwarded", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("edited_at", sa.BigInteger, nullable=True),
        sa.Column("unsent_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("pid", name="uq_messages_pid"),
        sa.UniqueConstraint("position", name="uq_messages_position"),
        sa.UniqueConstraint("sender_id", "txn_id", name="uq_messages_sender_txn"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_messages_conversation_id_conversations",
        ),
        sa.ForeignKeyConstraint(["sender_id"], ["users.id"], name="fk_messages_sender_id_users"),
        sa.ForeignKeyConstraint(
            ["reply_to_id"], ["messages.id"], name="fk_messages_reply_to_id_messages"
        ),
    )
    op.create_index(
        "ix_messages_conversation_position", "messages", ["conversation_id", "position"]
    )
    op.create_table(
        "message_edits",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("message_id", PK, nullable=False),
        sa.Column("previous_text", sa.Text, nullable=False),
        sa.Column("edited_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_edits"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_message_edits_message_id_messages"
        ),
    )
    op.create_index("ix_message_edits_message_id", "message_edits", ["message_id"])
    op.create_table(
        "message_hides",
        sa.Column("user_id", PK, nullable=False),
        sa.Column("message_id", PK, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "message_id", name="pk_message_hides"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_message_hides_user_id_users"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_message_hides_message_id_messages"
        ),
    )
    op.create_table(
        "reactions",
        sa.Column("message_id", PK, nullable=False),
        sa.Column("user_id", PK, nullable=False),
        sa.Column("emoji", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("message_id", "user_id", "emoji", name="pk_reactions"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_reactions_message_id_messages"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_reactions_user_id_users"),
    )
    op.create_table(
        "events",
        sa.Column("position", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("conversation_id", PK, nullable=True),
        sa.Column("user_id", PK, nullable=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_events"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_events_conversation_id_conversations",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_events_user_id_users"),
    )
    op.create_index("ix_events_conversation_position", "events", ["conversation_id", "position"])
    op.create_index("ix_events_user_position", "events", ["user_id", "position"])
    stream_state = op.create_table(
        "stream_state",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stream_state"),
    )
    op.bulk_insert(stream_state, [{"id": 1, "position": 0}])


def downgrade() -> None:
    for table in (
        "stream_state",
        "events",
        "reactions",
        "message_hides",
        "message_edits",
        "messages",
        "member_spans",
        "members",
        "conversations",
        "follows",
        "sessions",
        "users",
    ):
        op.drop_table(table)
