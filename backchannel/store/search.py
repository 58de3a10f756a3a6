"""SQL for message search: the full-text match on each engine, and the reindex.

SQLite: the FTS5 table `messages_fts` (rowid = messages.id), kept by triggers on
`messages` (migration 0019), ranked by bm25. PostgreSQL: `to_tsvector('simple', text)`,
the expression of the GIN index `ix_messages_text_search` (tables.py), ranked by
ts_rank. Either way a body set to NULL (unsent, expired, removed, erased) or a deleted
row leaves the index in the transaction that erased it.

Which messages a person finds is exactly which the history shows them (store/messages.py):
their conversations (not a declined request), from when they joined, not private to
someone else (a blocked sender's), not deleted for them; and not unsent or disappeared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    Text,
    and_,
    cast,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    update,
)

from backchannel.domain.search import Query, Term
from backchannel.store.messages import deleted_for, visible_to
from backchannel.store.tables import (
    MESSAGE_TSVECTOR,
    conversations,
    members,
    messages,
    search_reindex,
    users,
)

FTS_TABLE = "messages_fts"
_fts = table(FTS_TABLE, column("rowid"), column("text"), column("conversation"))
# A searcher in at most this many conversations has the match narrowed to them inside the
# index; one in more (a big business's team) matches across all, then joins.
NARROW_CONVERSATIONS = 500
_fts_ref: ColumnElement[Any] = literal_column(FTS_TABLE)
_ts_config: ColumnElement[Any] = literal_column("'simple'")
# Exactly the indexed expression (tables.py), or PostgreSQL would not use the index.
_tsvector = MESSAGE_TSVECTOR


def kept_apart(name: str, kind: str) -> bool:
    """Whether a schema object is a part of the search index that a comparison with
    tables.py must leave out (tests/test_store.py): SQLite's FTS5 table and its shadow
    tables, made by migration 0019 and not declared."""
    return kind == "table" and (name == FTS_TABLE or name.startswith(FTS_TABLE + "_"))


@dataclass(frozen=True, slots=True)
class Filters:
    """What narrows a search, besides the words. Times are ms, `[since, until)`."""

    conversation_id: int | None = None
    sender_handle: str | None = None
    since: int | None = None
    until: int | None = None
    has_media: bool = False
    has_link: bool = False


# --- rendering a query for each engine ------------------------------------------------


def fts5_expression(query: Query, conversation_ids: list[int] | None = None) -> str:
    """FTS5 query syntax for `query`: every term a quoted string (so nothing in it is an
    operator), a prefix term followed by `*`, all of them required, in the text column;
    and, given `conversation_ids`, in one of those conversations."""
    words = " ".join(_fts5_term(term) for term in query.terms)
    if conversation_ids is None:
        return words
    within = " OR ".join(f"c{int(i)}" for i in conversation_ids) or "c0"
    return f"text : ({words}) AND conversation : ({within})"


def _fts5_term(term: Term) -> str:
    quoted = '"' + " ".join(term.words).replace('"', '""') + '"'
    return quoted + "*" if term.prefix else quoted


def tsquery_expression(query: Query, conversation_ids: list[int] | None = None) -> str:
    """`to_tsquery` syntax for `query`: lexemes in single quotes restricted to the text's
    weight (`:A`, `:*A` for a prefix), `<->` between the words of a phrase, `&` between
    terms; and, given `conversation_ids`, one of those conversations' lexemes (`:D`)."""
    words = " & ".join(_ts_term(term) for term in query.terms)
    if conversation_ids is None:
        return words
    within = " | ".join(f"'c{int(i)}':D" for i in conversation_ids) or "'c0':D"
    return f"({words}) & ({within})"


def _ts_lexeme(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def _ts_term(term: Term) -> str:
    lexemes = [_ts_lexeme(word) + ":A" for word in term.words]
    if term.prefix:
        lexemes[-1] = lexemes[-1].removesuffix(":A") + ":*A"
    return lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")"


# --- searching ------------------------------------------------------------------------


def search_page(
    conn: Connection,
    *,
    user_id: int,
    query: Query,
    filters: Filters,
    now: int,
    recent: bool,
    offset: int,
    before_position: int | None,
    limit: int,
) -> list[RowMapping]:
    """Up to `limit` matching messages the user may see (_HIT_COLUMNS). Ranked
    (best first, then newest) from `offset`; or, `recent`, newest first from before
    `before_position`. Both orders are total, so pages never repeat or skip a row that
    did not change."""
    base = select(*_HIT_COLUMNS)
    if conn.dialect.name == "sqlite":
        # lower is better; the conversation token weighs nothing
        rank: ColumnElement[Any] = func.bm25(_fts_ref, 1.0, 0.0)
        base = base.select_from(_fts.join(messages, messages.c.id == _fts.c.rowid))
        within = _narrowing(conn, user_id, filters)
        matched = _fts_ref.op("MATCH")(fts5_expression(query, within))
    else:
        words = func.to_tsquery(_ts_config, tsquery_expression(query))
        within = _narrowing(conn, user_id, filters)
        tsquery = func.to_tsquery(_ts_config, tsquery_expression(query, within))
        rank = -func.ts_rank(_tsvector, words)
        base = base.select_from(messages)
        matched = _tsvector.op("@@")(tsquery)
    conditions = _filtered(filters, sqlite=conn.dialect.name == "sqlite")
    stmt = _visible(base, user_id=user_id, now=now).where(matched, *conditions)
    if recent:
        if before_position is not None:
            stmt = stmt.where(messages.c.position < before_position)
        stmt = stmt.order_by(messages.c.position.desc())
    else:
        stmt = stmt.order_by(rank, messages.c.position.desc()).offset(offset)
    return list(conn.execute(stmt.limit(limit)).mappings())


def _narrowing(conn: Connection, user_id: int, filters: Filters) -> list[int] | None:
    """The conversations to intersect with inside the FTS5 index: the one filtered on, or
    the searcher's own (not a declined request) up to NARROW_CONVERSATIONS; else None.
    Only narrows: `_visible` still decides what the searcher may see."""
    if filters.conversation_id is not None:
        return [filters.conversation_id]
    ids = list(
        conn.execute(
            select(members.c.conversation_id)
            .where(
                members.c.user_id == user_id,
                or_(members.c.request_state.is_(None), members.c.request_state != "declined"),
            )
            .limit(NARROW_CONVERSATIONS + 1)
        ).scalars()
    )
    return ids if len(ids) <= NARROW_CONVERSATIONS else None


_HIT_COLUMNS = (
    messages.c.id,
    messages.c.position,
    conversations.c.pid.label("conversation_pid"),
    conversations.c.kind.label("conversation_kind"),
    conversations.c.title.label("conversation_title"),
)


def _visible(stmt: Select[Any], *, user_id: int, now: int) -> Select[Any]:
    """`stmt` over messages, narrowed to those the user may see (the module docstring)."""
    hidden = deleted_for(user_id)
    return (
        stmt.join(
            members,
            and_(
                members.c.conversation_id == messages.c.conversation_id,
                members.c.user_id == user_id,
            ),
        )
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .where(
            messages.c.position >= members.c.joined_position,
            or_(members.c.request_state.is_(None), members.c.request_state != "declined"),
            visible_to(user_id),
            ~hidden,
            messages.c.unsent_at.is_(None),
            messages.c.expired_at.is_(None),
            # Due but not yet erased by its job: already gone for everyone.
            or_(messages.c.expires_at.is_(None), messages.c.expires_at > now),
        )
    )


def _filtered(filters: Filters, *, sqlite: bool) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.conversation_id is not None:
        # SQLite: the FTS5 match is narrowed to the conversation already; the unary `+`
        # keeps the planner off the conversation's index, which drove the join from the
        # conversation's messages and ran the match once per message (60 ms vs 10).
        column = messages.c.conversation_id
        target = literal_column("+messages.conversation_id") if sqlite else column
        conditions.append(target == filters.conversation_id)
    if filters.sender_handle is not None:
        sender = select(users.c.id).where(users.c.handle == filters.sender_handle)
        conditions.append(messages.c.sender_id == sender.scalar_subquery())
    if filters.since is not None:
        conditions.append(messages.c.created_at >= filters.since)
    if filters.until is not None:
        conditions.append(messages.c.created_at < filters.until)
    if filters.has_media:
        conditions.append(messages.c.media_count > 0)
    if filters.has_link:
        conditions.append(
            or_(messages.c.text.ilike("%http://%"), messages.c.text.ilike("%https://%"))
        )
    return conditions


def indexed_ids(conn: Connection, ids: list[int]) -> list[int]:
    """Which of these message ids the full-text index holds (SQLite: FTS5 rows;
    PostgreSQL: bodies with a non-empty tsvector). For tests and the reindex."""
    if conn.dialect.name == "sqlite":
        stmt = select(_fts.c.rowid).where(_fts.c.rowid.in_(ids))
    else:
        stmt = select(messages.c.id).where(messages.c.id.in_(ids), func.length(_tsvector) > 0)
    return sorted(int(i) for i in conn.execute(stmt).scalars())


# --- finding conversations ------------------------------------------------------------


def _like_prefix(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def find_conversations(conn: Connection, *, user_id: int, query: str, limit: int) -> list[str]:
    """Public ids of the user's conversations (not a declined request) whose title, or
    another current member's handle or display name (or a word of it), starts with
    `query` (lower-case); most recently active first."""
    prefix = _like_prefix(query)
    other = members.alias("other")
    name = func.lower(users.c.display_name)
    person = exists().where(
        other.c.conversation_id == conversations.c.id,
        other.c.user_id != user_id,
        users.c.id == other.c.user_id,
        users.c.deactivated_at.is_(None),
        or_(
            users.c.handle.like(prefix, escape="\\"),
            name.like(prefix, escape="\\"),
            name.like(f"% {prefix}", escape="\\"),
        ),
    )
    title = func.lower(func.coalesce(conversations.c.title, ""))
    rows = conn.execute(
        select(conversations.c.pid)
        .join(members, members.c.conversation_id == conversations.c.id)
        .where(
            members.c.user_id == user_id,
            or_(members.c.request_state.is_(None), members.c.request_state != "declined"),
            or_(
                title.like(prefix, escape="\\"),
                title.like(f"% {prefix}", escape="\\"),
                person,
            ),
        )
        .order_by(conversations.c.last_position.desc())
        .limit(limit)
    )
    return [str(pid) for pid in rows.scalars()]


# --- the reindex ----------------------------------------------------------------------


def reindex_checkpoint(conn: Connection) -> int | None:
    """The id up to which an unfinished reindex rebuilt the index, or None."""
    value = conn.execute(select(search_reindex.c.after_id).where(search_reindex.c.id == 1)).scalar()
    return None if value is None else int(value)


def start_reindex(conn: Connection, *, now: int) -> None:
    conn.execute(insert(search_reindex).values(id=1, after_id=0, started_at=now, updated_at=now))


def finish_reindex(conn: Connection) -> None:
    conn.execute(delete(search_reindex))


def max_message_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(messages.c.id), 0))).scalar_one())


def reindex_batch(conn: Connection, *, after_id: int, limit: int, now: int) -> int:
    """Rebuild the index entries of the next `limit` messages by id after `after_id`
    (and drop entries of ids in that range no message has any more); move the checkpoint
    there. Returns the last id done (`after_id` when none were left).

    SQLite: the FTS5 rows of the range are deleted and inserted again from `messages`.
    PostgreSQL: the GIN index is maintained by the database, nothing to do per batch."""
    upto = conn.execute(
        select(func.max(literal_column("id"))).select_from(
            select(messages.c.id)
            .where(messages.c.id > after_id)
            .order_by(messages.c.id)
            .limit(limit)
            .subquery()
        )
    ).scalar()
    if upto is None:
        return after_id
    if conn.dialect.name == "sqlite":
        conn.execute(delete(_fts).where(_fts.c.rowid > after_id, _fts.c.rowid <= upto))
        conn.execute(
            insert(_fts).from_select(
                ["rowid", "text", "conversation"],
                select(
                    messages.c.id,
                    messages.c.text,
                    literal("c") + cast(messages.c.conversation_id, Text),
                ).where(
                    messages.c.id > after_id, messages.c.id <= upto, messages.c.text.is_not(None)
                ),
            )
        )
    conn.execute(
        update(search_reindex).where(search_reindex.c.id == 1).values(after_id=upto, updated_at=now)
    )
    return int(upto)


def optimize_index(conn: Connection) -> None:
    """Merge the index into one b-tree: FTS5 keeps deleted entries' tokens in older
    segments until they merge, so after erasures this is what removes their last trace
    (PostgreSQL: a REINDEX of the GIN index)."""
    if conn.dialect.name == "sqlite":
        conn.execute(text(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('optimize')"))
    else:
        conn.execute(text("REINDEX INDEX ix_messages_text_search"))


def merge_step(conn: Connection, pages: int) -> bool:
    """One bounded step of merging the SQLite index toward one b-tree (FTS5 `merge` with a
    negative N: segments of every level, about `pages` pages written); whether it found
    work. Steps until none is found do what `optimize` does, in short transactions."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    before = raw.total_changes
    conn.execute(
        text(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rank) VALUES ('merge', :n)"), {"n": -pages}
    )
    # FTS5's own test of work done: the command itself counts one change.
    return bool(raw.total_changes - before >= 2)
