"""The job queue: work that happens later or outside a request (a snooze ending, a webhook
delivery, a scheduled send), kept in the database.

A use case enqueues a job *in its own transaction* (`enqueue(t, ...)`), so the job exists
exactly when what decided it committed, and survives a restart. Workers (`runner.JobRunner`,
one per node that runs jobs) lease due jobs, run their handler (`kinds.HANDLERS`) and delete
them. A handler that raises is retried with exponential backoff and jitter; after
`jobs_max_attempts` the job is kept as `failed` for an operator (`backchannel jobs`).

Delivery is at least once: a node that dies mid-job leaves a lease that runs out, and another
node runs the job again. Handlers are therefore idempotent — a handler whose effect is a
write makes it conditional on the state it expects (a snooze ends only if the conversation
is still snoozed until that time), and may call `done_in_txn` in that same transaction so
the effect and the job's end commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backchannel.store import jobs as db
from backchannel.store.database import WriteTxn


@dataclass(frozen=True, slots=True)
class Job:
    """A job as its handler gets it. `attempt` counts from 1."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    run_at: int  # when it was due (ms)


class Retry(Exception):
    """Raised by a handler to be run again after `after_s` seconds (not counted as a
    failure's backoff, but still an attempt)."""

    def __init__(self, reason: str, after_s: float) -> None:
        super().__init__(reason)
        self.after_s = after_s


class GiveUp(Exception):
    """Raised by a handler that knows retrying cannot help: the job fails at once."""


def enqueue(
    t: WriteTxn,
    kind: str,
    payload: dict[str, Any],
    *,
    run_at: int | None = None,
    key: str | None = None,
) -> int:
    """Queue a job in `t`, due at `run_at` (ms; now when None). A `key` names it: a job
    queued with the key of one still queued replaces it (one snooze per conversation).
    The payload is JSON: ids and values, never secrets or message bodies."""
    from backchannel.jobs.kinds import HANDLERS

    assert kind in HANDLERS, kind
    due = t.now_ms if run_at is None else run_at
    job_id = db.insert_job(t.conn, kind=kind, payload=payload, run_at=due, key=key, now=t.now_ms)
    wake = t.wake_jobs
    if wake is not None:
        t.after_commit.append(lambda: wake(due))
    return job_id


def enqueue_earliest(
    t: WriteTxn, kind: str, payload: dict[str, Any], *, run_at: int, key: str
) -> None:
    """`enqueue` named `key`, unless the queued job of that name is due no later than
    `run_at` already (one job per conversation, due at its next expiry)."""
    due = db.due_of(t.conn, key)
    if due is None or due > run_at:
        enqueue(t, kind, payload, run_at=run_at, key=key)


def cancel(t: WriteTxn, key: str) -> bool:
    """Drop the queued job named `key`, in `t`; whether there was one."""
    return db.delete_by_key(t.conn, key)


def done_in_txn(t: WriteTxn, job: Job) -> None:
    """End `job` in the handler's own transaction (its effect and its end commit together)."""
    db.finish(t.conn, job.id, job.attempt)
