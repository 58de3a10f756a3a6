"""SQL for reports, moderator state on users (role, suspension, counters) and the
append-only moderation log. Functions take a Connection and run inside the caller's
named transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Select,
    and_,
    insert,
    literal,
    or_,
    select,
    update,
)

from backchannel.store.tables import (
    conversations,
    member_spans,
    members,
    message_hides,
    messages,
    moderation_log,
    reports,
    users,
)

_reporter = users.alias("reporter")
_target = users.alias("target")

# What a moderator sees of a user.
MODERATED_USER_COLUMNS = (
    users.c.id,
    users.c.pid,
    users.c.handle,
    users.c.display_name,
    users.c.bio,
    users.c.created_at,
    users.c.deactivated_at,
    users.c.role,
    users.c.suspended_at,
    users.c.warnings,
    users.c.reports_received,
)

# A report with the names a moderator reads it by, in one row.
REPORT_COLUMNS = (
    reports.c.id,
    reports.c.pid,
    reports.c.source,
    reports.c.reporter_id,
    reports.c.target_user_id,
    reports.c.conversation_id,
    reports.c.message_id,
    reports.c.reason,
    reports.c.comment,
    reports.c.score,
    reports.c.evidence,
    reports.c.status,
    reports.c.created_at,
    reports.c.resolved_at,
    reports.c.resolution,
    _reporter.c.handle.label("reporter_handle"),
    _target.c.pid.label("target_pid"),
    _target.c.handle.label("target_handle"),
    _target.c.display_name.label("target_display_name"),
    _target.c.deactivated_at.label("target_deactivated_at"),
    _target.c.suspended_at.label("target_suspended_at"),
    _target.c.warnings.label("target_warnings"),
    _target.c.reports_received.label("target_reports_received"),
    conversations.c.pid.label("conversation_pid"),
    messages.c.pid.label("message_pid"),
)


# --- users -----------------------------------------------------------------------


def moderated_user(
    conn: Connection, *, user_id: int | None = None, handle: str | None = None
) -> RowMapping | None:
    """A user by id (any state) or by canonical handle (active accounts only)."""
    query = select(*MODERATED_USER_COLUMNS)
    if user_id is not None:
        query = query.where(users.c.id == user_id)
    else:
        query = query.where(users.c.handle == handle, users.c.deactivated_at.is_(None))
    return conn.execute(query).mappings().first()


def user_role(conn: Connection, user_id: int) -> str | None:
    return conn.execute(select(users.c.role).where(users.c.id == user_id)).scalar_one_or_none()


def set_role(conn: Connection, user_id: int, role: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(role=role))


def set_suspended(conn: Connection, user_id: int, at: int | None) -> None:
    """Suspend (`at`, ms) or lift a suspension (None)."""
    conn.execute(update(users).where(users.c.id == user_id).values(suspended_at=at))


def add_warning(conn: Connection, user_id: int) -> int:
    """Count one more warning; returns the new count."""
    return int(
        conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(warnings=users.c.warnings + 1)
            .returning(users.c.warnings)
        ).scalar_one()
    )


def count_report_received(conn: Connection, user_id: int) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(reports_received=users.c.reports_received + 1)
    )


# --- evidence ----------------------------------------------------------------------


def joined_position(conn: Connection, conversation_id: int, user_id: int) -> int | None:
    """Where the user's current membership of a conversation began or, if they left (as
    when declining a group request), their last one; None if they never were a member."""
    current = conn.execute(
        select(members.c.joined_position).where(
            members.c.conversation_id == conversation_id, members.c.user_id == user_id
        )
    ).scalar_one_or_none()
    if current is not None:
        return int(current)
    last = conn.execute(
        select(member_spans.c.start_position)
        .where(member_spans.c.conversation_id == conversation_id, member_spans.c.user_id == user_id)
        .order_by(member_spans.c.start_position.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if last is None else int(last)


def conversation_by_id(conn: Connection, conversation_id: int) -> RowMapping | None:
    return (
        conn.execute(
            select(
                conversations.c.id, conversations.c.pid, conversations.c.kind, conversations.c.title
            ).where(conversations.c.id == conversation_id)
        )
        .mappings()
        .first()
    )


def message_ids_sent_where_seen(
    conn: Connection, *, sender_id: int, viewer_id: int, limit: int
) -> list[int]:
    """Ids of the newest `limit` messages `sender_id` sent that `viewer_id` can see: in
    conversations they are both in now, since the viewer joined, not deleted for the
    viewer nor private to someone else. Newest first."""
    mine = members.alias("mine")
    hidden = (
        select(literal(1))
        .select_from(message_hides)
        .where(message_hides.c.user_id == viewer_id, message_hides.c.message_id == messages.c.id)
        .exists()
    )
    query = (
        select(messages.c.id)
        .join(
            mine,
            and_(mine.c.conversation_id == messages.c.conversation_id, mine.c.user_id == viewer_id),
        )
        .where(
            messages.c.sender_id == sender_id,
            messages.c.position >= mine.c.joined_position,
            or_(messages.c.private_to.is_(None), messages.c.private_to == viewer_id),
            ~hidden,
        )
        .order_by(messages.c.position.desc())
        .limit(limit)
    )
    return [int(row) for row in conn.execute(query).scalars()]


# --- reports -----------------------------------------------------------------------


def _report_select() -> Select[Any]:
    return (
        select(*REPORT_COLUMNS)
        .outerjoin(_reporter, _reporter.c.id == reports.c.reporter_id)
        .outerjoin(_target, _target.c.id == reports.c.target_user_id)
        .outerjoin(conversations, conversations.c.id == reports.c.conversation_id)
        .outerjoin(messages, messages.c.id == reports.c.message_id)
    )


def open_report_pid(
    conn: Connection,
    *,
    source: str,
    reporter_id: int | None,
    target_user_id: int | None,
    conversation_id: int | None,
    message_id: int | None,
) -> str | None:
    """The open report from the same source and reporter about the same thing, if any."""

    def same(column: Any, value: int | None) -> Any:
        return column.is_(None) if value is None else column == value

    return conn.execute(
        select(reports.c.pid)
        .where(
            reports.c.status == "open",
            reports.c.source == source,
            same(reports.c.reporter_id, reporter_id),
            same(reports.c.target_user_id, target_user_id),
            same(reports.c.conversation_id, conversation_id),
            same(reports.c.message_id, message_id),
        )
        .order_by(reports.c.id)
        .limit(1)
    ).scalar_one_or_none()


def insert_report(
    conn: Connection,
    *,
    pid: str,
    source: str,
    reporter_id: int | None,
    target_user_id: int | None,
    conversation_id: int | None,
    message_id: int | None,
    reason: str,
    comment: str,
    score: int | None,
    evidence: str,
    now: int,
) -> None:
    conn.execute(
        insert(reports).values(
            pid=pid,
            source=source,
            reporter_id=reporter_id,
            target_user_id=target_user_id,
            conversation_id=conversation_id,
            message_id=message_id,
            reason=reason,
            comment=comment,
            score=score,
            evidence=evidence,
            status="open",
            created_at=now,
        )
    )


def report_by_pid(conn: Connection, pid: str) -> RowMapping | None:
    return conn.execute(_report_select().where(reports.c.pid == pid)).mappings().first()


def report_page(
    conn: Connection,
    *,
    status: str,
    source: str | None,
    after_id: int | None,
    oldest_first: bool,
    limit: int,
) -> list[RowMapping]:
    """Reports with a status, by id (creation order) ascending or descending; `after_id`
    is the last id of the previous page."""
    query = _report_select().where(reports.c.status == status)
    if source is not None:
        query = query.where(reports.c.source == source)
    if oldest_first:
        if after_id is not None:
            query = query.where(reports.c.id > after_id)
        query = query.order_by(reports.c.id.asc())
    else:
        if after_id is not None:
            query = query.where(reports.c.id < after_id)
        query = query.order_by(reports.c.id.desc())
    return list(conn.execute(query.limit(limit)).mappings())


def close_report(conn: Connection, report_id: int, *, resolution: str, now: int) -> None:
    conn.execute(
        update(reports)
        .where(reports.c.id == report_id)
        .values(status="closed", resolution=resolution, resolved_at=now)
    )


# --- the log -----------------------------------------------------------------------


def append_log(
    conn: Connection,
    *,
    actor_id: int | None,
    actor: str,
    action: str,
    target_user_id: int | None,
    report_id: int | None,
    message_id: int | None,
    note: str,
    now: int,
) -> None:
    """One row per moderation action. Nothing ever updates or deletes these rows."""
    conn.execute(
        insert(moderation_log).values(
            actor_id=actor_id,
            actor=actor,
            action=action,
            target_user_id=target_user_id,
            report_id=report_id,
            message_id=message_id,
            note=note,
            created_at=now,
        )
    )


def log_page(
    conn: Connection,
    *,
    target_user_id: int | None = None,
    report_id: int | None = None,
    before_id: int | None = None,
    newest_first: bool = True,
    limit: int,
) -> list[RowMapping]:
    """Log entries (about a user or a report, or all), by id; `before_id` is the last id
    of the previous page when paging newest first."""
    target = users.alias("log_target")
    query = (
        select(
            moderation_log,
            target.c.pid.label("target_pid"),
            target.c.handle.label("target_handle"),
            target.c.display_name.label("target_display_name"),
            target.c.deactivated_at.label("target_deactivated_at"),
            reports.c.pid.label("report_pid"),
            messages.c.pid.label("message_pid"),
        )
        .outerjoin(target, target.c.id == moderation_log.c.target_user_id)
        .outerjoin(reports, reports.c.id == moderation_log.c.report_id)
        .outerjoin(messages, messages.c.id == moderation_log.c.message_id)
    )
    if target_user_id is not None:
        query = query.where(moderation_log.c.target_user_id == target_user_id)
    if report_id is not None:
        query = query.where(moderation_log.c.report_id == report_id)
    if newest_first:
        if before_id is not None:
            query = query.where(moderation_log.c.id < before_id)
        query = query.order_by(moderation_log.c.id.desc())
    else:
        query = query.order_by(moderation_log.c.id.asc())
    return list(conn.execute(query.limit(limit)).mappings())
