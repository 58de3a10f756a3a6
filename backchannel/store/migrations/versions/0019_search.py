"""Message search (full text).

SQLite: an FTS5 table over `messages.text`, kept by triggers, so that every path that
writes or erases a body (sending, editing, unsending, expiry, moderation, erasure) keeps
the index in the same transaction without knowing of it. PostgreSQL: a GIN index on the
body's `tsvector` (declared in tables.py). Both: `search_reindex`, the checkpoint of
`backchannel reindex`.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# unicode61 with remove_diacritics 2: "Café" and "cafe" are one term. The table keeps its
# own copy of each body, so a row can be deleted by rowid alone (and a reindex can rebuild
# any range of ids without knowing what was indexed before). `conversation` holds one token,
# "c" and the conversation's id, so that a search intersects the searcher's conversations
# inside the index instead of joining every match of a common word (store/search.py).
SQLITE_INDEX_DDL = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "text, conversation, tokenize = 'unicode61 remove_diacritics 2')",
    """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
       WHEN new.text IS NOT NULL BEGIN
         INSERT INTO messages_fts (rowid, text, conversation)
           VALUES (new.id, new.text, 'c' || new.conversation_id);
       END""",
    """CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
         DELETE FROM messages_fts WHERE rowid = old.id;
         INSERT INTO messages_fts (rowid, text, conversation)
           SELECT new.id, new.text, 'c' || new.conversation_id WHERE new.text IS NOT NULL;
       END""",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
         DELETE FROM messages_fts WHERE rowid = old.id;
       END""",
)
SQLITE_INDEX_DROP = (
    "DROP TRIGGER messages_fts_delete",
    "DROP TRIGGER messages_fts_update",
    "DROP TRIGGER messages_fts_insert",
    "DROP TABLE messages_fts",
)


def upgrade() -> None:
    op.create_table(
        "search_reindex",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("after_id", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_INDEX_DDL:
            op.execute(statement)
        op.execute(
            "INSERT INTO messages_fts (rowid, text, conversation)"
            " SELECT id, text, 'c' || conversation_id FROM messages WHERE text IS NOT NULL"
        )
    else:
        # as tables.py MESSAGE_TSVECTOR: the text's lexemes (A) and the conversation's (D)
        op.create_index(
            "ix_messages_text_search",
            "messages",
            [
                sa.text(
                    "(setweight(to_tsvector('simple', text), 'A')"
                    " || setweight(to_tsvector('simple', 'c' || CAST(conversation_id AS TEXT)),"
                    " 'D'))"
                )
            ],
            postgresql_using="gin",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_INDEX_DROP:
            op.execute(statement)
    else:
        op.drop_index("ix_messages_text_search", "messages")
    op.drop_table("search_reindex")
