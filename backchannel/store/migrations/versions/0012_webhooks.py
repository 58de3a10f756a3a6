"""Webhooks (endpoints, deliveries) and business API tokens.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _user(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, PK, sa.ForeignKey("users.id"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "business_webhooks",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        _user("business_id"),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("secret", sa.String(80), nullable=False),
        sa.Column("enabled", sa.Integer, nullable=False, server_default="1"),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("disabled_reason", sa.String(200), nullable=True),
        _user("created_by", nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_business_webhooks_business_id", "business_webhooks", ["business_id"])
    op.create_table(
        "business_webhook_deliveries",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        sa.Column("webhook_id", PK, sa.ForeignKey("business_webhooks.id"), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("state", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_business_webhook_deliveries_webhook",
        "business_webhook_deliveries",
        ["webhook_id", "id"],
    )
    op.create_index(
        "ix_business_webhook_deliveries_created",
        "business_webhook_deliveries",
        ["webhook_id", "created_at"],
    )
    op.create_table(
        "business_webhook_attempts",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id", PK, sa.ForeignKey("business_webhook_deliveries.id"), nullable=False
        ),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_business_webhook_attempts_delivery",
        "business_webhook_attempts",
        ["delivery_id", "attempt"],
    )
    op.create_table(
        "business_api_tokens",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("pid", sa.String(32), nullable=False, unique=True),
        _user("business_id"),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        _user("created_by", nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_used_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_business_api_tokens_business_id", "business_api_tokens", ["business_id"])


def downgrade() -> None:
    op.drop_index("ix_business_api_tokens_business_id", "business_api_tokens")
    op.drop_table("business_api_tokens")
    op.drop_index("ix_business_webhook_attempts_delivery", "business_webhook_attempts")
    op.drop_table("business_webhook_attempts")
    op.drop_index("ix_business_webhook_deliveries_created", "business_webhook_deliveries")
    op.drop_index("ix_business_webhook_deliveries_webhook", "business_webhook_deliveries")
    op.drop_table("business_webhook_deliveries")
    op.drop_index("ix_business_webhooks_business_id", "business_webhooks")
    op.drop_table("business_webhooks")
