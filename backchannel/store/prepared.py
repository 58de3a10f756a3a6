"""Hand-written SQL for the hot paths, compiled once per dialect, run on the raw driver.

SQLAlchemy Core builds, hashes (cache key) and dispatches each statement on
every call; on the send path that cost dominated (profiled: ~0.5 ms of CPU per
message). Even `exec_driver_sql` costs ~10-20 µs a statement in Python (execution
context, events, result wrapping) against ~1.5 µs for the driver's own cursor, and
a send runs eight statements. So a `Prepared` statement is plain SQL with `:name`
parameters, compiled once per dialect to its paramstyle, and executed on the DBAPI
connection underneath the SQLAlchemy one, inside the same transaction. What
SQLAlchemy would have done around it is kept: driver errors are re-raised as
SQLAlchemy's (`IntegrityError`, `OperationalError`…, so callers and the writer's
retry logic see what they always saw), a lost connection is invalidated, and the
statement is counted for the query-count pins (`counting`).

Only portable SQL goes here (it runs on SQLite and PostgreSQL alike), and only
where a benchmark showed the cost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, StatementError

# conn.info key of the callable that counts a statement (see Store and QueryCounter)
COUNTER = "backchannel.count_statement"
# conn.info key of the statements held back for the next round trip (see `deferring`)
DEFERRED = "backchannel.deferred"


class Rows:
    """The few result methods the hot paths use, over a DBAPI cursor."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def all(self) -> list[Sequence[Any]]:
        rows: list[Sequence[Any]] = self._cursor.fetchall()
        return rows

    def first(self) -> Sequence[Any] | None:
        row: Sequence[Any] | None = self._cursor.fetchone()
        return row

    def scalar_one(self) -> Any:
        rows = self._cursor.fetchall()
        if len(rows) != 1:
            raise LookupError(f"expected one row, got {len(rows)}")
        return rows[0][0]

    def mapping(self) -> dict[str, Any] | None:
        """The first row as a dict by column name, or None."""
        row = self._cursor.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in self._cursor.description], row, strict=True))


class Prepared:
    """`deferrable`: a statement that returns nothing (INSERT, UPDATE) may be held back and
    sent with the next one in a single round trip, where the connection is `deferring`."""

    __slots__ = ("_by_dialect", "_text", "deferrable", "name")

    def __init__(self, name: str, sql: str, *, deferrable: bool = False) -> None:
        self.name = name
        self.deferrable = deferrable
        self._text = text(sql)
        self._by_dialect: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def _compiled(self, conn: Connection) -> tuple[str, tuple[str, ...] | None]:
        dialect = conn.dialect
        entry = self._by_dialect.get(dialect.name)
        if entry is None:
            compiled = self._text.compile(dialect=dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            entry = (compiled.string, order)
            self._by_dialect[dialect.name] = entry
        return entry

    def __call__(self, conn: Connection, **params: Any) -> Rows:
        sql, order = self._compiled(conn)
        args: Any = params if order is None else tuple(params[name] for name in order)
        return execute_raw(conn, sql, args, defer=self.deferrable)


_NO_ROWS = Rows(None)


def execute_raw(conn: Connection, sql: str, args: Any = (), *, defer: bool = False) -> Rows:
    """Run `sql` on the driver's connection under `conn`, in its transaction. With `defer`
    on a `deferring` connection it is only queued (and returns no rows)."""
    info = conn.info
    count: Callable[[str], None] | None = info.get(COUNTER)
    if count is not None:
        count(sql)
    pending: list[tuple[str, Any]] | None = info.get(DEFERRED)
    if pending is not None:
        if defer:
            pending.append((sql, args))
            return _NO_ROWS
        if pending:
            return _pipelined(conn, pending, sql, args)
    dbapi_conn = conn.connection.driver_connection
    assert dbapi_conn is not None
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(sql, args)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, exc, sql, args, cursor) from exc
    return Rows(cursor)


def defer_raw(conn: Connection, sql: str) -> object | None:
    """Queue `sql` (no parameters) on a `deferring` connection and return a handle for
    `drop_from`; elsewhere run it now and return None."""
    pending: list[tuple[str, Any]] | None = conn.info.get(DEFERRED)
    if pending is None:
        execute_raw(conn, sql)
        return None
    item = (sql, ())
    pending.append(item)
    return item


def drop_from(conn: Connection, handle: object | None) -> bool:
    """If the statement `handle` names was never sent, forget it and everything queued
    after it, and return True: the server has seen none of it. False: it was sent."""
    pending: list[tuple[str, Any]] | None = conn.info.get(DEFERRED)
    if handle is None or not pending:
        return False
    for index, item in enumerate(pending):
        if item is handle:
            del pending[index:]
            return True
    return False


def flush(conn: Connection) -> None:
    """Send the deferred statements now (one round trip). Their errors are raised here."""
    pending: list[tuple[str, Any]] | None = conn.info.get(DEFERRED)
    if pending:
        _pipelined(conn, pending, None, None)


def discard(conn: Connection) -> None:
    """Forget the deferred statements (the transaction or savepoint is being rolled back)."""
    pending: list[tuple[str, Any]] | None = conn.info.get(DEFERRED)
    if pending:
        pending.clear()


@contextlib.contextmanager
def deferring(conn: Connection) -> Iterator[None]:
    """PostgreSQL: hold back `deferrable` statements (and the savepoint statements) and send
    them, in libpq's pipeline mode, together with the next statement that needs an answer,
    or at `flush`. Every statement is still one server round trip away from a network hop
    otherwise: on a send that was ~9 round trips, under the lock that orders commits.
    Anything SQLAlchemy executes meanwhile flushes first (see Store), so order is kept.
    A no-op on other databases."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.info[DEFERRED] = []
    try:
        yield
    finally:
        conn.info.pop(DEFERRED, None)


def _pipelined(
    conn: Connection, pending: list[tuple[str, Any]], sql: str | None, args: Any
) -> Rows:
    batch = list(pending)
    pending.clear()
    dbapi_conn = conn.connection.driver_connection
    assert dbapi_conn is not None
    cursor = dbapi_conn.cursor()
    try:
        with dbapi_conn.pipeline():
            for queued_sql, queued_args in batch:
                dbapi_conn.execute(queued_sql, queued_args)
            if sql is not None:
                cursor.execute(sql, args)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, exc, sql or batch[-1][0], args, cursor) from exc
    return Rows(cursor) if sql is not None else _NO_ROWS


def _wrapped(conn: Connection, exc: Any, sql: str, args: Any, cursor: Any) -> StatementError:
    """The driver's error as SQLAlchemy's, invalidating a connection that was lost."""
    dbapi_conn = conn.connection.driver_connection
    if conn.dialect.is_disconnect(exc, dbapi_conn, cursor):
        conn.invalidate(exc)
    return DBAPIError.instance(
        sql, args, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
    )
