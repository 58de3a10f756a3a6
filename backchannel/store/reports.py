"""SQL for reports: conversation cycles (open→resolved), answered waits, CSAT and its
settings. Functions take a Connection and run inside the caller's named transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, and_, insert, or_, select, update

from backchannel.store.tables import (
    business_report_cycles,
    business_report_responses,
    business_report_settings,
)

cycles = business_report_cycles
responses = business_report_responses


# --- cycles -------------------------------------------------------------------------------


def open_cycle(
    conn: Connection,
    *,
    business_id: int,
    conversation_id: int,
    now: int,
    assignee_id: int | None,
    team_id: int | None,
) -> int:
    result = conn.execute(
        insert(cycles).values(
            business_id=business_id,
            conversation_id=conversation_id,
            opened_at=now,
            assignee_id=assignee_id,
            team_id=team_id,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def latest_cycle(conn: Connection, business_id: int, conversation_id: int) -> RowMapping | None:
    """The conversation's current cycle (open), or its last one (resolved)."""
    return (
        conn.execute(
            select(cycles)
            .where(cycles.c.business_id == business_id, cycles.c.conversation_id == conversation_id)
            .order_by(cycles.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )


def update_cycle(conn: Connection, cycle_id: int, **values: Any) -> None:
    conn.execute(update(cycles).where(cycles.c.id == cycle_id).values(**values))


def count_message(conn: Connection, cycle_id: int, column: str, **values: Any) -> None:
    """Add one to the cycle's `column` (customer_messages, agent_messages, bot_messages)."""
    counter = cycles.c[column]
    changes: dict[Any, Any] = {counter: counter + 1, **{cycles.c[k]: v for k, v in values.items()}}
    conn.execute(update(cycles).where(cycles.c.id == cycle_id).values(changes))


def insert_response(
    conn: Connection,
    *,
    business_id: int,
    cycle_id: int,
    waited_from: int,
    answered_at: int,
    responder_id: int,
    first: bool,
) -> None:
    conn.execute(
        insert(responses).values(
            business_id=business_id,
            cycle_id=cycle_id,
            waited_from=waited_from,
            answered_at=answered_at,
            responder_id=responder_id,
            first=int(first),
        )
    )


def cycles_in(conn: Connection, business_id: int, start: int, end: int) -> list[RowMapping]:
    """The business's cycles opened, resolved or rated within [start, end), oldest first."""

    def within(column: Any) -> Any:
        return and_(column >= start, column < end)

    return list(
        conn.execute(
            select(cycles)
            .where(
                cycles.c.business_id == business_id,
                or_(
                    within(cycles.c.opened_at),
                    within(cycles.c.resolved_at),
                    within(cycles.c.csat_at),
                ),
            )
            .order_by(cycles.c.id)
        ).mappings()
    )


def responses_in(conn: Connection, business_id: int, start: int, end: int) -> list[RowMapping]:
    """The waits answered within [start, end), with their cycle's conversation, assignee
    and team."""
    return list(
        conn.execute(
            select(
                responses.c.waited_from,
                responses.c.answered_at,
                responses.c.responder_id,
                responses.c.first,
                cycles.c.conversation_id,
                cycles.c.team_id,
            )
            .join(cycles, cycles.c.id == responses.c.cycle_id)
            .where(
                responses.c.business_id == business_id,
                responses.c.answered_at >= start,
                responses.c.answered_at < end,
            )
            .order_by(responses.c.id)
        ).mappings()
    )


# --- settings -----------------------------------------------------------------------------


def settings(conn: Connection, business_id: int) -> RowMapping | None:
    return (
        conn.execute(
            select(business_report_settings).where(
                business_report_settings.c.business_id == business_id
            )
        )
        .mappings()
        .first()
    )


def put_settings(conn: Connection, business_id: int, *, now: int, **values: Any) -> None:
    found = conn.execute(
        update(business_report_settings)
        .where(business_report_settings.c.business_id == business_id)
        .values(updated_at=now, **values)
    )
    if not found.rowcount:
        conn.execute(
            insert(business_report_settings).values(
                business_id=business_id, updated_at=now, **values
            )
        )
