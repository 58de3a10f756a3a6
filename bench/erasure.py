"""Account-erasure benchmark: how long "Delete my account" takes to erase every message of
an account (`account_erasure_messages = "erase"`), printed as JSON.

Runs the app in this process (embedded default, or `--database-url`) with its own job
runner. The account's `--messages` messages, in one conversation, are written straight to
the database with their `message.created` events (sending them through the API would time
the sends); then the account is deleted through the API and the clock runs until the
background job has erased them all, in batches of `--batch`.

Usage: python -m bench.erasure [--messages N] [--batch B] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import create_engine, insert, select, update

from backchannel.app import create_app
from backchannel.config import load_settings
from backchannel.store import migrate
from backchannel.store.tables import (
    account_erasures,
    conversations,
    events,
    messages,
    stream_state,
    users,
)
from bench.pg import fresh_schema


def _seed(url: str, cid: str, handle: str, count: int) -> None:
    """`count` messages from `handle` in conversation `cid`, with their events."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conversation = conn.execute(
            select(conversations.c.id).where(conversations.c.pid == cid)
        ).scalar_one()
        sender = conn.execute(select(users.c.id).where(users.c.handle == handle)).scalar_one()
        start = int(conn.execute(select(stream_state.c.position)).scalar_one())
        now = int(time.time() * 1000)
        rows, log = [], []
        for n in range(1, count + 1):
            pid = f"m_bench{n:010d}"
            text = f"message number {n}"
            rows.append(
                {"pid": pid, "conversation_id": conversation, "sender_id": sender,
                 "position": start + n, "text": text, "created_at": now}
            )  # fmt: skip
            payload = {"message": {"id": pid, "conversation_id": cid, "text": text}}
            log.append(
                {"position": start + n, "conversation_id": conversation, "type": "message.created",
                 "payload": orjson.dumps(payload).decode(), "created_at": now}
            )  # fmt: skip
        for chunk in range(0, count, 5000):
            conn.execute(insert(messages), rows[chunk : chunk + 5000])
            conn.execute(insert(events), log[chunk : chunk + 5000])
        conn.execute(update(stream_state).values(position=start + count))
        conn.execute(
            update(conversations)
            .where(conversations.c.id == conversation)
            .values(last_position=start + count)
        )
    engine.dispose()


async def _run(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    settings = load_settings(
        data_dir=data_dir,
        database_url=args.database_url,
        log_level="warning",
        argon2_time_cost=1,
        argon2_memory_kib=64,
        dm_inbox_default="everyone",
        rate_limits=False,
        erasure_batch_size=args.batch,
    )
    url = settings.resolved_database_url
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:

            async def account(handle: str) -> dict[str, str]:
                r = await http.post(
                    "/api/v1/accounts",
                    json={"handle": handle, "password": "bench passphrase"},
                )
                return {"authorization": f"Bearer {r.json()['token']}"}

            alice, _bob = await account("alice"), await account("bob")
            r = await http.post(
                "/api/v1/conversations", json={"kind": "direct", "members": ["bob"]}, headers=alice
            )
            cid = r.json()["id"]
            await asyncio.to_thread(_seed, url, cid, "alice", args.messages)
            started = time.perf_counter()
            r = await http.post("/api/v1/me/delete", json={"password": "bench passphrase"},
                                headers=alice)  # fmt: skip
            assert r.status_code == 202, r.text
            request_s = time.perf_counter() - started
            store = app.state.core.store
            while True:
                done = await store.read(
                    "bench_erasure",
                    lambda t: t.conn.execute(select(account_erasures.c.finished_at)).scalar(),
                )
                if done is not None:
                    break
                await asyncio.sleep(0.05)
            total_s = time.perf_counter() - started
    return {
        "benchmark": "erasure",
        "engine": "postgresql" if args.database_url else "sqlite",
        "messages": args.messages,
        "batch": args.batch,
        "request_ms": round(request_s * 1000, 1),
        "erased_in_s": round(total_s, 2),
        "messages_per_s": round(args.messages / total_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.database_url is None:
            result = asyncio.run(_run(args, Path(tmp)))
        else:
            with fresh_schema(args.database_url, "bench_erasure") as url:
                args.database_url = url
                result = asyncio.run(_run(args, Path(tmp)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
