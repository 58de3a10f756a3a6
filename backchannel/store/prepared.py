"""Hand-written SQL for the hot paths, compiled once per dialect.

SQLAlchemy Core builds, hashes (cache key) and dispatches each statement on
every call; on the send path that cost dominated (profiled: ~0.5 ms of CPU per
message). A `Prepared` statement is plain SQL with `:name` parameters, compiled
once per dialect to its paramstyle and run with `exec_driver_sql`. Only
portable SQL goes here (it runs on SQLite and PostgreSQL alike), and only
where a benchmark showed the cost.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, CursorResult, text


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

    def __call__(self, conn: Connection, **params: Any) -> CursorResult[Any]:
        sql, order = self._compiled(conn)
        if order is not None:
            return conn.exec_driver_sql(sql, tuple(params[name] for name in order))
        return conn.exec_driver_sql(sql, params)
