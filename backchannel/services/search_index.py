"""`backchannel reindex`: rebuild the search index, in batches, resumably.

The index is kept in step with every write (store/search.py), so a reindex is for
repairs and after an upgrade that changes how text is indexed. SQLite: the FTS5 rows
are rebuilt in batches of message ids, each batch one write transaction that also
moves the checkpoint (`search_reindex`); a reindex killed midway goes on from the
last committed batch when run again. Sends go on meanwhile: the triggers index them,
and a batch rebuilds its range whole, so nothing is indexed twice. At the end the index
is merged (`optimize`), which also drops what erased entries left in older segments.
PostgreSQL: the GIN index is rebuilt (`REINDEX`) in one step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backchannel import jobs
from backchannel.services.core import Core
from backchannel.store import search as db
from backchannel.store.database import ReadTxn, WriteTxn

BATCH = 5_000

# (last id done, highest message id) after each committed batch.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Reindexed:
    resumed_from: int | None  # the checkpoint an interrupted reindex had left, if any
    last_id: int
    batches: int


async def reindex(core: Core, *, batch: int = BATCH, progress: Progress | None = None) -> Reindexed:
    """Rebuild the whole index, resuming an interrupted reindex. `progress` is called
    after each committed batch (an exception from it stops the reindex there, as a kill
    would: the next run resumes)."""
    if not core.store.is_sqlite:
        await core.store.write("reindex_optimize", lambda t: db.optimize_index(t.conn))
        return Reindexed(None, 0, 1)
    resumed, upto = await core.store.write("reindex_start", _start)
    done = resumed or 0
    batches = 0
    while True:

        def step(t: WriteTxn, after: int = done) -> int:
            last = db.reindex_batch(t.conn, after_id=after, limit=batch, now=t.now_ms)
            if last == after:
                db.finish_reindex(t.conn)
            return last

        last = await core.store.write("reindex_batch", step)
        if last == done:
            break
        done = last
        batches += 1
        if progress is not None:
            progress(done, max(upto, done))
    await core.store.write("reindex_optimize", lambda t: db.optimize_index(t.conn))
    return Reindexed(resumed, done, batches)


def _start(t: WriteTxn) -> tuple[int | None, int]:
    """The checkpoint to resume from (None: a fresh start, recorded now) and the highest
    message id, for progress."""
    resumed = db.reindex_checkpoint(t.conn)
    if resumed is None:
        db.start_reindex(t.conn, now=t.now_ms)
    return resumed, db.max_message_id(t.conn)


async def checkpoint(core: Core) -> int | None:
    """Where an interrupted reindex stopped (a message id), or None."""
    return await core.store.read("reindex_checkpoint", _checkpoint)


def _checkpoint(t: ReadTxn) -> int | None:
    return db.reindex_checkpoint(t.conn)


# --- compaction after erasures (SQLite) -------------------------------------------------

COMPACT_JOB = "search.compact"
COMPACT_KEY = "search.compact"
# Erasures close together share one compaction: the first schedules it this long after.
COMPACT_AFTER_MS = 10 * 60_000
COMPACT_PAGES = 256


def compact_later_in_txn(t: WriteTxn) -> None:
    """Queue the index's compaction after an erasure (`services/erase.py`): FTS5 deletes
    an entry by adding a delete marker, and the erased words stay in the older segment
    until it is merged. Erasures within `COMPACT_AFTER_MS` of the first share one run, so
    what an erased message leaves in the index is gone within about that long."""
    jobs.enqueue_earliest(t, COMPACT_JOB, {}, run_at=t.now_ms + COMPACT_AFTER_MS, key=COMPACT_KEY)


async def compact(core: Core, job: jobs.Job) -> None:
    """The job `search.compact`: merge the SQLite index into one b-tree in bounded steps,
    each its own short write transaction (sends go on between them). PostgreSQL's GIN
    index drops erased entries itself (vacuum): nothing to do there."""
    more = core.store.is_sqlite
    while more:
        more = await core.store.write(
            "search_compact", lambda t: db.merge_step(t.conn, COMPACT_PAGES)
        )
