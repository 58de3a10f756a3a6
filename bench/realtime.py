"""Real-time benchmark: the WebSocket stream end to end, printed as JSON.

Starts its own `backchannel serve` process(es) on free ports, registers `--pairs`
pairs of users with a direct conversation each, connects every user with the SDK's
`Client.stream()`, and measures:

- `ws_throughput`: messages/s acknowledged (an ack means committed with
  `synchronous=FULL`, i.e. durable) and delivered to the recipients' sockets, sent
  as fast as possible from every pair with `--window` sends in flight per socket;
- `rest_throughput`: the same over `POST …/messages` (httpx, `--rest-concurrency`);
- `latency`: send → deliver percentiles at each offered rate in `--rates`, spread
  over the pairs on a timer (sender and recipient share this process's clock);
- server CPU-seconds per 1,000 messages (/proc/PID/stat) and RSS, and this
  process's CPU, so the JSON can say which side saturated (with 2 cores, the load
  generator often does);
- `idle_connections`: server RSS per idle authenticated WebSocket, `--idle` of them,
  on a fresh server;
- with `--nodes 2 --postgres URL --redis URL`: the throughput and latency again on
  two nodes sharing a fresh PostgreSQL database and Redis, senders on one node and
  recipients on the other (half the pairs each way).

Usage: python -m bench.realtime [--quick] [--pairs N] [--messages N] [--rates 200,1000]
       python -m bench.realtime --nodes 2 --postgres postgresql://postgres@127.0.0.1/test \\
           --redis redis://127.0.0.1:6379/0 [--skip-embedded]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from backchannel.client import Client, Stream

T = TypeVar("T")

PASSWORD = "bench password 1"
FAST_HASH = {"BACKCHANNEL_ARGON2_TIME_COST": "1", "BACKCHANNEL_ARGON2_MEMORY_KIB": "64"}
# A load test: many accounts from one address, strangers messaging each other at full speed.
OPEN = {"BACKCHANNEL_RATE_LIMITS": "false", "BACKCHANNEL_DM_INBOX_DEFAULT": "everyone"}
SATURATED = 0.9  # a Python process at 90 % of a core is CPU-bound
TARGETS = {
    "ws_accepted_per_second": 10_000,
    "rest_accepted_per_second": 3_000,
    "latency_p50_ms_at_1000": 2.0,
    "latency_p99_ms_at_1000": 10.0,
    "server_cpu_seconds_per_1000": 0.3,
    "kib_per_idle_connection": 40.0,
    "cluster_ws_accepted_per_second": 5_000,
}


# --- server processes ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A `backchannel serve` process on a free port; `stop()` always ends it."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir / "server.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "backchannel", "serve", "--port", str(self.port),
                 "--data-dir", str(data_dir)],
                env=server_env(env), stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited:\n{self.log.read_text()[-2000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start:\n{self.log.read_text()[-2000:]}")
                await asyncio.sleep(0.05)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def server_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKCHANNEL_")}
    env.update(FAST_HASH, OPEN, BACKCHANNEL_LOG_LEVEL="warning", BACKCHANNEL_LOG_FORMAT="text")
    env.update(extra or {})
    return env


class Postgres:
    """A fresh database next to the one named by `url`, migrated; dropped by `drop()`."""

    def __init__(self, url: str) -> None:
        base, _, _ = url.rpartition("/")
        self.admin_url = url
        self.name = "bench_" + secrets.token_hex(4)
        self.url = f"{base}/{self.name}"

    def create(self) -> str:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        subprocess.run(
            [sys.executable, "-m", "backchannel", "migrate", "--database-url", self.url],
            env=server_env(None), check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        return self.url

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class CpuMeter:
    """CPU used by the servers and by this process (the load generator) over a phase."""

    def __init__(self, servers: Sequence[Server]) -> None:
        self.servers = servers
        self.wall0 = time.perf_counter()
        self.client0 = time.process_time()
        self.server0 = [s.cpu_seconds() for s in servers]

    def read(self, messages: int) -> dict[str, Any]:
        wall = time.perf_counter() - self.wall0
        client = time.process_time() - self.client0
        server = [s.cpu_seconds() - c for s, c in zip(self.servers, self.server0, strict=True)]
        server_util = [round(c / wall, 2) for c in server]
        client_util = round(client / wall, 2)
        sides = [
            *(f"server {i + 1}" for i, u in enumerate(server_util) if u >= SATURATED),
            *(["client"] if client_util >= SATURATED else []),
        ]
        per_1000 = sum(server) / max(messages, 1) * 1000
        return {
            "server_cpu_seconds_per_1000": round(per_1000, 3),
            # what the servers could take at one core each, were the client not the limit
            "server_bound_per_second_estimate": round(len(server) * 1000 / max(per_1000, 1e-6)),
            "server_cpu_utilization": server_util if len(server) > 1 else server_util[0],
            "client_cpu_utilization": client_util,
            "client_cpu_seconds_per_1000": round(client / max(messages, 1) * 1000, 3),
            "saturated": ", ".join(sides)
            or "neither (both wait: on commits, locks or the database)",
        }


FRAME = re.compile(r"^(.*) \((.*?):\d+\)$")  # "func (path/file.py:12)" in py-spy's raw output
PROFILE_DIR: Path | None = None  # --profile: py-spy the servers during WS throughput


class Profiler:
    """`py-spy record` on a server; `stop()` summarizes where its CPU went."""

    def __init__(self, server: Server, tag: str) -> None:
        assert PROFILE_DIR is not None
        self.out = PROFILE_DIR / f"{tag}-{server.port}.txt"
        self.proc = subprocess.Popen(
            ["py-spy", "record", "--format", "raw", "--rate", "250", "--nonblocking",
             "--pid", str(server.proc.pid), "-o", str(self.out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.5)  # attached before the load starts

    def stop(self, top: int = 12) -> dict[str, Any]:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        own: dict[str, int] = {}
        inclusive: dict[str, int] = {}
        total = 0
        for line in self.out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = [FRAME.sub(r"\1 (\2)", f) for f in stack.split(";")]
            n = int(count)
            total += n
            own[frames[-1]] = own.get(frames[-1], 0) + n
            for frame in {f for f in frames if "(backchannel/" in f}:
                inclusive[frame] = inclusive.get(frame, 0) + n

        def share(table: dict[str, int]) -> dict[str, float]:
            ranked = sorted(table.items(), key=lambda kv: -kv[1])[:top]
            return {name: round(n / max(total, 1), 3) for name, n in ranked}

        return {"file": str(self.out), "samples": total, "self": share(own),
                "inclusive_backchannel": share(inclusive)}  # fmt: skip


# --- users and their streams ------------------------------------------------------------


@dataclass(eq=False)
class User:
    client: Client
    id: str
    stream: Stream | None = None


@dataclass(eq=False)
class Pair:
    sender: User
    recipient: User
    conversation: str


@dataclass(eq=False)
class Sink:
    """Counts the deliveries of the current phase (texts are `"<phase>:<n>"`)."""

    phase: str = ""
    expected: int = 0
    count: int = 0
    send_times: list[float] | None = None
    latencies: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    last_at: float = 0.0

    def start(self, phase: str, expected: int, send_times: list[float] | None = None) -> None:
        self.phase, self.expected, self.count = phase, expected, 0
        self.send_times, self.latencies = send_times, []
        self.done = asyncio.Event()

    def delivered(self, text: str, now: float) -> None:
        phase, _, n = text.partition(":")
        if phase != self.phase:
            return
        self.count += 1
        if self.send_times is not None:
            self.latencies.append(now - self.send_times[int(n)])
        if self.count >= self.expected:
            self.last_at = now
            self.done.set()


async def bounded(concurrency: int, jobs: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def make_pairs(prefix: str, count: int, urls: tuple[str, str]) -> list[Pair]:
    """`count` pairs; pair i's sender talks to node i % 2 and its recipient to the other
    (with one URL, both to that one)."""

    async def register(handle: str, url: str) -> User:
        client = await Client.register(url, handle, PASSWORD, device_name="bench")
        assert client.profile is not None
        return User(client, client.profile["id"])

    jobs: list[Callable[[], Awaitable[User]]] = []
    for i in range(count):
        mine, theirs = urls[i % 2], urls[(i + 1) % 2]
        jobs.append(lambda i=i, url=mine: register(f"{prefix}s{i}", url))  # type: ignore[misc]
        jobs.append(lambda i=i, url=theirs: register(f"{prefix}r{i}", url))  # type: ignore[misc]
    users = await bounded(16, jobs)
    senders, recipients = users[0::2], users[1::2]

    async def pair(sender: User, recipient: User) -> Pair:
        assert recipient.client.profile is not None
        conversation = await sender.client.open_direct(recipient.client.profile["handle"])
        return Pair(sender, recipient, conversation["id"])

    return await bounded(
        16,
        [lambda s=s, r=r: pair(s, r) for s, r in zip(senders, recipients, strict=True)],  # type: ignore[misc]
    )


async def connect_all(pairs: list[Pair], sink: Sink) -> list[asyncio.Task[None]]:
    """Open every user's stream and start draining it into `sink`."""
    users = [u for p in pairs for u in (p.sender, p.recipient)]

    async def open_stream(user: User) -> None:
        user.stream = await user.client.stream().__aenter__()

    await bounded(64, [lambda u=u: open_stream(u) for u in users])  # type: ignore[misc]
    return [asyncio.create_task(drain(user, sink)) for user in users]


async def drain(user: User, sink: Sink) -> None:
    assert user.stream is not None
    async for event in user.stream.events():
        if event["type"] == "message.created":
            message = event["data"]["message"]
            if message["sender"]["id"] != user.id:
                sink.delivered(message["text"], time.perf_counter())


async def disconnect_all(pairs: list[Pair], drains: list[asyncio.Task[None]]) -> None:
    for task in drains:
        task.cancel()
    for user in (u for p in pairs for u in (p.sender, p.recipient)):
        if user.stream is not None:
            await user.stream.close()
        await user.client.close()


def reconnects(pairs: list[Pair]) -> int:
    streams = [u.stream for p in pairs for u in (p.sender, p.recipient) if u.stream]
    return sum(s.connections - 1 for s in streams)


# --- phases -----------------------------------------------------------------------------


async def ws_throughput(
    pairs: list[Pair], sink: Sink, servers: Sequence[Server], messages: int, window: int, tag: str
) -> dict[str, Any]:
    """Every pair sends as fast as it can with `window` sends in flight on its socket."""
    sink.start(tag, messages)
    reconnects_before = reconnects(pairs)

    async def worker(pair: Pair, numbers: Iterator[int]) -> None:
        assert pair.sender.stream is not None
        for n in numbers:
            await pair.sender.stream.send(pair.conversation, f"{tag}:{n}")

    profilers = [Profiler(s, tag) for s in servers] if PROFILE_DIR and tag != "warm" else []
    meter = CpuMeter(servers)
    t0 = time.perf_counter()
    workers = []
    for p, pair in enumerate(pairs):
        numbers = iter(range(p, messages, len(pairs)))  # shared by the pair's workers
        workers += [worker(pair, numbers) for _ in range(window)]
    await asyncio.gather(*workers)
    acked = time.perf_counter() - t0
    await asyncio.wait_for(sink.done.wait(), 120)
    delivered = sink.last_at - t0
    profiles = {f"server {i + 1}": p.stop() for i, p in enumerate(profilers)}
    return {
        "messages": messages,
        "pairs": len(pairs),
        "in_flight_per_socket": window,
        "accepted_per_second": round(messages / acked),
        "delivered_per_second": round(messages / delivered),
        "seconds": round(delivered, 3),
        "reconnects": reconnects(pairs) - reconnects_before,
        **meter.read(messages),
        **({"profile": profiles} if profiles else {}),
    }


async def rest_throughput(
    pairs: list[Pair], sink: Sink, servers: Sequence[Server], messages: int, concurrency: int
) -> dict[str, Any]:
    sink.start("rest", messages)
    # One AsyncClient per connection: one shared pool of 64 costs the client ~4x more CPU.
    base = pairs[0].sender.client.base_url
    clients = [httpx.AsyncClient(base_url=base, timeout=60) for _ in range(concurrency)]
    try:
        numbers = iter(range(messages))

        async def worker(http: httpx.AsyncClient) -> None:
            for n in numbers:
                pair = pairs[n % len(pairs)]
                response = await http.post(
                    f"/api/v1/conversations/{pair.conversation}/messages",
                    json={"txn_id": f"rest-{n}", "text": f"rest:{n}"},
                    headers={"Authorization": f"Bearer {pair.sender.client.token}"},
                )
                if response.status_code != 201:
                    raise RuntimeError(f"send failed: {response.status_code} {response.text}")

        meter = CpuMeter(servers)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(http) for http in clients))
        accepted = time.perf_counter() - t0
        await asyncio.wait_for(sink.done.wait(), 120)
    finally:
        for http in clients:
            await http.aclose()
    return {
        "messages": messages,
        "concurrency": concurrency,
        "load_generator": "httpx, one client per connection, in this process (recipients' "
        "sockets still deliver)",
        "accepted_per_second": round(messages / accepted),
        "delivered_per_second": round(messages / (sink.last_at - t0)),
        **meter.read(messages),
    }


async def latency(
    pairs: list[Pair], sink: Sink, servers: Sequence[Server], rate: int, seconds: float
) -> dict[str, Any]:
    """Sends on a timer at `rate`/s round-robin over the pairs; send → deliver times."""
    total = max(1, int(rate * seconds))
    send_times = [0.0] * total
    tag = f"lat{rate}"
    sink.start(tag, total, send_times)
    in_flight: set[asyncio.Task[Any]] = set()
    profilers = [Profiler(s, tag) for s in servers] if PROFILE_DIR else []
    meter = CpuMeter(servers)
    t0 = time.perf_counter()
    for n in range(total):
        delay = t0 + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pair = pairs[n % len(pairs)]
        assert pair.sender.stream is not None
        send_times[n] = time.perf_counter()
        task = asyncio.create_task(pair.sender.stream.send(pair.conversation, f"{tag}:{n}"))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    offered_for = time.perf_counter() - t0
    await asyncio.gather(*in_flight)
    await asyncio.wait_for(sink.done.wait(), 60)
    ms = sorted(x * 1000 for x in sink.latencies)
    cpu = meter.read(total)
    profiles = {f"server {i + 1}": p.stop() for i, p in enumerate(profilers)}
    return {
        "offered_per_second": rate,
        "achieved_per_second": round(total / offered_for),
        "messages": total,
        "pairs": len(pairs),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2),
        **cpu,
        **({"profile": profiles} if profiles else {}),
    }


def progress(message: str) -> None:
    """A line on stderr, so a long run shows where it is (stdout is the JSON)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))
    return sorted_values[index]


async def idle_connections(root: Path, count: int, users: int) -> dict[str, Any]:
    """Server RSS before and after `count` idle authenticated sockets (a fresh server)."""
    server = Server(root / "idle")
    try:
        await server.wait_ready()
        clients = await bounded(
            16,
            [
                lambda i=i: Client.register(server.url, f"idle{i}", PASSWORD)  # type: ignore[misc]
                for i in range(users)
            ],
        )
        async with clients[0].stream():  # warm: the gateway's code paths are loaded
            pass
        await asyncio.sleep(1.0)
        before = server.rss_kib()
        progress(f"idle: opening {count} sockets")
        streams: list[Stream] = []
        t0 = time.perf_counter()
        for start in range(0, count, 500):
            batch = [clients[i % users].stream() for i in range(start, min(count, start + 500))]
            await asyncio.gather(*(s.__aenter__() for s in batch))
            streams += batch
        opened = time.perf_counter() - t0
        await asyncio.sleep(2.0)
        after = server.rss_kib()
        result = {
            "connections": count,
            "users": users,
            "open_seconds": round(opened, 1),
            "server_rss_mib_before": round(before / 1024, 1),
            "server_rss_mib_after": round(after / 1024, 1),
            "kib_per_connection": round((after - before) / count, 1),
            "client_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        for start in range(0, len(streams), 1000):
            await asyncio.gather(*(s.close() for s in streams[start : start + 1000]))
        for client in clients:
            await client.close()
        return result
    finally:
        server.stop()


async def realtime_suite(
    label: str, servers: list[Server], args: argparse.Namespace, *, rest: bool
) -> dict[str, Any]:
    """Throughput (WS, optionally REST) and latency on running servers."""
    urls = (servers[0].url, servers[-1].url)
    sink = Sink()
    progress(f"{label}: registering {args.pairs} pairs")
    pairs = await make_pairs(label, args.pairs, urls)
    drains = await connect_all(pairs, sink)
    try:
        progress(f"{label}: WebSocket throughput, {args.messages} messages")
        await ws_throughput(pairs, sink, servers, min(2000, args.messages), args.window, "warm")
        result: dict[str, Any] = {
            "ws_throughput": await ws_throughput(
                pairs, sink, servers, args.messages, args.window, "ws"
            )
        }
        result["server_rss_mib_after_load"] = [round(s.rss_kib() / 1024, 1) for s in servers]
        if rest:
            progress(f"{label}: REST throughput, {args.rest_messages} messages")
            result["rest_throughput"] = await rest_throughput(
                pairs, sink, servers, args.rest_messages, args.rest_concurrency
            )
        progress(f"{label}: latency at {args.rates} msg/s, {args.latency_seconds} s each")
        result["latency"] = [
            await latency(pairs, sink, servers, rate, args.latency_seconds) for rate in args.rates
        ]
        result["reconnects"] = reconnects(pairs)
        return result
    finally:
        await disconnect_all(pairs, drains)


async def embedded(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    server = Server(root / "embedded")
    try:
        await server.wait_ready()
        result = {"deployment": "1 node, SQLite (WAL, synchronous=FULL), in-process broker"}
        result |= await realtime_suite("e", [server], args, rest=True)
        return result
    finally:
        server.stop()


async def cluster(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    database = Postgres(args.postgres)
    url = database.create()
    env = {"BACKCHANNEL_DATABASE_URL": url, "BACKCHANNEL_REDIS_URL": args.redis}
    nodes = [Server(root / f"node{i}", env) for i in range(args.nodes)]
    try:
        for node in nodes:
            await node.wait_ready()
        result = {
            "deployment": f"{args.nodes} nodes, PostgreSQL (fresh database) + Redis broker; "
            "each pair's sender on one node and recipient on another, half the pairs each way"
        }
        result |= await realtime_suite("c", nodes, args, rest=False)
        return result
    finally:
        for node in nodes:
            node.stop()
        database.drop()


# --- report -----------------------------------------------------------------------------


def targets(report: dict[str, Any]) -> dict[str, Any]:
    def check(name: str, measured: float | None, *, at_most: bool = False) -> dict[str, Any]:
        target = TARGETS[name]
        if measured is None:
            return {"target": target, "measured": None, "met": None}
        met = measured <= target if at_most else measured >= target
        return {"target": f"{'<=' if at_most else '>='} {target}", "measured": measured, "met": met}

    e = report.get("embedded", {})
    at_1000 = next((r for r in e.get("latency", []) if r["offered_per_second"] == 1000), None)
    idle = report.get("idle_connections")
    c = report.get("cluster", {})
    rest = e.get("rest_throughput", {})
    checked = {
        "ws_accepted_per_second": check(
            "ws_accepted_per_second", e.get("ws_throughput", {}).get("accepted_per_second")
        ),
        "rest_accepted_per_second": check(
            "rest_accepted_per_second", e.get("rest_throughput", {}).get("accepted_per_second")
        ),
        "latency_p50_ms_at_1000": check(
            "latency_p50_ms_at_1000", at_1000 and at_1000["p50_ms"], at_most=True
        ),
        "latency_p99_ms_at_1000": check(
            "latency_p99_ms_at_1000", at_1000 and at_1000["p99_ms"], at_most=True
        ),
        "server_cpu_seconds_per_1000": check(
            "server_cpu_seconds_per_1000",
            e.get("ws_throughput", {}).get("server_cpu_seconds_per_1000"),
            at_most=True,
        ),
        "kib_per_idle_connection": check(
            "kib_per_idle_connection", idle and idle["kib_per_connection"], at_most=True
        ),
        "cluster_ws_accepted_per_second": check(
            "cluster_ws_accepted_per_second",
            c.get("ws_throughput", {}).get("accepted_per_second"),
        ),
    }
    if rest.get("client_cpu_utilization", 0) >= 0.9:
        checked["rest_accepted_per_second"]["note"] = (
            "the httpx load generator saturated first: `python -m bench.send` drives REST "
            "with wrk (C) for the server's own figure"
        )
    return checked


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    mem_kib = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        mem_kib = int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{head} with uncommitted work" if git("status", "--porcelain") else head


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit (servers started later inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard == resource.RLIM_INFINITY else min(hard, max(soft, wanted))
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return int(target)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="backchannel-realtime-"))
    report: dict[str, Any] = {
        "benchmark": "realtime",
        "commit": commit(),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "options": {k: v for k, v in vars(args).items() if k not in ("postgres", "redis")},
    }
    try:
        if not args.skip_embedded:
            report["embedded"] = await embedded(root, args)
        if args.idle:
            report["idle_connections"] = await idle_connections(root, args.idle, args.idle_users)
        if args.postgres:
            report["cluster"] = await cluster(root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report["targets"] = targets(report)
    return report


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a short run (~30 s)")
    parser.add_argument("--pairs", type=int, default=100, help="user pairs (default 100)")
    parser.add_argument("--messages", type=int, help="WS throughput messages (20,000)")
    parser.add_argument("--window", type=int, default=16, help="sends in flight per socket")
    parser.add_argument("--rest-messages", type=int, help="REST throughput messages (5,000)")
    parser.add_argument("--rest-concurrency", type=int, default=64)
    parser.add_argument("--rates", help="offered rates for latency, msg/s (200,1000,2000)")
    parser.add_argument("--latency-seconds", type=float, help="per rate (5)")
    parser.add_argument("--idle", type=int, help="idle sockets to open, 0 to skip (10,000)")
    parser.add_argument("--idle-users", type=int, default=50, help="users owning them")
    parser.add_argument("--nodes", type=int, default=2, help="nodes with --postgres (2)")
    parser.add_argument("--postgres", help="PostgreSQL URL: a fresh database is made next to it")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--profile", type=Path, help="py-spy the servers into this directory")
    args = parser.parse_args(argv)
    quick = args.quick
    args.messages = args.messages or (5000 if quick else 20000)
    args.rest_messages = args.rest_messages or (1000 if quick else 5000)
    args.rates = [int(r) for r in (args.rates or "200,1000,2000").split(",")]
    args.latency_seconds = args.latency_seconds or (2.0 if quick else 5.0)
    args.idle = (2000 if quick else 10000) if args.idle is None else args.idle
    return args


def main(argv: Sequence[str] | None = None) -> None:
    global PROFILE_DIR
    args = parse_args(argv)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        PROFILE_DIR = args.profile
    raise_fd_limit(2 * args.idle + 1024)
    try:
        import uvloop
    except ImportError:
        report = asyncio.run(run(args))
    else:
        report = uvloop.run(run(args))
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
