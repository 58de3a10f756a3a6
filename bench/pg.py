"""A throw-away PostgreSQL schema for a benchmark, so that a run never meets an earlier
run's rows (nor leaves its own) in the database it is given."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool


@contextmanager
def fresh_schema(url: str, prefix: str) -> Iterator[str]:
    """A new schema `{prefix}_{random}` in the PostgreSQL database at `url`; yields a URL
    that selects it, and drops it afterwards, whatever happened."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    name = f"{prefix}_{secrets.token_hex(4)}"
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        yield f"{url}?options=-csearch_path%3D{name}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        engine.dispose()
