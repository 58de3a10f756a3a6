"""Data-export benchmark: how long making one person's export takes, printed as JSON.

Runs the app in this process (embedded default, or `--database-url`), gives alice
`--conversations` conversations of `--messages` messages each (sent over the API, some with
a reaction), then times her export from the request to `ready` (the job queue's build: one
step per conversation, then packing), and reports the ZIP's size.

Usage: python -m bench.exports [--conversations C] [--messages N] [--database-url URL]
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
from sqlalchemy import create_engine

from backchannel.app import create_app
from backchannel.config import load_settings
from backchannel.store import migrate


async def _run(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    settings = load_settings(
        data_dir=data_dir,
        database_url=args.database_url,
        log_level="warning",
        argon2_time_cost=1,
        argon2_memory_kib=64,
        dm_inbox_default="everyone",
        rate_limits=False,
    )
    engine = create_engine(settings.resolved_database_url)
    migrate.upgrade(engine)
    engine.dispose()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:

            async def account(handle: str) -> dict[str, str]:
                r = await http.post(
                    "/api/v1/accounts", json={"handle": handle, "password": "bench passphrase"}
                )
                return {"authorization": f"Bearer {r.json()['token']}"}

            alice = await account("alice")
            for n in range(args.conversations):
                friend = await account(f"friend{n}")
                r = await http.post(
                    "/api/v1/conversations",
                    json={"kind": "direct", "members": ["alice"]},
                    headers=friend,
                )
                path = f"/api/v1/conversations/{r.json()['id']}/messages"
                for i in range(args.messages):
                    sender = alice if i % 2 else friend
                    r = await http.post(path, json={"text": f"message {i} " * 8}, headers=sender)
                    if i % 10 == 0:
                        await http.put(
                            f"{path}/{r.json()['id']}/reactions",
                            json={"emoji": "👍"},
                            headers=friend if sender is alice else alice,
                        )
            started = time.perf_counter()
            r = await http.post("/api/v1/me/exports", headers=alice)
            url = f"/api/v1/me/exports/{r.json()['id']}"
            while True:  # polled as a client would (the job runs in this process)
                view = (await http.get(url, headers=alice)).json()
                if view["state"] not in ("queued", "running"):
                    break
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
    total = args.conversations * args.messages
    return {
        "benchmark": "exports",
        "database": "postgresql" if args.database_url else "sqlite",
        "conversations": args.conversations,
        "messages": total,
        "state": view["state"],
        "seconds": round(elapsed, 3),
        "messages_per_second": round(total / elapsed),
        "zip_bytes": view["size"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        print(json.dumps(asyncio.run(_run(args, Path(data_dir)))))


if __name__ == "__main__":
    main()
