"""The worker that runs due jobs, inside the server process (one per node that runs jobs).

It sleeps until the earliest job is due — woken early when a commit enqueues one sooner
(`Store.wake_jobs`), and at most `jobs_poll_seconds` apart, for jobs other nodes enqueued —
then leases a batch in a write transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
nodes never take the same job) and runs up to `jobs_concurrency` handlers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

import orjson

from backchannel.jobs import GiveUp, Job, Retry
from backchannel.jobs.kinds import HANDLERS
from backchannel.services.core import Core
from backchannel.store import jobs as db
from backchannel.store.database import ReadTxn, WriteTxn

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 5.0
BACKOFF_CAP_S = 6 * 3600.0


def backoff_seconds(attempt: int, rng: random.Random | None = None) -> float:
    """The wait before attempt `attempt + 1`: exponential from BACKOFF_BASE_S, capped, with
    "equal jitter" (half fixed, half random) so that failures that happened together (an
    endpoint down) do not all come back together."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempt - 1))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


class JobRunner:
    def __init__(self, core: Core) -> None:
        self.core = core
        settings = core.settings
        self.poll_s = settings.jobs_poll_seconds
        self.lease_ms = int(settings.jobs_lease_seconds * 1000)
        self.max_attempts = settings.jobs_max_attempts
        self.concurrency = settings.jobs_concurrency
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._next_due: int | None = None
        # Jobs done whose rows are not deleted yet: one write deletes all that finished
        # while the previous one waited (a write per job capped PostgreSQL at ~270 jobs/s).
        self._finished: list[tuple[int, int]] = []
        self._flushing: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.core.store.wake_jobs = self.wake
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="bc-jobs")

    def wake(self, run_at: int) -> None:
        """A commit enqueued a job due at `run_at`: look again if that is sooner."""
        if self._next_due is None or run_at < self._next_due:
            self._next_due = run_at
            self._wake.set()

    async def close(self) -> None:
        """Stop leasing; let running handlers finish (their leases cover a crash anyway)."""
        self.core.store.wake_jobs = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.drain()

    async def _loop(self) -> None:
        store = self.core.store
        while True:
            self._wake.clear()
            try:
                due = await store.read("jobs_next_due", lambda t: db.next_due(t.conn))
                if due is not None and due <= store.now_ms() and await self.run_due():
                    continue  # there may be more due already
            except Exception:
                log.warning("job queue round failed", exc_info=True)
                due = None
            self._next_due = due
            delay = self.poll_s
            if due is not None:
                delay = max(0.0, min(delay, (due - store.now_ms()) / 1000))
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)

    async def run_due(self) -> int:
        """Lease the jobs due now (as many as there are free handler slots) and start them;
        returns how many (1 when all slots were busy and half came free). Tests call it with
        the store's clock moved on, then `drain()`."""
        if len(self._running) >= self.concurrency:
            # Wait for half the slots, not one: claiming one job per transaction when
            # handlers are quick made the claims the bottleneck.
            while len(self._running) > self.concurrency // 2:
                await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
            return 1
        free = self.concurrency - len(self._running)

        def txn(t: WriteTxn) -> list[Job]:
            rows = db.claim(t.conn, now=t.now_ms, lease_ms=self.lease_ms, limit=free)
            return [
                Job(
                    int(row["id"]),
                    str(row["kind"]),
                    orjson.loads(row["payload"]),
                    int(row["attempts"]),
                    int(row["run_at"]),
                )
                for row in rows
            ]

        claimed = await self.core.store.write("jobs_claim", txn)
        for job in claimed:
            task = asyncio.get_running_loop().create_task(self._run(job))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return len(claimed)

    async def drain(self) -> None:
        """Wait for every handler started so far, and their ends' deletes (tests, shutdown)."""
        while self._running or self._flushing is not None:
            await asyncio.gather(*list(self._running), return_exceptions=True)
            if self._flushing is not None:
                await asyncio.gather(self._flushing, return_exceptions=True)

    def _done(self, job: Job) -> None:
        self._finished.append((job.id, job.attempt))
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush_done())

    async def _flush_done(self) -> None:
        try:
            while self._finished:
                batch, self._finished = self._finished, []

                def txn(t: WriteTxn, batch: list[tuple[int, int]] = batch) -> None:
                    db.finish_many(t.conn, batch)

                await self.core.store.write("jobs_done", txn)
        except Exception:
            # Left queued under their leases: they run again later (at least once).
            log.warning("could not delete finished jobs", exc_info=True)
        finally:
            self._flushing = None

    async def _run(self, job: Job) -> None:
        started = time.perf_counter()
        try:
            handler = HANDLERS.get(job.kind)
            if handler is None:
                raise GiveUp(f"no handler for job kind {job.kind!r}")
            await handler(self.core, job)
        except Retry as signal:
            await self._later(job, str(signal), signal.after_s, outcome="retry")
        except GiveUp as exc:
            await self._fail(job, str(exc) or type(exc).__name__)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            if job.attempt >= self.max_attempts:
                await self._fail(job, error)
            else:
                log.info(
                    "job failed, will retry",
                    extra={"fields": {"kind": job.kind, "job": job.id, "attempt": job.attempt}},
                    exc_info=exc,
                )
                await self._later(job, error, backoff_seconds(job.attempt), outcome="error")
        else:
            self._done(job)
            self._count(job, "done")
        finally:
            self.core.metrics.job_seconds.labels(job.kind).observe(time.perf_counter() - started)

    async def _later(self, job: Job, error: str, delay_s: float, *, outcome: str) -> None:
        run_at = self.core.store.now_ms() + int(delay_s * 1000)

        def txn(t: WriteTxn) -> None:
            db.retry_later(t.conn, job.id, run_at=run_at, error=error, now=t.now_ms)

        await self.core.store.write("job_retry", txn)
        self.wake(run_at)
        self._count(job, outcome)

    async def _fail(self, job: Job, error: str) -> None:
        log.warning(
            "job failed for good",
            extra={"fields": {"kind": job.kind, "job": job.id, "attempts": job.attempt}},
        )
        await self.core.store.write(
            "job_failed", lambda t: db.fail(t.conn, job.id, error=error, now=t.now_ms)
        )
        self._count(job, "failed")

    def _count(self, job: Job, outcome: str) -> None:
        self.core.metrics.jobs.labels(job.kind, outcome).inc()


async def queue_counts(core: Core) -> dict[str, int]:
    def txn(t: ReadTxn) -> dict[str, int]:
        return db.counts(t.conn)

    return await core.store.read("jobs_counts", txn)
