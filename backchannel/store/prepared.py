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

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

# conn.info key of the callable that counts a statement (see Store and QueryCounter)
COUNTER = "backchannel.count_statement"


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
    __slots__ = ("_by_dialect", "_text", "name")

    def __init__(self, name: str, sql: str) -> None:
        self.name = name
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
        return execute_raw(conn, sql, args)


def execute_raw(conn: Connection, sql: str, args: Any = ()) -> Rows:
    """Run `sql` on the driver's connection under `conn`, in its transaction."""
    info = conn.info
    count: Callable[[str], None] | None = info.get(COUNTER)
    if count is not None:
        count(sql)
    dbapi_conn = conn.connection.driver_connection
    assert dbapi_conn is not None
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(sql, args)
    except conn.dialect.loaded_dbapi.Error as exc:
        if conn.dialect.is_disconnect(exc, dbapi_conn, cursor):
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql, args, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc
    return Rows(cursor)
