"""Operators' view of the job queue (`backchannel jobs …`): what is queued or failed, and
queuing failed jobs again once their cause is mended."""

from __future__ import annotations

from typing import Any

import orjson

from backchannel.services.core import Core
from backchannel.services.views import iso
from backchannel.store import jobs as db
from backchannel.store.database import ReadTxn, WriteTxn


async def list_jobs(core: Core, *, state: str | None, limit: int) -> dict[str, Any]:
    """Jobs by due time (`state`: queued or failed; None: both), and the counts by state.
    Payloads are ids only, so they are shown as they are."""

    def txn(t: ReadTxn) -> dict[str, Any]:
        rows = db.list_jobs(t.conn, state=state, limit=max(1, min(limit, 500)))
        return {
            "counts": db.counts(t.conn),
            "items": [
                {
                    "id": int(row["id"]),
                    "kind": row["kind"],
                    "state": row["state"],
                    "run_at": iso(row["run_at"]),
                    "attempts": int(row["attempts"]),
                    "leased": row["lease_until"] is not None and row["lease_until"] > t.now_ms,
                    "last_error": row["last_error"],
                    "payload": orjson.loads(row["payload"]),
                }
                for row in rows
            ],
        }

    return await core.store.read("jobs_list", txn)


async def retry_failed(core: Core, *, job_id: int | None) -> int:
    """Queue failed jobs again, due now (one, or all with `job_id` None); how many."""

    def txn(t: WriteTxn) -> int:
        return db.requeue_failed(t.conn, job_id=job_id, now=t.now_ms)

    return await core.store.write("jobs_retry_failed", txn)
