"""Send-path benchmark: durable messages per second, printed as JSON.

Two measurements on the embedded default (SQLite, WAL, synchronous=FULL):
- `service`: concurrent `send_message` calls in-process (store + group commit,
  no HTTP), the ceiling of the send path;
- `rest`: a real `backchannel serve` process, POSTed to for 10 s by `wrk` (a
  C load generator, so the figure is the server's, not the client's) when it
  is installed, else by an httpx client (which saturates first; the JSON says so).

Usage: python -m bench.send [--messages N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

FAST_HASH = {"BACKCHANNEL_ARGON2_TIME_COST": "1", "BACKCHANNEL_ARGON2_MEMORY_KIB": "64"}


# The safety layer as a new account meets it: rate limits on (raised so the run is not
# throttled) and every message screened (a new account's always are).
SCREENED = {
    "rate_limits": True,
    "limit_messages_per_minute": {"new": 10**7, "regular": 10**7, "trusted": 10**7},
}
# Without it: no limits, no screening.
OPEN = {"rate_limits": False, "spam_filter": False}


async def bench_service(
    data_dir: Path, messages: int, concurrency: int, **overrides: Any
) -> dict[str, Any]:
    from backchannel.app import build_store
    from backchannel.broker.local import LocalBroker
    from backchannel.config import load_settings
    from backchannel.observability import Metrics
    from backchannel.services import accounts, conversations
    from backchannel.services import messages as message_service
    from backchannel.services.core import Core
    from backchannel.store import migrate

    settings = load_settings(
        data_dir=data_dir,
        argon2_time_cost=1,
        argon2_memory_kib=64,
        dm_inbox_default="everyone",
        **overrides,
    )
    store = build_store(settings)
    engine = store.migration_engine()
    migrate.upgrade(engine)
    engine.dispose()
    core = Core(settings=settings, store=store, broker=LocalBroker(), metrics=Metrics())
    await store.start()
    try:
        people = []
        for i in range(2 * 10):
            _, token = await accounts.register(
                core,
                handle=f"bench{i}",
                password="bench password",
                display_name=None,
                device_name="bench",
            )
            people.append(await accounts.authenticate(core, token))
        pairs = []
        for i in range(0, len(people), 2):
            conv, _ = await conversations.open_direct(core, people[i], [people[i + 1].handle])
            pairs.append((people[i], conv["id"]))
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(messages):
            queue.put_nowait(n)

        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                sender, conv = pairs[n % len(pairs)]
                await message_service.send_message(
                    core, sender, conv, txn_id=f"s{n}", text=f"message {n}"
                )

        cpu0 = time.process_time()
        t0 = time.perf_counter()
        batches0, writes0 = store.write_batches, store.writes
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        return {
            "messages": messages,
            "concurrency": concurrency,
            "seconds": round(elapsed, 3),
            "messages_per_second": round(messages / elapsed),
            "cpu_seconds_per_1000": round(cpu / messages * 1000, 3),
            "mean_group_commit": round(
                (store.writes - writes0) / max(1, store.write_batches - batches0), 1
            ),
        }
    finally:
        await store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drive_rest(base: str, messages: int, concurrency: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        tokens, convs = [], []
        for i in range(20):
            r = await http.post(
                "/api/v1/accounts", json={"handle": f"rest{i}", "password": "bench password"}
            )
            tokens.append(r.json()["token"])
        for i in range(0, 20, 2):
            r = await http.post(
                "/api/v1/conversations",
                json={"kind": "direct", "members": [f"rest{i + 1}"]},
                headers={"Authorization": f"Bearer {tokens[i]}"},
            )
            convs.append((tokens[i], r.json()["id"]))
        latencies: list[float] = []
        counter = iter(range(messages))

        async def worker() -> None:
            for n in counter:
                token, conv = convs[n % len(convs)]
                t = time.perf_counter()
                r = await http.post(
                    f"/api/v1/conversations/{conv}/messages",
                    json={"txn_id": f"r{n}", "text": f"message {n}"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                latencies.append(time.perf_counter() - t)
                assert r.status_code == 201, r.text

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
        latencies.sort()
        return {
            "messages": messages,
            "concurrency": concurrency,
            "seconds": round(elapsed, 3),
            "messages_per_second": round(messages / elapsed),
            "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 2),
            "latency_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        }


WRK_SCRIPT = """
local pairs = {%s}
local n = 0
request = function()
  n = n + 1
  local pair = pairs[(n %% #pairs) + 1]
  local body = string.format('{"txn_id":"w%%d-%%d","text":"message %%d"}', math.random(1e9), n, n)
  return wrk.format("POST", "/api/v1/conversations/" .. pair[2] .. "/messages",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. pair[1]}, body)
end
"""


def _setup_pairs(base: str, count: int) -> list[tuple[str, str]]:
    pairs = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for i in range(count):
            tokens = []
            for side in ("a", "b"):
                r = http.post(
                    "/api/v1/accounts",
                    json={"handle": f"bench{side}{i}", "password": "bench password"},
                )
                tokens.append(r.json()["token"])
            r = http.post(
                "/api/v1/conversations",
                json={"kind": "direct", "members": [f"benchb{i}"]},
                headers={"Authorization": f"Bearer {tokens[0]}"},
            )
            pairs.append((tokens[0], r.json()["id"]))
    return pairs


def run_wrk(
    base: str, pairs: list[tuple[str, str]], seconds: int, connections: int
) -> dict[str, Any]:
    """POST sends with wrk (C, one thread): the load generator costs the server little CPU."""
    lua = ",".join(f'{{"{t}","{c}"}}' for t, c in pairs)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % lua)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", f.name, base],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        ).stdout
    finally:
        os.unlink(f.name)
    stats: dict[str, Any] = {"load_generator": "wrk", "connections": connections}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            stats["messages_per_second"] = round(float(parts[1]))
        elif parts[:1] in (["50%"], ["99%"]):
            stats[f"latency_ms_p{parts[0][:-1]}"] = _ms(parts[1])
        elif "Non-2xx" in line:
            stats["errors"] = int(parts[-1])
    return stats


def _ms(value: str) -> float:
    for unit, factor in (("ms", 1.0), ("us", 0.001), ("s", 1000.0)):
        if value.endswith(unit):
            return round(float(value[: -len(unit)]) * factor, 2)
    return float(value)


def bench_rest(data_dir: Path, messages: int, concurrency: int) -> dict[str, Any]:
    port = free_port()
    env = {
        **os.environ,
        **FAST_HASH,
        "BACKCHANNEL_LOG_LEVEL": "warning",
        # a load test: many accounts from one address, strangers at full speed
        "BACKCHANNEL_RATE_LIMITS": "false",
        "BACKCHANNEL_DM_INBOX_DEFAULT": "everyone",
    }
    env.pop("BACKCHANNEL_DATABASE_URL", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backchannel",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        if shutil.which("wrk"):
            pairs = _setup_pairs(base, 10)
            cpu_before, t0 = _process_cpu(server.pid), time.perf_counter()
            result = run_wrk(base, pairs, seconds=10, connections=concurrency)
            sent = result.get("messages_per_second", 0) * (time.perf_counter() - t0)
        else:
            cpu_before = _process_cpu(server.pid)
            result = asyncio.run(drive_rest(base, messages, concurrency))
            result["load_generator"] = "httpx (client-bound: install wrk for a fair figure)"
            sent = messages
        result["server_cpu_seconds_per_1000"] = round(
            (_process_cpu(server.pid) - cpu_before) / max(sent, 1) * 1000, 3
        )
        return result
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--rest-messages", type=int, default=5000)
    parser.add_argument("--rest-concurrency", type=int, default=64)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="backchannel-bench-"))
    try:
        service = asyncio.run(
            bench_service(root / "service", args.messages, args.concurrency, **OPEN)
        )
        screened = asyncio.run(
            bench_service(root / "screened", args.messages, args.concurrency, **SCREENED)
        )
        rest = bench_rest(root / "rest", args.rest_messages, args.rest_concurrency)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        json.dumps(
            {
                "benchmark": "send",
                "store": "sqlite (WAL, synchronous=FULL)",
                "cpus": os.cpu_count(),
                "service": service,
                "service_screened": screened,
                "rest": rest,
                "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
