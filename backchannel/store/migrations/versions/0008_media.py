"""Media: uploads and their attachment to messages, view-once opens, message kinds and
link previews.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        sa.Column("uploader_id", PK, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("mime", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("width", sa.Integer, nullable=True),
        sa.Column("height", sa.Integer, nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=True),
        sa.Column("waveform", sa.Text, nullable=True),
        sa.Column("blurhash", sa.String(100), nullable=True),
        sa.Column("thumbnail_key", sa.String(200), nullable=True),
        sa.Column("poster_key", sa.String(200), nullable=True),
        sa.Column("view_once", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message_id", PK, sa.ForeignKey("messages.id"), nullable=True),
        sa.Column("position", sa.Integer, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("erased_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_media_uploader", "media", ["uploader_id", "created_at"])
    op.create_index("ix_media_message_id", "media", ["message_id"])
    op.create_index("ix_media_storage_key", "media", ["storage_key"])
    op.create_index("ix_media_unattached", "media", ["message_id", "created_at"])
    op.create_table(
        "media_opens",
        sa.Column("media_id", PK, sa.ForeignKey("media.id"), nullable=False),
        sa.Column("user_id", PK, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("opened_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("media_id", "user_id", name="pk_media_opens"),
    )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="text"))
        batch.add_column(sa.Column("extra", sa.Text, nullable=True))
        batch.add_column(sa.Column("preview", sa.Text, nullable=True))
        batch.add_column(sa.Column("media_count", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("media_count")
        batch.drop_column("preview")
        batch.drop_column("extra")
        batch.drop_column("kind")
    op.drop_table("media_opens")
    op.drop_table("media")
