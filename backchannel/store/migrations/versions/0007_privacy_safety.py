"""Privacy and safety: who may DM whom, message requests, folders and conversation
controls, blocks, hidden words, reports, moderation and its audit log.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("dm_inbox", sa.String(16), nullable=True))
        batch.add_column(sa.Column("dm_requests", sa.String(16), nullable=True))
        batch.add_column(sa.Column("birth_date", sa.String(10), nullable=True))
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="user"))
        batch.add_column(sa.Column("suspended_at", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("requests_sent", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("requests_declined", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("reports_received", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("warnings", sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("members") as batch:
        batch.add_column(
            sa.Column("folder", sa.String(16), nullable=False, server_default="primary")
        )
        batch.add_column(sa.Column("request_state", sa.String(16), nullable=True))
        batch.add_column(sa.Column("request_from", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("request_at", sa.BigInteger, nullable=True))
        batch.add_column(
            sa.Column("request_messages", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("declined_at", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("archived_position", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("hidden_position", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("muted_until", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("pinned_at", sa.BigInteger, nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("private_to", sa.BigInteger, nullable=True))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("actor_id", sa.BigInteger, nullable=True))
    op.create_table(
        "blocks",
        sa.Column("blocker_id", PK, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("blocked_id", PK, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("blocker_id", "blocked_id", name="pk_blocks"),
    )
    op.create_index("ix_blocks_blocked", "blocks", ["blocked_id", "blocker_id"])
    op.create_table(
        "hidden_words",
        sa.Column("user_id", PK, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("phrase", sa.String(100), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "phrase", name="pk_hidden_words"),
    )
    op.create_table(
        "reports",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("reporter_id", PK, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("target_user_id", PK, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("conversation_id", PK, sa.ForeignKey("conversations.id"), nullable=True),
        sa.Column("message_id", PK, sa.ForeignKey("messages.id"), nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("resolved_at", sa.BigInteger, nullable=True),
        sa.Column("resolution", sa.String(32), nullable=True),
    )
    op.create_index("ix_reports_status", "reports", ["status", "id"])
    op.create_index("ix_reports_target_user_id", "reports", ["target_user_id"])
    op.create_table(
        "moderation_log",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("actor_id", PK, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target_user_id", PK, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("report_id", PK, sa.ForeignKey("reports.id"), nullable=True),
        sa.Column("message_id", PK, sa.ForeignKey("messages.id"), nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_moderation_log_target_user_id", "moderation_log", ["target_user_id"])


def downgrade() -> None:
    op.drop_table("moderation_log")
    op.drop_table("reports")
    op.drop_table("hidden_words")
    op.drop_table("blocks")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("actor_id")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("private_to")
    with op.batch_alter_table("members") as batch:
        for name in (
            "pinned_at",
            "muted_until",
            "hidden_position",
            "archived_position",
            "declined_at",
            "request_messages",
            "request_at",
            "request_from",
            "request_state",
            "folder",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("users") as batch:
        for name in (
            "warnings",
            "reports_received",
            "requests_declined",
            "requests_sent",
            "suspended_at",
            "role",
            "birth_date",
            "dm_requests",
            "dm_inbox",
        ):
            batch.drop_column(name)
