"""The schema, as SQLAlchemy Core tables.

Internal integer ids join rows; `pid` columns are the opaque public ids that
leave the server. Times are integer milliseconds since the Unix epoch (UTC).
Every schema change is an Alembic revision in `store/migrations/versions`; a
test checks that the migrated database matches these declarations.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Integer primary keys that autoincrement on both SQLite (rowid) and PostgreSQL.
PK = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("handle", String(40), nullable=False, unique=True),  # stored lower-case
    Column("display_name", String(64), nullable=False),
    Column("bio", String(300), nullable=False, server_default=""),
    Column("password_hash", Text, nullable=True),  # NULL once deactivated
    Column("created_at", BigInteger, nullable=False),
    Column("deactivated_at", BigInteger, nullable=True),
    # Settings. Read receipts are reciprocal: off, you neither send nor see them.
    Column("read_receipts", Integer, nullable=False, server_default="1"),
    # Presence ("active now", "last active") is reciprocal too: off, you are shown to
    # nobody and see nobody's.
    Column("activity_status", Integer, nullable=False, server_default="1"),
    # When the user last had a socket open (ms); written when their last socket on a node
    # closes and refreshed for connected users every `presence_refresh_seconds`.
    Column("last_active_at", BigInteger, nullable=True),
    # Who may reach me (domain/policy.py). NULL: the deployment's default
    # (`dm_inbox_default`, `dm_requests_default`), so an operator's change reaches
    # everyone who never chose.
    Column("dm_inbox", String(16), nullable=True),  # everyone | following | nobody
    Column("dm_requests", String(16), nullable=True),  # everyone | followers | nobody
    Column("birth_date", String(10), nullable=True),  # YYYY-MM-DD; minors get stricter rules
    Column("role", String(16), nullable=False, server_default="user"),  # user | admin
    Column("suspended_at", BigInteger, nullable=True),
    # Behaviour that feeds the trust tier (domain/limits.py).
    Column("requests_sent", Integer, nullable=False, server_default="0"),
    Column("requests_declined", Integer, nullable=False, server_default="0"),
    Column("reports_received", Integer, nullable=False, server_default="0"),
    Column("warnings", Integer, nullable=False, server_default="0"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex
    Column("device_name", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=False),
)

follows = Table(
    "follows",
    metadata,
    Column("follower_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("followee_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_follows_followee", "followee_id", "created_at"),
    Index("ix_follows_follower", "follower_id", "created_at"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # direct | group
    # "<lower user id>:<higher user id>" for direct conversations: one per pair.
    Column("direct_key", String(64), nullable=True, unique=True),
    Column("title", String(100), nullable=True),
    Column("created_by", ForeignKey("users.id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_position", BigInteger, nullable=False),
    Column("last_message_at", BigInteger, nullable=True),
)

members = Table(
    "members",
    metadata,
    Column("conversation_id", ForeignKey("conversations.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("role", String(16), nullable=False),  # admin | member
    Column("joined_position", BigInteger, nullable=False),
    Column("joined_at", BigInteger, nullable=False),
    Column("read_position", BigInteger, nullable=False),
    # This member's own view of the conversation (nobody else sees these):
    # primary | general | requests | hidden (hidden = filtered requests).
    Column("folder", String(16), nullable=False, server_default="primary"),
    # A message request to this member: pending until accepted; declined (deleted) stays
    # hidden from them, and the requester may ask again only after a cool-down.
    Column("request_state", String(16), nullable=True),  # NULL | pending | declined
    Column("request_from", BigInteger, nullable=True),  # users.id of who asked
    Column("request_at", BigInteger, nullable=True),  # when the current request began
    Column("request_messages", Integer, nullable=False, server_default="0"),
    Column("declined_at", BigInteger, nullable=True),
    # Archived / hidden until activity after this position; muted until a time (ms;
    # MUTE_FOREVER for ever); pinned at a time (ms).
    Column("archived_position", BigInteger, nullable=True),
    Column("hidden_position", BigInteger, nullable=True),
    Column("muted_until", BigInteger, nullable=True),
    Column("pinned_at", BigInteger, nullable=True),
    Index("ix_members_user", "user_id"),
)

# Every stretch of stream positions during which a user was a member. Sync uses
# these, so a client resuming from an old token gets exactly the events of the
# stretches it was a member for. History and message reads use the current
# membership's join position only: after leaving and rejoining a group, earlier
# messages are not fetchable again (as in most messengers).
member_spans = Table(
    "member_spans",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("start_position", BigInteger, nullable=False),
    Column("end_position", BigInteger, nullable=True),  # inclusive; NULL while a member
    Index("ix_member_spans_user", "user_id", "conversation_id"),
    # The fan-out finds each event's audience by conversation (store/events.py).
    Index("ix_member_spans_conversation", "conversation_id", "start_position"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("sender_id", ForeignKey("users.id"), nullable=False),
    Column("position", BigInteger, nullable=False, unique=True),
    Column("txn_id", String(64), nullable=True),
    Column("text", Text, nullable=True),  # NULL once unsent
    Column("reply_to_id", ForeignKey("messages.id"), nullable=True),
    # The quoted text as it was when the reply was sent (like Signal's quotes): an edit
    # of the original does not rewrite it; unsending the original erases it.
    Column("reply_text", Text, nullable=True),
    Column("forwarded", Integer, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("edited_at", BigInteger, nullable=True),
    Column("unsent_at", BigInteger, nullable=True),
    # Set: only this user (the sender) sees the message. Sent to someone who blocked
    # them: to the sender it looks sent, to the blocker it never existed, and it stays
    # so after an unblock.
    Column("private_to", BigInteger, nullable=True),
    # text | location | profile | post; `extra` holds the kind's JSON (a location, a shared
    # profile or post), `preview` the link preview built for the first link (JSON).
    Column("kind", String(16), nullable=False, server_default="text"),
    Column("extra", Text, nullable=True),
    Column("preview", Text, nullable=True),
    Column("media_count", Integer, nullable=False, server_default="0"),  # attachments
    UniqueConstraint("sender_id", "txn_id", name="uq_messages_sender_txn"),
    Index("ix_messages_conversation_position", "conversation_id", "position"),
)

message_edits = Table(
    "message_edits",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("message_id", ForeignKey("messages.id"), nullable=False, index=True),
    Column("previous_text", Text, nullable=False),
    Column("edited_at", BigInteger, nullable=False),
)

message_hides = Table(
    "message_hides",
    metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("message_id", ForeignKey("messages.id"), primary_key=True),
)

reactions = Table(
    "reactions",
    metadata,
    Column("message_id", ForeignKey("messages.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("emoji", String(64), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)

# The event log. `position` is assigned under the stream_state row lock, so
# commit order equals position order on every engine (see store/database.py).
events = Table(
    "events",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=True),
    Column("user_id", ForeignKey("users.id"), nullable=True),  # set: only this user sees it
    # Events about an earlier message (edit, reaction): its position. Members who joined
    # after it cannot see the message, so they do not get the event either. (Not set for
    # unsend: it carries no content, and later members may hold a quote to erase.)
    Column("message_position", BigInteger, nullable=True),
    # Who caused it, for the events a block filters at read time (reactions, receipts).
    Column("actor_id", BigInteger, nullable=True),
    Column("type", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_events_conversation_position", "conversation_id", "position"),
    Index("ix_events_user_position", "user_id", "position"),
)

stream_state = Table(
    "stream_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False),
)

blocks = Table(
    "blocks",
    metadata,
    Column("blocker_id", ForeignKey("users.id"), primary_key=True),
    Column("blocked_id", ForeignKey("users.id"), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_blocks_blocked", "blocked_id", "blocker_id"),
)

# A user's hidden words: requests containing one go to Hidden Requests.
hidden_words = Table(
    "hidden_words",
    metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("phrase", String(100), primary_key=True),  # stored case-folded
    Column("created_at", BigInteger, nullable=False),
)

# Reports by people and flags by the filters, with the evidence as it was when filed
# (kept even if the message is later unsent).
reports = Table(
    "reports",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("source", String(16), nullable=False),  # report | filter
    Column("reporter_id", ForeignKey("users.id"), nullable=True),
    Column("target_user_id", ForeignKey("users.id"), nullable=True),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=True),
    Column("message_id", ForeignKey("messages.id"), nullable=True),
    Column("reason", String(32), nullable=False),
    Column("comment", Text, nullable=False, server_default=""),
    Column("score", Integer, nullable=True),
    Column("evidence", Text, nullable=False),  # JSON
    Column("status", String(16), nullable=False, server_default="open"),  # open | closed
    Column("created_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    Column("resolution", String(32), nullable=True),
    Index("ix_reports_status", "status", "id"),
    Index("ix_reports_target_user_id", "target_user_id"),
)

# Every moderation action, by whom (an admin's account, or the CLI), append-only.
moderation_log = Table(
    "moderation_log",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("actor_id", ForeignKey("users.id"), nullable=True),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target_user_id", ForeignKey("users.id"), nullable=True),
    Column("report_id", ForeignKey("reports.id"), nullable=True),
    Column("message_id", ForeignKey("messages.id"), nullable=True),
    Column("note", Text, nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_moderation_log_target_user_id", "target_user_id"),
)

# Uploads. `storage_key` addresses the bytes in the media store (content-addressed: the
# same bytes uploaded twice are stored once; they are deleted when no row needs them).
# Attached to at most one message, once, by its uploader (`message_id`, `position` in the
# message); uploads never attached are swept after `media_unattached_ttl_seconds`.
media = Table(
    "media",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("uploader_id", ForeignKey("users.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # image | gif | video | audio | voice | document
    Column("mime", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("storage_key", String(200), nullable=False),
    Column("filename", String(255), nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("duration_ms", Integer, nullable=True),
    Column("waveform", Text, nullable=True),  # JSON list of 0-255 levels (voice notes)
    Column("blurhash", String(100), nullable=True),
    Column("thumbnail_key", String(200), nullable=True),
    Column("poster_key", String(200), nullable=True),
    Column("view_once", Integer, nullable=False, server_default="0"),
    Column("message_id", ForeignKey("messages.id"), nullable=True),
    Column("position", Integer, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("erased_at", BigInteger, nullable=True),  # the bytes are gone (unsent, expired)
    Index("ix_media_uploader", "uploader_id", "created_at"),
    Index("ix_media_message_id", "message_id"),
    Index("ix_media_storage_key", "storage_key"),
    Index("ix_media_unattached", "message_id", "created_at"),
)

# View-once media: who opened it (and so may not again).
media_opens = Table(
    "media_opens",
    metadata,
    Column("media_id", ForeignKey("media.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("opened_at", BigInteger, nullable=False),
)
