"""The database: named transactions, one group-committing writer, stream positions.

Transactions are plain synchronous functions `fn(txn) -> T` run in threads
(Synapse's `runInteraction`, Datasette's `execute_write_fn`): one thread hop per
transaction instead of one per statement, which is what makes the send path fast.

Writes go through a single writer per process. It drains every queued write
into one database transaction (group commit), each write inside its own
SAVEPOINT so that one failing write rolls back alone. One `fsync` then covers
the whole batch, which keeps `synchronous=FULL` affordable on SQLite.

Stream positions: the first thing each write batch does is lock the single
`stream_state` row (`UPDATE ... RETURNING`); positions are handed out from it
in memory and the row is written back before commit. The row lock is held to
commit, so across processes and nodes commit order equals position order, and
a reader that sees position P committed also sees every position below P: no
reader can advance past a hole (DESIGN.md, "the classic trap"). Positions of
a rolled-back write are skipped, which is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from backchannel.errors import BackchannelError
from backchannel.store import prepared
from backchannel.store.prepared import Prepared
from backchannel.store.tables import stream_state

log = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


# The lock that orders commits: see the module docstring.
_LOCK_STREAM = Prepared(
    "lock_stream", "UPDATE stream_state SET position = position WHERE id = 1 RETURNING position"
)
_ADVANCE_STREAM = Prepared(
    "advance_stream", "UPDATE stream_state SET position = :position WHERE id = 1", deferrable=True
)


# SQLite: how often the WAL is checkpointed (see Store._checkpoints).
CHECKPOINT_SECONDS = 1.0
# SQLite: a WAL larger than this is truncated by a checkpoint that waits for the writer.
# The PASSIVE ones never wait, so under writes without a pause the log never started over:
# a million bulk inserts (bench/search.py) left an 8 GB WAL, and every read slowed down
# looking pages up in its index.
WAL_TRUNCATE_BYTES = 64 * 2**20


class StoreClosed(Exception):
    """Raised for writes submitted after the store began closing."""


class WriteTxn:
    """What a write function receives: the connection and the position allocator."""

    __slots__ = ("_first", "_next", "after_commit", "conn", "now_ms", "wake_jobs")

    def __init__(self, conn: Connection, first_free: int, now_ms: int) -> None:
        self.conn = conn
        self.wake_jobs: Callable[[int], None] | None = None
        self._first = first_free
        self._next = first_free
        self.now_ms = now_ms
        self.after_commit: list[Callable[[], None]] = []

    def next_position(self) -> int:
        """A fresh stream position, unique and increasing in commit order."""
        position = self._next
        self._next += 1
        return position

    @property
    def last_allocated(self) -> int:
        return self._next - 1


class ReadTxn:
    """What a read function receives."""

    __slots__ = ("conn", "now_ms")

    def __init__(self, conn: Connection, now_ms: int) -> None:
        self.conn = conn
        self.now_ms = now_ms


@dataclass
class _Write(Generic[T]):
    name: str
    fn: Callable[[WriteTxn], T]
    future: asyncio.Future[T]
    result: Any = None
    error: BaseException | None = None
    after_commit: list[Callable[[], None]] = field(default_factory=list)


_CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")


class QueryCounter:
    """Counts statements per named transaction (for query-count pins and metrics)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self.totals: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def naming(self, name: str) -> Iterator[None]:
        previous = getattr(self._local, "name", None)
        self._local.name = name
        try:
            yield
        finally:
            self._local.name = previous

    def on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.count(statement)

    def count(self, statement: str) -> None:
        """Count one statement (Prepared ones call this directly: no SQLAlchemy events)."""
        if statement.startswith(_CONTROL):
            return  # transaction control, not a query
        name = getattr(self._local, "name", None) or "unnamed"
        with self._lock:
            self.totals[name] = self.totals.get(name, 0) + 1


def _flush_deferred(conn: Connection, *_args: Any) -> None:
    prepared.flush(conn)


def _is_retryable(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in {"40001", "40P01"}


class Store:
    """Owns the engines, the read threads and the writer.

    `on_commit(position)` is called on the event loop after every write batch
    that allocated positions commits, with the highest position committed.
    """

    def __init__(
        self,
        url: str,
        *,
        read_pool_size: int = 4,
        group_commit_max: int = 512,
        sqlite_synchronous: str = "FULL",
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.group_commit_max = group_commit_max
        self.queries = QueryCounter()
        self.on_commit: Callable[[int], None] | None = None
        # What "now" is for every transaction (`now_ms`): the wall clock, or a test's.
        self.clock: Callable[[], float] = time.time
        # Called after a commit that enqueued a job, with its `run_at` (backchannel/jobs).
        self.wake_jobs: Callable[[int], None] | None = None
        # SQLite: `prefetch(conn, since, upto)` runs on the writer's thread and connection
        # right after each commit, reading positions (since, upto] — exactly the batch's —
        # and `on_prefetched(result)` gets it on the event loop before `on_commit`. It saves
        # the fan-out a thread hop and a read transaction per commit.
        self.prefetch: Callable[[Connection, int, int], Any] | None = None
        self.on_prefetched: Callable[[Any], None] | None = None
        self._batch_since = 0
        self.write_batches = 0
        self.writes = 0
        self._sync_pragma = sqlite_synchronous
        self._read_engine = self._make_engine(writer=False, pool_size=read_pool_size)
        self._write_engine = self._make_engine(writer=True, pool_size=1)
        self._reads = ThreadPoolExecutor(read_pool_size, thread_name_prefix="bc-read")
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="bc-write")
        self._checkpoint_thread = ThreadPoolExecutor(1, thread_name_prefix="bc-checkpoint")
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        self.wal_truncate_bytes = WAL_TRUNCATE_BYTES
        self._write_conn: Connection | None = None
        self._queue: asyncio.Queue[_Write[Any]] | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._closing = False

    # --- engines ------------------------------------------------------------

    def _make_engine(self, *, writer: bool, pool_size: int) -> Engine:
        if self.is_sqlite:
            engine = create_engine(
                self.url,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=pool_size,
                max_overflow=0,
            )
            synchronous = self._sync_pragma

            @event.listens_for(engine, "connect")
            def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
                # Let SQLAlchemy's "begin" below issue BEGIN, so SAVEPOINTs work.
                dbapi_conn.isolation_level = None
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute(f"PRAGMA synchronous={synchronous}")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=30000")
                # Erased means erased: deleted content is overwritten in the file, not left
                # in free pages (unsent and disappeared messages, erased accounts, jobs).
                cur.execute("PRAGMA secure_delete=ON")
                if writer:
                    # Checkpoints run beside the writer (Store._checkpoints), not inside a
                    # commit: an automatic one in the commit path was a p99 spike.
                    cur.execute("PRAGMA wal_autocheckpoint=0")
                cur.close()

            begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

            @event.listens_for(engine, "begin")
            def _sqlite_begin(conn: Connection) -> None:
                conn.exec_driver_sql(begin)

        else:
            engine = create_engine(
                self.url, pool_size=pool_size, max_overflow=2, pool_pre_ping=True
            )
        event.listen(engine, "before_cursor_execute", self.queries.on_execute)
        if writer and not self.is_sqlite:
            # SQLAlchemy statements go after anything prepared.deferring held back.
            event.listen(engine, "before_cursor_execute", _flush_deferred)

        @event.listens_for(engine, "connect")
        def _count_prepared(_dbapi_conn: Any, record: Any) -> None:
            record.info[prepared.COUNTER] = self.queries.count

        return engine

    def migration_engine(self) -> Engine:
        """A plain engine for Alembic, separate from the serving pools."""
        return create_engine(self.url, poolclass=NullPool)

    # --- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._writer_task = asyncio.create_task(self._writer_loop(), name="bc-writer")
        if self.is_sqlite:
            self._checkpoint_task = asyncio.create_task(self._checkpoints(), name="bc-checkpoint")

    async def _checkpoints(self) -> None:
        """SQLite: copy the WAL back into the database every CHECKPOINT_SECONDS, on a thread
        and connection of its own, PASSIVE (never waiting for readers or the writer)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            try:
                await loop.run_in_executor(self._checkpoint_thread, self._checkpoint)
            except Exception:
                log.warning("WAL checkpoint failed", exc_info=True)

    def _checkpoint(self) -> None:
        database = self._write_engine.url.database
        assert database is not None
        if self._checkpoint_conn is None:
            self._checkpoint_conn = sqlite3.connect(database, timeout=30, check_same_thread=False)
        self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        wal = Path(database + "-wal")
        if wal.exists() and wal.stat().st_size > self.wal_truncate_bytes:
            # Takes the write lock (the writer's next BEGIN IMMEDIATE waits for it), copies
            # what is left and empties the file, so the next write starts the log over.
            self._checkpoint_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    async def close(self) -> None:
        """Stop taking writes, finish the queued ones, then close the pools."""
        self._closing = True
        if self._queue is not None and self._writer_task is not None:
            await self._queue.join()
            self._writer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer_task
        loop = asyncio.get_running_loop()
        if self._write_conn is not None:
            await loop.run_in_executor(self._writer_thread, self._write_conn.close)
        if self._checkpoint_task is not None:
            self._checkpoint_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoint_task
            with contextlib.suppress(Exception):
                await loop.run_in_executor(self._checkpoint_thread, self._checkpoint)
            if self._checkpoint_conn is not None:
                self._checkpoint_conn.close()
        self._checkpoint_thread.shutdown(wait=True)
        self._writer_thread.shutdown(wait=True)
        self._reads.shutdown(wait=True)
        self._read_engine.dispose()
        self._write_engine.dispose()

    # --- reads --------------------------------------------------------------

    async def read(self, name: str, fn: Callable[[ReadTxn], T]) -> T:
        """Run `fn` in one read transaction (a consistent snapshot) on a read thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reads, self._run_read, name, fn)

    def _run_read(self, name: str, fn: Callable[[ReadTxn], T]) -> T:
        with self.queries.naming(name), self._read_engine.connect() as conn, conn.begin():
            return fn(ReadTxn(conn, self.now_ms()))

    def read_blocking(self, name: str, fn: Callable[[ReadTxn], T]) -> T:
        """`read` for callers outside the event loop (CLI, health checks in threads)."""
        return self._run_read(name, fn)

    # --- writes -------------------------------------------------------------

    async def write(self, name: str, fn: Callable[[WriteTxn], T]) -> T:
        """Queue `fn` for the writer and wait for its batch to commit.

        Returns `fn`'s result once it is durable; raises what `fn` raised (its
        changes rolled back, the rest of the batch unaffected), or the commit's
        error for every write in a batch that failed to commit.
        """
        return await self.write_nowait(name, fn)

    def write_nowait(self, name: str, fn: Callable[[WriteTxn], T]) -> asyncio.Future[T]:
        """`write` without waiting: queues `fn` now (writes commit in the order they were
        queued) and returns the future of its result, done once it is durable."""
        if self._closing or self._queue is None:
            raise BackchannelError("unavailable", "The server is shutting down.")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Write(name, fn, future))
        return future

    async def _writer_loop(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.group_commit_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            prefetched = None
            try:
                committed, prefetched = await loop.run_in_executor(
                    self._writer_thread, self._run_batch, batch
                )
            except BaseException as exc:  # the commit itself failed: nothing is durable
                log.error("write batch failed to commit", exc_info=exc)
                for op in batch:
                    op.error = exc if isinstance(exc, Exception) else StoreClosed()
                committed = None
            for op in batch:
                if committed is not None and op.error is None:
                    for callback in op.after_commit:
                        callback()
                if not op.future.done():
                    if op.error is not None:
                        op.future.set_exception(op.error)
                    else:
                        op.future.set_result(op.result)
                self._queue.task_done()
            if prefetched is not None and self.on_prefetched is not None:
                self.on_prefetched(prefetched)
            if committed and self.on_commit is not None:
                self.on_commit(committed)

    def _run_batch(self, batch: list[_Write[Any]]) -> tuple[int, Any]:
        """Runs in the writer thread. Returns the highest position committed (or 0) and
        what `prefetch` read of the positions this batch committed (or None)."""
        for attempt in range(5):
            try:
                committed = self._try_batch(batch)
            except DBAPIError as exc:
                if not _is_retryable(exc) or attempt == 4:
                    raise
                log.warning("write batch retried after %s", type(exc.orig).__name__)
                for op in batch:
                    op.error = None
                    op.result = None
                    op.after_commit = []
                continue
            return committed, self._prefetch(committed)
        raise AssertionError("unreachable")

    def _prefetch(self, committed: int) -> Any:
        """Read what the batch just committed while still on its thread and connection
        (see `prefetch`); None when there is nothing to read or the read failed."""
        if not committed or self.prefetch is None or self._write_conn is None:
            return None
        try:
            with self.queries.naming("prefetch"):
                return self.prefetch(self._write_conn, self._batch_since, committed)
        except Exception:
            log.warning("prefetch after commit failed", exc_info=True)
            return None

    def _try_batch(self, batch: list[_Write[Any]]) -> int:
        if self._write_conn is None or self._write_conn.invalidated:
            self._write_conn = self._write_engine.connect()
        conn = self._write_conn
        now_ms = self.now_ms()
        self.write_batches += 1
        self.writes += len(batch)
        try:
            with conn.begin(), prepared.deferring(conn):
                with self.queries.naming("stream_lock"):
                    current = int(_LOCK_STREAM(conn).scalar_one())
                self._batch_since = current
                txn = WriteTxn(conn, current + 1, now_ms)
                txn.wake_jobs = self.wake_jobs
                single = len(batch) == 1
                for op in batch:
                    txn.after_commit = op.after_commit
                    with self.queries.naming(op.name):
                        if single:
                            try:
                                op.result = op.fn(txn)
                                prepared.flush(conn)
                            except Exception as exc:
                                op.error = exc
                                raise
                            continue
                        # Raw SAVEPOINTs: SQLAlchemy's begin_nested() costs several
                        # times more per write, and a batch has hundreds. On PostgreSQL
                        # they travel with the write's first query (prepared.deferring),
                        # and the write's own statements are flushed before the next
                        # write starts, so a failure is always the failing write's.
                        savepoint = prepared.defer_raw(conn, "SAVEPOINT bc_write")
                        try:
                            op.result = op.fn(txn)
                            prepared.flush(conn)
                        except Exception as exc:
                            op.error = exc
                            if prepared.drop_from(conn, savepoint):
                                continue  # nothing of it reached the server
                            prepared.discard(conn)
                            prepared.execute_raw(conn, "ROLLBACK TO SAVEPOINT bc_write")
                        prepared.defer_raw(conn, "RELEASE SAVEPOINT bc_write")
                if txn.last_allocated > current:
                    with self.queries.naming("stream_advance"):
                        _ADVANCE_STREAM(conn, position=txn.last_allocated)
                    prepared.flush(conn)
                    return txn.last_allocated
                prepared.flush(conn)
                return 0
        except Exception as exc:
            # A lone write that raised: its transaction rolled back and the
            # error is its own, unless the database asks for a retry.
            if batch[0].error is exc and not (isinstance(exc, DBAPIError) and _is_retryable(exc)):
                return 0
            raise

    # --- positions ----------------------------------------------------------

    def now_ms(self) -> int:
        """Now, in milliseconds since the epoch, by `clock`."""
        return int(self.clock() * 1000)

    def current_position_blocking(self, conn: Connection) -> int:
        return int(conn.execute(select(stream_state.c.position)).scalar_one())

    async def ping(self) -> None:
        await self.read("ping", lambda txn: txn.conn.execute(text("SELECT 1")).scalar_one())
