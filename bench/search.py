"""Message search benchmark: index build and query latency on a realistic volume, printed
as JSON.

Builds `--messages` messages (default 1,000,000) among `--users` people in direct
conversations and groups, bulk-inserted through the store's writer (the search index
is kept as they go in: FTS5 triggers on SQLite, the GIN index on PostgreSQL), then times
a full `reindex` and searches through the service (`services.search.search_messages`,
rendering included) for random members: a common word, a rare word, a prefix, a phrase,
the common word with each filter, and newest-first. Words follow a Zipf distribution
over a 20,000-word vocabulary, so "common" matches ~1 message in 12 and "rare" a few
hundred in the whole database.

Usage: python -m bench.search [--messages N] [--database-url URL] [--queries Q]
(PostgreSQL: a schema of its own is created in that database and dropped afterwards.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text, update
from sqlalchemy.pool import NullPool

from backchannel.app import create_app
from backchannel.config import load_settings
from backchannel.domain.ids import new_id
from backchannel.services import search_index
from backchannel.services.core import Core, Requester
from backchannel.services.search import MessageSearch, search_messages
from backchannel.store import migrate
from backchannel.store import search as search_db
from backchannel.store.database import WriteTxn
from backchannel.store.tables import conversations, members, messages, users
from bench.pg import fresh_schema

VOCABULARY = 20_000
BATCH = 5_000
_SYLLABLES = [a + b for a in "bcdfghklmnprstvz" for b in "aeiou"]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _vocabulary(rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words, key=lambda w: rng.random())


def _world(args: argparse.Namespace, rng: random.Random) -> tuple[list[list[int]], int]:
    """Conversations as lists of member ids (users 1..N): directs, then groups of 8."""
    convs: list[list[int]] = []
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < args.users * 4:
        a, b = sorted(rng.sample(range(1, args.users + 1), 2))
        pairs.add((a, b))
    convs.extend([a, b] for a, b in sorted(pairs))
    for _ in range(args.users // 10):
        convs.append(rng.sample(range(1, args.users + 1), 8))
    return convs, len(convs)


async def _build(core: Core, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    words = _vocabulary(rng)
    weights = [1 / (rank + 1) ** 1.05 for rank in range(VOCABULARY)]
    convs, _ = _world(args, rng)
    now = int(time.time() * 1000) - args.messages * 1000

    def people(t: WriteTxn) -> None:
        t.conn.execute(
            insert(users),
            [
                {
                    "id": i,
                    "pid": new_id("u"),
                    "handle": f"user{i}",
                    "display_name": f"User {i}",
                    "created_at": now,
                }
                for i in range(1, args.users + 1)
            ],
        )
        t.conn.execute(
            insert(conversations),
            [
                {
                    "id": c + 1,
                    "pid": new_id("c"),
                    "kind": "direct" if len(m) == 2 else "group",
                    "direct_key": f"{m[0]}:{m[1]}" if len(m) == 2 else None,
                    "title": None if len(m) == 2 else f"Group {c}",
                    "created_by": m[0],
                    "created_at": now,
                    "last_position": 0,
                }
                for c, m in enumerate(convs)
            ],
        )
        t.conn.execute(
            insert(members),
            [
                {
                    "conversation_id": c + 1,
                    "user_id": u,
                    "role": "admin" if len(m) > 2 and u == m[0] else "member",
                    "joined_position": 0,
                    "joined_at": now,
                    "read_position": 0,
                }
                for c, m in enumerate(convs)
                for u in m
            ],
        )

    await core.store.write("bench_people", people)
    started = time.perf_counter()
    for first in range(0, args.messages, BATCH):
        rows = []
        for n in range(first, min(first + BATCH, args.messages)):
            c = rng.randrange(len(convs))
            body = " ".join(rng.choices(words, weights, k=rng.randint(3, 18)))
            if rng.random() < 0.03:
                body += f" https://example.com/{words[rng.randrange(100)]}"
            rows.append(
                {
                    "pid": new_id("m"),
                    "conversation_id": c + 1,
                    "sender_id": rng.choice(convs[c]),
                    "text": body,
                    "created_at": now + n * 1000,
                    "media_count": 1 if rng.random() < 0.02 else 0,
                }
            )

        def batch(t: WriteTxn, rows: list[dict[str, Any]] = rows) -> None:
            for row in rows:
                row["position"] = t.next_position()
            t.conn.execute(insert(messages), rows)

        await core.store.write("bench_messages", batch)
    insert_s = time.perf_counter() - started

    def positions(t: WriteTxn) -> None:
        t.conn.execute(update(conversations).values(last_position=t.next_position()))

    await core.store.write("bench_positions", positions)
    return {
        "insert_with_index_s": round(insert_s, 1),
        "inserted_per_s": round(args.messages / insert_s),
        "common": words[4],
        "rare": words[VOCABULARY // 2],
        "members": convs,
    }


async def _time_queries(
    core: Core, args: argparse.Namespace, built: dict[str, Any], rng: random.Random
) -> dict[str, Any]:
    common, rare = built["common"], built["rare"]
    convs: list[list[int]] = built["members"]
    cases: dict[str, dict[str, Any]] = {
        "common_word": {"query": common},
        # the match across the whole index, joined to the searcher's conversations after
        # (what a searcher in more than NARROW_CONVERSATIONS conversations gets)
        "common_word_across_all": {"query": common, "narrow": 0},
        "rare_word": {"query": rare},
        "prefix": {"query": common[:3] + "*"},
        "phrase": {"query": f'"{common} {built["common"]}"'},
        "two_words": {"query": f"{common} {rare}"},
        "common_by_sender": {"query": common, "sender": "SENDER"},
        "common_in_conversation": {"query": common, "conversation_id": "CONVERSATION"},
        "common_has_link": {"query": common, "has_link": True},
        "common_last_week": {"query": common, "since": "WEEK"},
        "common_recent_first": {"query": common, "sort": "recent"},
    }
    pids = await core.store.read(
        "bench_pids",
        lambda t: dict(t.conn.execute(text("SELECT id, pid FROM conversations")).all()),
    )
    results: dict[str, Any] = {}
    narrow = search_db.NARROW_CONVERSATIONS
    for name, shape in cases.items():
        latencies = []
        hits = []
        search_db.NARROW_CONVERSATIONS = int(shape.get("narrow", narrow))
        for _ in range(args.queries):
            c = rng.randrange(len(convs))
            me = rng.choice(convs[c])
            fields = {k: v for k, v in shape.items() if k != "narrow"}
            if fields.get("sender") == "SENDER":
                fields["sender"] = f"user{rng.choice([u for u in convs[c] if u != me])}"
            if fields.get("conversation_id") == "CONVERSATION":
                fields["conversation_id"] = pids[c + 1]
            if fields.get("since") == "WEEK":
                fields["since"] = core.store.now_ms() - 7 * 86_400_000
            requester = Requester(user_id=me, user_pid="", handle=f"user{me}")
            started = time.perf_counter()
            page = await search_messages(
                core, requester, MessageSearch(**fields), cursor=None, limit=20
            )
            latencies.append((time.perf_counter() - started) * 1000)
            hits.append(len(page["items"]))
        results[name] = {
            "p50_ms": round(_percentile(latencies, 0.5), 2),
            "p95_ms": round(_percentile(latencies, 0.95), 2),
            "p99_ms": round(_percentile(latencies, 0.99), 2),
            "mean_hits": round(sum(hits) / len(hits), 1),
        }
    search_db.NARROW_CONVERSATIONS = narrow
    return results


def _counts(core: Core, common: str, rare: str) -> dict[str, int]:
    def read(t: Any) -> dict[str, int]:
        if t.conn.dialect.name == "sqlite":
            q = "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH :w"
        else:
            q = "SELECT count(*) FROM messages WHERE to_tsvector('simple', text) @@ to_tsquery('simple', :w)"
        return {
            "common_matches": int(t.conn.execute(text(q), {"w": common}).scalar_one()),
            "rare_matches": int(t.conn.execute(text(q), {"w": rare}).scalar_one()),
        }

    return core.store.read_blocking("bench_counts", read)


def _size(core: Core, data_dir: Path) -> dict[str, Any]:
    if core.store.is_sqlite:
        path = data_dir / "backchannel.db"
        wal = path.with_name(path.name + "-wal")
        total = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

        def fts(t: Any) -> int:
            return int(
                t.conn.execute(
                    text(
                        "SELECT coalesce(sum(pgsize), 0) FROM dbstat"
                        " WHERE name LIKE 'messages_fts%'"
                    )
                ).scalar_one()
            )

        try:
            index = core.store.read_blocking("bench_size", fts)
        except Exception:  # dbstat is an optional SQLite module
            index = -1
        return {"db_mb": round(total / 2**20, 1), "index_mb": round(index / 2**20, 1)}

    def pg(t: Any) -> tuple[int, int]:
        db = t.conn.execute(
            text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )
        ).scalar_one()
        index = t.conn.execute(
            text("SELECT pg_relation_size('ix_messages_text_search')")
        ).scalar_one()
        return int(db), int(index)

    total, index = core.store.read_blocking("bench_size", pg)
    return {"db_mb": round(total / 2**20, 1), "index_mb": round(index / 2**20, 1)}


async def _run(args: argparse.Namespace, data_dir: Path, url: str | None) -> dict[str, Any]:
    settings = load_settings(
        data_dir=data_dir, database_url=url, log_level="warning", jobs_enabled=False
    )
    engine = create_engine(settings.resolved_database_url, poolclass=NullPool)
    migrate.upgrade(engine)
    engine.dispose()
    rng = random.Random(8)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        core: Core = app.state.core
        built = await _build(core, args, rng)
        started = time.perf_counter()
        await search_index.reindex(core, batch=args.reindex_batch)
        reindex_s = time.perf_counter() - started
        queries = await _time_queries(core, args, built, rng)
        counts = _counts(core, built["common"], built["rare"])
        size = _size(core, data_dir)
    return {
        "engine": "sqlite" if url is None else "postgresql",
        "messages": args.messages,
        "users": args.users,
        "conversations": len(built["members"]),
        "insert_with_index_s": built["insert_with_index_s"],
        "inserted_per_s": built["inserted_per_s"],
        "reindex_s": round(reindex_s, 1),
        **counts,
        **size,
        "queries_per_case": args.queries,
        "latency": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--reindex-batch", type=int, default=20_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.database_url is None:
            result = asyncio.run(_run(args, Path(tmp), None))
        else:
            with fresh_schema(args.database_url, "bench_search") as url:
                result = asyncio.run(_run(args, Path(tmp), url))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
