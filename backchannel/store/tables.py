"""The schema, as SQLAlchemy Core tables.

Internal integer ids join rows; `pid` columns are the opaque public ids that
leave the server. Times are integer milliseconds since the Unix epoch (UTC).
Every schema change is an Alembic revision in `store/migrations/versions`; a
test checks that the migrated database matches these declarations.
"""

from __future__ import annotations

# Registers `func.to_tsvector` (the search index below) before it is built.
import sqlalchemy.dialects.postgresql  # noqa: F401
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
    cast,
    func,
    literal_column,
    text,
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
    # 1: a direct conversation with a business, in its inbox (business_conversations).
    Column("business", Integer, nullable=False, server_default="0"),
    # Disappearing messages: messages sent while set disappear this long after they were
    # sent (`sent`) or after everyone else read them (`seen`). NULL: off.
    Column("disappear_seconds", Integer, nullable=True),
    Column("disappear_from", String(8), nullable=False, server_default="sent"),
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
    # A disappearing message: its timer (set when it was sent), when it disappears (NULL
    # until everyone else read it, for `seen` timers), and when it did (a tombstone).
    Column("disappear_seconds", Integer, nullable=True),
    Column("expires_at", BigInteger, nullable=True),
    Column("expired_at", BigInteger, nullable=True),
    UniqueConstraint("sender_id", "txn_id", name="uq_messages_sender_txn"),
    Index("ix_messages_conversation_position", "conversation_id", "position"),
    Index("ix_messages_expiry", "conversation_id", "expires_at"),
    # An erased account's messages, in batches (services/erasure.py; migration 0021).
    Index("ix_messages_sender", "sender_id", "id"),
)

# Full-text search (store/search.py). PostgreSQL: this GIN expression index, consistent with
# `text` in every transaction by construction, so an erased body leaves it at once. SQLite:
# the FTS5 table `messages_fts`, kept by triggers (migration 0019), outside this metadata.
# The text's lexemes weigh A; one more lexeme, weight D, names the conversation ("c" and its
# id), so that a search intersects the searcher's conversations inside the index (the
# query's words are restricted to A, so nothing typed matches it). Queries use this very
# expression (store/search.py), or PostgreSQL would not use the index. An erased body (NULL)
# makes the whole expression NULL: no entry.
MESSAGE_TSVECTOR = func.setweight(
    func.to_tsvector(text("'simple'"), messages.c.text), text("'A'")
).op("||")(
    func.setweight(
        func.to_tsvector(
            text("'simple'"),
            literal_column("'c'", Text).op("||")(cast(messages.c.conversation_id, Text)),
        ),
        text("'D'"),
    )
)
Index("ix_messages_text_search", MESSAGE_TSVECTOR, postgresql_using="gin").ddl_if(
    dialect="postgresql"
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
    # Set: a business team's event (a note, an assignment), never its conversation's members'.
    Column("business_id", BigInteger, nullable=True),
    Column("type", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_events_conversation_position", "conversation_id", "position"),
    Index("ix_events_user_position", "user_id", "position"),
    Index("ix_events_business_position", "business_id", "position"),
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

# --- the business inbox ------------------------------------------------------------------
# A business is an account (its user row) whose direct conversations started after it
# became one are worked by a team. services/business.py and domain/business.py hold the rules.

businesses = Table(
    "businesses",
    metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("hours", Text, nullable=True),  # JSON schedule (domain/hours.py); NULL: always open
    Column("welcome_text", Text, nullable=True),  # sent on a customer's first message
    Column("away_text", Text, nullable=True),  # sent outside business hours
)

# Who works a business's inbox, as spans like member_spans: a removal closes the row
# (`end_position`, `removed_at`); coming back opens a new one. The account itself is its
# first owner. `scope`: all conversations, or only those assigned to them or their team.
business_members = Table(
    "business_members",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("role", String(16), nullable=False),  # owner | admin | agent | viewer
    Column("scope", String(16), nullable=False, server_default="all"),  # all | assigned | team
    Column("expires_at", BigInteger, nullable=True),  # agency access ends by itself
    Column("start_position", BigInteger, nullable=False),
    Column("end_position", BigInteger, nullable=True),  # inclusive; NULL while a member
    Column("added_by", ForeignKey("users.id"), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("removed_at", BigInteger, nullable=True),
    Index("ix_business_members_user", "user_id", "business_id"),
    Index("ix_business_members_business", "business_id", "end_position"),
)

business_teams = Table(
    "business_teams",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("business_id", "name", name="uq_business_teams_name"),
)

business_team_members = Table(
    "business_team_members",
    metadata,
    Column("team_id", ForeignKey("business_teams.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Index("ix_business_team_members_user", "user_id"),
)

# A conversation in a business's inbox, and its working state. The team sees it from
# `start_position` (when it became a business conversation) on: nothing from before.
business_conversations = Table(
    "business_conversations",
    metadata,
    Column("business_id", ForeignKey("users.id"), primary_key=True),
    Column("conversation_id", ForeignKey("conversations.id"), primary_key=True),
    Column("customer_id", ForeignKey("users.id"), nullable=False),
    Column("start_position", BigInteger, nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("snoozed_until", BigInteger, nullable=True),
    Column("assignee_id", ForeignKey("users.id"), nullable=True),
    Column("team_id", ForeignKey("business_teams.id"), nullable=True),
    Column("priority", String(8), nullable=False, server_default="none"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # Since when the customer has waited for an answer (NULL: answered, or nothing asked).
    Column("waiting_since", BigInteger, nullable=True),
    Column("last_message_at", BigInteger, nullable=True),
    Column("away_sent_at", BigInteger, nullable=True),  # the away message, once per closure
    Index("ix_business_conversations_conversation", "conversation_id"),
    Index("ix_business_conversations_status", "business_id", "status", "last_message_at"),
    Index("ix_business_conversations_assignee", "business_id", "assignee_id"),
)

business_labels = Table(
    "business_labels",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("name", String(40), nullable=False),  # compared case-insensitively (stored as given)
    Column("key", String(40), nullable=False),  # lower-case name: one label per name
    Column("color", String(7), nullable=False),  # #rrggbb
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("business_id", "key", name="uq_business_labels_key"),
)

business_conversation_labels = Table(
    "business_conversation_labels",
    metadata,
    Column("business_id", ForeignKey("users.id"), primary_key=True),
    Column("conversation_id", ForeignKey("conversations.id"), primary_key=True),
    Column("label_id", ForeignKey("business_labels.id"), primary_key=True),
    Index("ix_business_conversation_labels_label", "label_id"),
)

# Private notes: the team's, never the customer's.
business_notes = Table(
    "business_notes",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("author_id", ForeignKey("users.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("mentions", Text, nullable=True),  # JSON list of mentioned user pids
    Column("created_at", BigInteger, nullable=False),
    Index("ix_business_notes_conversation", "business_id", "conversation_id", "created_at"),
)

# Which agent wrote a message the business sent (the customer sees the business only), or
# which automation sent it (`welcome`, `away`; the agent is then NULL).
business_message_agents = Table(
    "business_message_agents",
    metadata,
    Column("message_id", ForeignKey("messages.id"), primary_key=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("agent_id", ForeignKey("users.id"), nullable=True),
    Column("automation", String(16), nullable=True),
)

# Saved replies ("canned responses"): a shortcut, a title, and text with variables
# (domain/templates.py).
business_saved_replies = Table(
    "business_saved_replies",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("shortcut", String(32), nullable=False),
    Column("title", String(100), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_by", ForeignKey("users.id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("business_id", "shortcut", name="uq_business_saved_replies_shortcut"),
)

# What a business knows of a customer: a name of its own for them, notes, custom attributes.
business_contacts = Table(
    "business_contacts",
    metadata,
    Column("business_id", ForeignKey("users.id"), primary_key=True),
    Column("customer_id", ForeignKey("users.id"), primary_key=True),
    Column("name", String(100), nullable=True),
    Column("notes", Text, nullable=True),
    Column("attributes", Text, nullable=True),  # JSON object of short strings
    Column("updated_at", BigInteger, nullable=False),
)

# Every delegated read and write, for the business's owners and admins.
business_audit = Table(
    "business_audit",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("actor_id", ForeignKey("users.id"), nullable=False),
    Column("action", String(40), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=True),
    Column("detail", Text, nullable=True),  # JSON
    Column("at", BigInteger, nullable=False),
    Index("ix_business_audit_business", "business_id", "id"),
)

# A saved view of the inbox: a name for a set of filters (domain/business.py VIEW_FILTERS),
# the owner's own (`owner_id`) or shared with the whole team (`owner_id` NULL).
business_views = Table(
    "business_views",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("owner_id", ForeignKey("users.id"), nullable=True),
    Column("name", String(60), nullable=False),
    Column("filters", Text, nullable=False),  # JSON object
    Column("created_by", ForeignKey("users.id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_business_views_business", "business_id", "owner_id"),
)

# A person's "send later": a message written now, sent at `send_at` by the job queue
# (`messages.scheduled_send`) after checking again that they may; `version` counts edits, so
# a job queued for an older version does nothing.
scheduled_messages = Table(
    "scheduled_messages",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("author_id", ForeignKey("users.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("reply_to_pid", String(32), nullable=True),
    Column("send_at", BigInteger, nullable=False),
    Column("status", String(12), nullable=False, server_default="pending"),
    Column("reason", String(40), nullable=True),  # why it was not sent (an error code)
    Column("message_pid", String(32), nullable=True),  # the message, once sent
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_scheduled_messages_author", "author_id", "status", "send_at"),
)

# --- the job queue -----------------------------------------------------------------------
# Work to do later or outside a request (backchannel/jobs): a snooze ending, a webhook
# delivery, a scheduled send. Enqueued in the transaction that decides it, so a job exists
# exactly when what asked for it committed. A worker leases due jobs (`lease_until`) and
# deletes them when done; a failure is retried later, and after the last attempt the job is
# kept as `failed` (with its error) for an operator to see or retry. `key` names a job that
# replaces the previous one of the same name (one snooze per conversation).
jobs = Table(
    "jobs",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("key", String(160), nullable=True, unique=True),
    Column("payload", Text, nullable=False),  # JSON object
    Column("state", String(8), nullable=False, server_default="queued"),  # queued | failed
    Column("run_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_until", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_jobs_due", "state", "run_at"),
)

# --- reports: metrics and CSAT (issue 7) --- (tables of migration 0011 below this line)

# One open→resolved cycle of a business conversation (a reopening starts the next one): the
# facts reports are computed from, recorded as they happen (services/reports.py). `team_id`
# has no foreign key: a deleted team's past cycles keep its id (reported as an unknown team).
business_report_cycles = Table(
    "business_report_cycles",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("opened_at", BigInteger, nullable=False),
    Column("waiting_since", BigInteger, nullable=True),  # the customer's unanswered wait
    Column("first_responder_id", ForeignKey("users.id"), nullable=True),
    Column("assignee_id", ForeignKey("users.id"), nullable=True),  # frozen when resolved
    Column("team_id", BigInteger, nullable=True),  # frozen when resolved
    Column("customer_messages", Integer, nullable=False, server_default="0"),
    Column("agent_messages", Integer, nullable=False, server_default="0"),
    Column("bot_messages", Integer, nullable=False, server_default="0"),
    Column("handoff_at", BigInteger, nullable=True),  # a person answered after the bot
    Column("resolved_at", BigInteger, nullable=True),
    Column("resolved_by", ForeignKey("users.id"), nullable=True),
    Column("csat_sent_at", BigInteger, nullable=True),
    Column("csat_score", Integer, nullable=True),
    Column("csat_at", BigInteger, nullable=True),
    Index("ix_business_report_cycles_conversation", "business_id", "conversation_id", "id"),
    Index("ix_business_report_cycles_opened", "business_id", "opened_at"),
    Index("ix_business_report_cycles_resolved", "business_id", "resolved_at"),
    Index("ix_business_report_cycles_csat", "business_id", "csat_at"),
)

# Each wait of a customer and the answer that ended it (a person's, or the business
# account's): the first of a cycle is its first response, later ones next responses.
business_report_responses = Table(
    "business_report_responses",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("cycle_id", ForeignKey("business_report_cycles.id"), nullable=False),
    Column("waited_from", BigInteger, nullable=False),
    Column("answered_at", BigInteger, nullable=False),
    Column("responder_id", ForeignKey("users.id"), nullable=False),
    Column("first", Integer, nullable=False),  # 1: the cycle's first response
    Index("ix_business_report_responses_answered", "business_id", "answered_at"),
)

# A business's CSAT survey: on or off, and its texts (defaults in services/reports.py).
business_report_settings = Table(
    "business_report_settings",
    metadata,
    Column("business_id", ForeignKey("users.id"), primary_key=True),
    Column("csat_enabled", Integer, nullable=False, server_default="0"),
    Column("csat_question", Text, nullable=True),
    Column("csat_thanks", Text, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

# --- webhooks and API tokens (issue 7) --- (tables of migration 0012 below this line)

# A business's webhook endpoints. `secret` signs deliveries, so it is kept as it is (it is
# shown once; only the business's owners and admins can rotate it). `failures` counts
# failed attempts in a row; reaching `webhook_disable_after` turns `enabled` off.
business_webhooks = Table(
    "business_webhooks",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("business_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),  # JSON list of event types
    Column("description", String(200), nullable=True),
    Column("secret", String(80), nullable=False),
    Column("enabled", Integer, nullable=False, server_default="1"),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("disabled_reason", String(200), nullable=True),
    Column("created_by", ForeignKey("users.id"), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# One event for one endpoint: its body (the exact bytes signed and sent, every attempt),
# its state (pending | delivered | failed) and its last attempt.
business_webhook_deliveries = Table(
    "business_webhook_deliveries",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),  # the Webhook-Id header
    Column("webhook_id", ForeignKey("business_webhooks.id"), nullable=False),
    Column("type", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(12), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("next_attempt_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_business_webhook_deliveries_webhook", "webhook_id", "id"),
    Index("ix_business_webhook_deliveries_created", "webhook_id", "created_at"),
)

# Every attempt of a delivery, for the delivery log.
business_webhook_attempts = Table(
    "business_webhook_attempts",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("delivery_id", ForeignKey("business_webhook_deliveries.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("at", BigInteger, nullable=False),
    Index("ix_business_webhook_attempts_delivery", "delivery_id", "attempt"),
)

# API tokens of a business (bots, CRM integrations): stored hashed, like session tokens.
business_api_tokens = Table(
    "business_api_tokens",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("business_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),  # admin | agent | viewer, never owner
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex
    Column("created_by", ForeignKey("users.id"), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=True),
)

# --- automation: rules, bot, approvals, assignment (issue 7) --- (migration 0013)

# A business's automation rules (domain/rules.py): `trigger` is the trigger's type, to find
# the rules an event runs; `definition` the checked rule as JSON (trigger, conditions,
# actions, stop). Run in `position` order (then id).
business_rules = Table(
    "business_rules",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("name", String(80), nullable=False),
    Column("enabled", Integer, nullable=False, server_default="1"),
    Column("position", Integer, nullable=False),
    Column("trigger", String(24), nullable=False),
    Column("definition", Text, nullable=False),
    Column("created_by", ForeignKey("users.id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_business_rules_business", "business_id", "trigger", "position"),
)

# Each time a rule ran on a conversation: what triggered it and what each action did.
business_rule_runs = Table(
    "business_rule_runs",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("rule_id", ForeignKey("business_rules.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("trigger", String(24), nullable=False),
    Column("outcome", Text, nullable=False),  # JSON list: [{type, done, detail}]
    Column("at", BigInteger, nullable=False),
    Index("ix_business_rule_runs_rule", "rule_id", "id"),
)

# How a business assigns conversations (domain/assignment.py); no row: manual.
business_assignment = Table(
    "business_assignment",
    metadata,
    Column("business_id", ForeignKey("users.id"), primary_key=True),
    Column("mode", String(16), nullable=False, server_default="manual"),
    Column("capacity", Integer, nullable=False, server_default="10"),
    Column("roles", String(64), nullable=False, server_default="agent"),  # comma-separated
    Column("updated_at", BigInteger, nullable=False),
)

# A teammate's availability for round-robin (no row: away) and when it last gave them one.
business_availability = Table(
    "business_availability",
    metadata,
    Column("business_id", ForeignKey("users.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("available", Integer, nullable=False, server_default="0"),
    Column("last_assigned_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

# --- outbound: scheduled messages and broadcasts (issue 7) --- (migration 0014)

# A message an agent wrote to be sent later, as the business, in one conversation:
# `pending` until its job sends it (`sent`, `message_id`), or it is `cancelled` (by a
# teammate, `cancelled_by`, or because the customer replied first) or `failed` (`reason`).
# `version` counts edits: a job queued for an older version does nothing.
business_scheduled = Table(
    "business_scheduled",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("author_id", ForeignKey("users.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("send_at", BigInteger, nullable=False),
    Column("cancel_if_reply", Integer, nullable=False, server_default="0"),  # 0 or 1
    Column("status", String(12), nullable=False, server_default="pending"),
    Column("reason", String(40), nullable=True),
    Column("cancelled_by", ForeignKey("users.id"), nullable=True),
    Column("message_id", ForeignKey("messages.id"), nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_business_scheduled_business", "business_id", "status", "send_at"),
    Index("ix_business_scheduled_conversation", "conversation_id", "status"),
)

# Who opted in to a business's broadcasts (`in`), or out (`out`: honoured at once), by a
# keyword sent in `conversation_id`, the conversation broadcasts reach them in.
business_subscribers = Table(
    "business_subscribers",
    metadata,
    Column("business_id", ForeignKey("users.id"), primary_key=True),
    Column("customer_id", ForeignKey("users.id"), primary_key=True),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("status", String(4), nullable=False),  # in | out
    Column("opted_in_at", BigInteger, nullable=False),
    Column("opted_out_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_business_subscribers_status", "business_id", "status"),
)

# The words that opt a business's customers in to its broadcasts and out (JSON lists; no
# row: domain/broadcasts.py's defaults).
business_broadcast_keywords = Table(
    "business_broadcast_keywords",
    metadata,
    Column("business_id", ForeignKey("users.id"), primary_key=True),
    Column("opt_in", Text, nullable=False),
    Column("opt_out", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# A message sent as the business to its opted-in contacts (all, or those of a label: the
# recipients are chosen when it is created): `scheduled` until `send_at`, `sending` in paced
# batches, then `done`; or `cancelled`.
business_broadcasts = Table(
    "business_broadcasts",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("author_id", ForeignKey("users.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("audience", Text, nullable=True),  # JSON: the label it was for, as it was then
    Column("status", String(12), nullable=False),
    Column("send_at", BigInteger, nullable=False),
    Column("cancelled_by", ForeignKey("users.id"), nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_business_broadcasts_business", "business_id", "id"),
)

# Each recipient of a broadcast, chosen when it was created, and what became of their
# message: `queued`, `sent` (`message_id`), `skipped` (`reason`: opted_out, blocked,
# cannot_message), `failed` (`reason`: the error code) or `cancelled`. Durable, so a
# restarted broadcast resumes with those still queued.
business_broadcast_recipients = Table(
    "business_broadcast_recipients",
    metadata,
    Column("broadcast_id", ForeignKey("business_broadcasts.id"), primary_key=True),
    Column("customer_id", ForeignKey("users.id"), primary_key=True),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("status", String(12), nullable=False, server_default="queued"),
    Column("reason", String(40), nullable=True),
    Column("message_id", ForeignKey("messages.id"), nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_business_broadcast_recipients_status", "broadcast_id", "status"),
    Index("ix_business_broadcast_recipients_customer", "customer_id", "status"),
)

# --- the FAQ bot and approvals (issue 7) --- (migration 0015)
# A business's bot settings (no row: the bot is off, with the default texts).
business_bots = Table(
    "business_bots",
    metadata,
    Column("business_id", ForeignKey("users.id"), primary_key=True),
    Column("enabled", Integer, nullable=False, server_default="0"),
    Column("greeting", Text, nullable=True),
    Column("unsure_text", Text, nullable=False),
    Column("handoff_text", Text, nullable=False),
    Column("handoff_label", String(40), nullable=False),
    Column("threshold", Integer, nullable=False),  # percent
    Column("updated_at", BigInteger, nullable=False),
)

# The bot's knowledge list: a question, other ways to ask it, keywords, an answer (a
# template, domain/templates.py) and the quick replies offered with it.
business_bot_entries = Table(
    "business_bot_entries",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("question", String(300), nullable=False),
    Column("alternatives", Text, nullable=False),  # JSON list of strings
    Column("keywords", Text, nullable=False),  # JSON list of strings
    Column("answer", Text, nullable=False),
    Column("quick_replies", Text, nullable=False),  # JSON list of labels
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_business_bot_entries_business", "business_id", "id"),
)

# The bot in one conversation: the buttons it offered last, and whether it handed the
# conversation over to the team (then it stays quiet until the conversation is resolved).
business_bot_conversations = Table(
    "business_bot_conversations",
    metadata,
    Column("business_id", ForeignKey("users.id"), primary_key=True),
    Column("conversation_id", ForeignKey("conversations.id"), primary_key=True),
    Column("offered", Text, nullable=True),  # JSON list of labels
    Column("handed_off_at", BigInteger, nullable=True),
    Column("handoff_reason", String(16), nullable=True),  # asked | unsure | team
    Column("greeted_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

# Team members whose replies wait for an admin's approval (by membership: rejoining the
# team starts without the flag).
business_restricted_members = Table(
    "business_restricted_members",
    metadata,
    Column("member_id", ForeignKey("business_members.id"), primary_key=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("set_by", ForeignKey("users.id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Replies held for approval: pending, then approved (sent: `message_id`) or rejected.
business_approvals = Table(
    "business_approvals",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("business_id", ForeignKey("users.id"), nullable=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=False),
    Column("author_id", ForeignKey("users.id"), nullable=False),
    Column("txn_id", String(64), nullable=True),
    Column("text", Text, nullable=False),
    Column("reply_to", String(32), nullable=True),  # a message's pid
    Column("state", String(8), nullable=False),  # pending | approved | rejected
    Column("comment", Text, nullable=True),
    Column("decided_by", ForeignKey("users.id"), nullable=True),
    Column("decided_at", BigInteger, nullable=True),
    Column("message_id", ForeignKey("messages.id"), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("author_id", "txn_id", name="uq_business_approvals_txn"),
    Index("ix_business_approvals_business", "business_id", "state", "id"),
)

# --- data exports (issue 8) --- (migration 0020)

# A ZIP of everything one person may see (services/exports.py): their own request
# (`kind` self, shown to them) or an operator's on a legal request (`kind` legal, with its
# `reason` in the moderation log; never shown to the person). Built step by step by a job
# (`done_steps` of `total_steps`), as of stream position `position`; once `ready` its bytes
# are `storage_key` in the media store until `expires_at`, then swept (`expired`).
exports = Table(
    "exports",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("pid", String(32), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("kind", String(8), nullable=False),  # self | legal
    Column("actor", String(64), nullable=True),  # legal: who asked (a handle, or cli:<user>)
    Column("reason", Text, nullable=True),
    Column("state", String(8), nullable=False),  # queued | running | ready | failed | expired
    Column("position", BigInteger, nullable=False),
    Column("done_steps", Integer, nullable=False, server_default="0"),
    Column("total_steps", Integer, nullable=False, server_default="0"),
    Column("storage_key", String(200), nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("error", String(200), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Index("ix_exports_user", "user_id", "kind", "created_at"),
)

# The steps of an export, fixed when it starts: the account, then one per conversation.
# A finished step's part (JSON and HTML, in the media store) is `storage_key`, so a build
# that was interrupted goes on from the first step without one.
export_steps = Table(
    "export_steps",
    metadata,
    Column("export_id", ForeignKey("exports.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("conversation_id", ForeignKey("conversations.id"), nullable=True),
    Column("storage_key", String(200), nullable=True),
    Column("done_at", BigInteger, nullable=True),
)

# --- account erasure and retention (issue 8) --- (migration 0021)

# "Delete my account" (services/erasure.py): the request, done at once (profile, sessions,
# follows, groups), and the background erasure of the rest (messages per `messages`, the
# setting when asked: erase | keep; reactions; uploads), done when `finished_at` is set.
# The handle is kept only as its SHA-256 (`handle_hash`): nobody may register it again
# before `handle_free_at` (no impersonation of the person who left).
account_erasures = Table(
    "account_erasures",
    metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("handle_hash", String(64), nullable=False, index=True),
    Column("handle_free_at", BigInteger, nullable=False),
    Column("messages", String(8), nullable=False),  # erase | keep
    Column("requested_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
)

# The retention purge's progress (one row): messages up to `position` were looked at, so
# a purge interrupted (a restart, a killed `backchannel purge`) goes on from there.
retention_state = Table(
    "retention_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False),
)

# `backchannel reindex`'s progress (one row): the search index was rebuilt for messages up
# to id `after_id`, so a reindex interrupted goes on from there (services/search_index.py).
search_reindex = Table(
    "search_reindex",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("after_id", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
