"""Job-queue benchmark: how many jobs a node runs per second, and how late a job runs
after it is due, printed as JSON.

Runs the app's own JobRunner in this process on the embedded default (SQLite under a
temporary directory) or on `--database-url`, with a handler that does nothing but note the
time, so the figures are the queue's own cost (claim, lease, delete: three write
transactions per batch of `jobs_concurrency`).

- `throughput`: N jobs due at once, from enqueue to the last one done.
- `lateness`: jobs due every few milliseconds over a couple of seconds, enqueued ahead of
  time; how long after its due time each one ran (the runner sleeps until the earliest is
  due, so this is the queue's scheduling delay, not a polling interval).

Usage: python -m bench.jobs [--jobs N] [--database-url URL] [--concurrency C]
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

from backchannel import jobs
from backchannel.app import create_app
from backchannel.config import load_settings
from backchannel.jobs import Job
from backchannel.jobs.kinds import HANDLERS
from backchannel.services.core import Core
from backchannel.store import migrate
from backchannel.store.database import WriteTxn


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _run(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    settings = load_settings(
        data_dir=data_dir,
        database_url=args.database_url,
        jobs_concurrency=args.concurrency,
        log_level="warning",
    )
    store_url = settings.resolved_database_url
    from sqlalchemy import create_engine

    engine = create_engine(store_url)
    migrate.upgrade(engine)
    engine.dispose()
    done: dict[int, float] = {}
    finished = asyncio.Event()
    expected = 0

    async def note(_core: Core, job: Job) -> None:
        done[int(job.payload["n"])] = time.time()
        if len(done) >= expected:
            finished.set()

    HANDLERS["bench.note"] = note
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        core: Core = app.state.core

        async def enqueue(count: int, due: list[int] | None) -> None:
            def txn(t: WriteTxn) -> None:
                for n in range(count):
                    run_at = None if due is None else due[n]
                    jobs.enqueue(t, "bench.note", {"n": n}, run_at=run_at)

            await core.store.write("bench_enqueue", txn)

        # throughput: everything due now
        expected = args.jobs
        started = time.perf_counter()
        await enqueue(args.jobs, None)
        await asyncio.wait_for(finished.wait(), 600)
        elapsed = time.perf_counter() - started
        throughput = {"jobs": args.jobs, "seconds": round(elapsed, 3),
                      "jobs_per_second": round(args.jobs / elapsed)}  # fmt: skip

        # lateness: due one every `spacing` ms, from 200 ms from now
        done.clear()
        finished.clear()
        count = 400
        expected = count
        spacing = 5
        base = core.store.now_ms() + 200
        due = [base + n * spacing for n in range(count)]
        await enqueue(count, due)
        await asyncio.wait_for(finished.wait(), 120)
        late = [done[n] * 1000 - due[n] for n in range(count)]
        lateness = {
            "jobs": count,
            "spacing_ms": spacing,
            "p50_ms": round(statistics.median(late), 2),
            "p99_ms": round(_percentile(late, 0.99), 2),
            "max_ms": round(max(late), 2),
            "early": sum(1 for v in late if v < 0),
        }
    return {
        "benchmark": "jobs",
        "database": "postgresql" if args.database_url else "sqlite",
        "concurrency": args.concurrency,
        "throughput": throughput,
        "lateness": lateness,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(_run(args, Path(tmp))), indent=1))


if __name__ == "__main__":
    main()
