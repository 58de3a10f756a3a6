"""Disappearing-messages benchmark: how long after its time a message is erased, printed
as JSON.

Runs the app in this process (embedded default, or `--database-url`) with its own job
runner, sends `--messages` messages over a few seconds in `--conversations` conversations
whose timer is the shortest allowed (10 s), waits for them all to go, and reads from the
database how late each was erased (`expired_at - expires_at`).

Usage: python -m bench.disappearing [--messages N] [--conversations C] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from backchannel.app import create_app
from backchannel.config import load_settings
from backchannel.domain.messages import DISAPPEAR_MIN_SECONDS
from backchannel.store import migrate
from backchannel.store.tables import messages


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


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
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:

            async def account(handle: str) -> dict[str, str]:
                r = await http.post(
                    "/api/v1/accounts",
                    json={"handle": handle, "password": "bench passphrase", "display_name": handle},
                )
                return {"authorization": f"Bearer {r.json()['token']}"}

            alice = await account("alice")
            conversations = []
            for n in range(args.conversations):
                other = f"friend{n}"
                await account(other)
                r = await http.post(
                    "/api/v1/conversations",
                    json={"kind": "direct", "members": [other]},
                    headers=alice,
                )
                cid = r.json()["id"]
                await http.put(
                    f"/api/v1/conversations/{cid}/disappearing",
                    json={"seconds": DISAPPEAR_MIN_SECONDS},
                    headers=alice,
                )
                conversations.append(cid)
            spread = 3.0  # seconds over which the messages are sent
            started = time.time()
            for n in range(args.messages):
                cid = conversations[n % len(conversations)]
                await http.post(
                    f"/api/v1/conversations/{cid}/messages", json={"text": f"m{n}"}, headers=alice
                )
                await asyncio.sleep(max(0.0, started + spread * n / args.messages - time.time()))
            deadline = time.time() + DISAPPEAR_MIN_SECONDS + spread + 60
            while time.time() < deadline:
                with engine.connect() as conn:
                    rows = conn.execute(
                        select(messages.c.expires_at, messages.c.expired_at).where(
                            messages.c.expires_at.is_not(None)
                        )
                    ).all()
                if rows and all(expired is not None for _, expired in rows):
                    break
                await asyncio.sleep(0.2)
    engine.dispose()
    late = [float(expired - expires) for expires, expired in rows if expired is not None]
    return {
        "benchmark": "disappearing",
        "database": "postgresql" if args.database_url else "sqlite",
        "messages": len(rows),
        "erased": len(late),
        "conversations": args.conversations,
        "timer_seconds": DISAPPEAR_MIN_SECONDS,
        "lateness_ms": {
            "p50": round(statistics.median(late), 1),
            "p99": round(_percentile(late, 0.99), 1),
            "max": round(max(late), 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(_run(args, Path(tmp))), indent=1))


if __name__ == "__main__":
    main()
