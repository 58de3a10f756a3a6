"""SQL of the job queue (backchannel/jobs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, tuple_, update

from backchannel.store.tables import jobs

Row = Mapping[Any, Any]


def insert_job(
    conn: Connection, *, kind: str, payload: dict[str, Any], run_at: int, key: str | None, now: int
) -> int:
    if key is not None:
        conn.execute(delete(jobs).where(jobs.c.key == key))
    return int(
        conn.execute(
            insert(jobs)
            .values(
                kind=kind,
                key=key,
                payload=orjson.dumps(payload).decode(),
                state="queued",
                run_at=run_at,
                attempts=0,
                created_at=now,
                updated_at=now,
            )
            .returning(jobs.c.id)
        ).scalar_one()
    )


def due_of(conn: Connection, key: str) -> int | None:
    """When the queued job named `key` is due, or None when there is none."""
    value = conn.execute(
        select(jobs.c.run_at).where(jobs.c.key == key, jobs.c.state == "queued")
    ).scalar()
    return None if value is None else int(value)


def delete_by_key(conn: Connection, key: str) -> bool:
    """Delete the queued job named `key`; whether there was one."""
    result = conn.execute(delete(jobs).where(jobs.c.key == key, jobs.c.state == "queued"))
    return bool(result.rowcount)


def next_due(conn: Connection) -> int | None:
    """When the earliest queued job is due (a lease running counts as its end)."""
    larger = func.greatest if conn.dialect.name == "postgresql" else func.max
    run_at = larger(jobs.c.run_at, func.coalesce(jobs.c.lease_until, 0))
    value = conn.execute(select(func.min(run_at)).where(jobs.c.state == "queued")).scalar()
    return None if value is None else int(value)


def claim(conn: Connection, *, now: int, lease_ms: int, limit: int) -> list[Row]:
    """Lease up to `limit` due jobs (earliest first) until `now + lease_ms`, counting an
    attempt; on PostgreSQL, rows another node is claiming are skipped, not waited for."""
    query = (
        select(jobs.c.id, jobs.c.kind, jobs.c.payload, jobs.c.attempts, jobs.c.run_at)
        .where(jobs.c.state == "queued", jobs.c.run_at <= now)
        .where((jobs.c.lease_until.is_(None)) | (jobs.c.lease_until <= now))
        .order_by(jobs.c.run_at, jobs.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = conn.execute(query).mappings().all()
    if rows:
        conn.execute(
            update(jobs)
            .where(jobs.c.id.in_([row["id"] for row in rows]))
            .values(lease_until=now + lease_ms, attempts=jobs.c.attempts + 1, updated_at=now)
        )
    return [{**row, "attempts": row["attempts"] + 1} for row in rows]


def finish(conn: Connection, job_id: int, attempts: int) -> None:
    """Delete a job done, unless it was re-enqueued (same key) since it was claimed."""
    conn.execute(delete(jobs).where(jobs.c.id == job_id, jobs.c.attempts == attempts))


def finish_many(conn: Connection, done: list[tuple[int, int]]) -> None:
    """`finish` for many (job id, attempt) pairs in one statement."""
    if not done:
        return
    conn.execute(
        delete(jobs).where(tuple_(jobs.c.id, jobs.c.attempts).in_([tuple_(i, a) for i, a in done]))
    )


def retry_later(conn: Connection, job_id: int, *, run_at: int, error: str, now: int) -> None:
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(run_at=run_at, lease_until=None, last_error=error, updated_at=now)
    )


def fail(conn: Connection, job_id: int, *, error: str, now: int) -> None:
    """Give up on a job: kept, `failed`, for an operator (its key freed for a new one)."""
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(state="failed", key=None, lease_until=None, last_error=error, updated_at=now)
    )


def list_jobs(conn: Connection, *, state: str | None, limit: int) -> Sequence[Row]:
    query = select(jobs).order_by(jobs.c.run_at, jobs.c.id).limit(limit)
    if state is not None:
        query = query.where(jobs.c.state == state)
    return conn.execute(query).mappings().all()


def counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state)).all()
    return {str(state): int(n) for state, n in rows}


def requeue_failed(conn: Connection, *, job_id: int | None, now: int) -> int:
    """Queue failed jobs (one, or all) again, now, with their attempts counted afresh."""
    query = update(jobs).where(jobs.c.state == "failed")
    if job_id is not None:
        query = query.where(jobs.c.id == job_id)
    result = conn.execute(query.values(state="queued", run_at=now, attempts=0, updated_at=now))
    return int(result.rowcount)
