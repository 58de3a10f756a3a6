"""Against a real `backchannel serve` process: acknowledged means durable (kill -9),
graceful shutdown, and refusing to serve an unmigrated database."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.server

START_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKCHANNEL_")}
    env.update(
        BACKCHANNEL_ARGON2_TIME_COST="1",
        BACKCHANNEL_ARGON2_MEMORY_KIB="64",
        BACKCHANNEL_LOG_FORMAT="text",
        BACKCHANNEL_LOG_LEVEL="warning",
    )
    return env


class ServerProcess:
    def __init__(self, proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        return self.proc.returncode is None

    async def kill(self) -> None:
        if self.running():
            self.proc.kill()
        await asyncio.wait_for(self.proc.wait(), 10)


class Servers:
    """Starts `backchannel serve` processes and always kills them at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[ServerProcess] = []

    async def run(self, *args: str) -> ServerProcess:
        """Start `backchannel <args>` (not waiting for it to listen)."""
        log = self.tmp_path / f"server-{len(self.started)}.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "backchannel", *args,
                env=server_env(), stdout=out, stderr=asyncio.subprocess.STDOUT,
                cwd=self.tmp_path,
            )  # fmt: skip
        port = int(args[args.index("--port") + 1]) if "--port" in args else 0
        server = ServerProcess(proc, port, log)
        self.started.append(server)
        return server

    async def serve(
        self, data_dir: Path, database_url: str | None = None, *extra: str
    ) -> ServerProcess:
        args = ["serve", "--port", str(free_port()), "--data-dir", str(data_dir), *extra]
        if database_url:
            args += ["--database-url", database_url]
        server = await self.run(*args)
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient(base_url=server.url, timeout=2) as http:
            while True:
                if not server.running():
                    pytest.fail(f"server exited with {server.proc.returncode}:\n{server.output()}")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return server
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"server did not start:\n{server.output()}")
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        for server in self.started:
            if server.running():
                server.proc.kill()
                await asyncio.wait_for(server.proc.wait(), 10)


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[Servers]:
    procs = Servers(tmp_path)
    try:
        yield procs
    finally:
        await procs.close()


def backend_url(request: pytest.FixtureRequest, backend: str) -> str | None:
    return str(request.getfixturevalue("postgres_url")) if backend == "postgres" else None


async def register(http: httpx.AsyncClient, handle: str) -> dict[str, str]:
    r = await http.post("/api/v1/accounts", json={"handle": handle, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def all_history(
    http: httpx.AsyncClient, headers: dict[str, str], conversation: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    before = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if before:
            params["before"] = before
        r = await http.get(
            f"/api/v1/conversations/{conversation}/messages", params=params, headers=headers
        )
        assert r.status_code == 200, r.text
        page = r.json()
        items = page["items"] + items
        before = page["before_cursor"]
        if before is None:
            return items


async def all_events(http: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token = "0"
    while True:
        r = await http.get("/api/v1/sync", params={"since": token}, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        events += body["events"]
        token = body["next"]
        if not body["limited"]:
            return events


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_acknowledged_messages_survive_kill_9(
    tmp_path: Path, servers: Servers, request: pytest.FixtureRequest, backend: str
) -> None:
    data_dir = tmp_path / "data"
    database_url = backend_url(request, backend)
    server = await servers.serve(data_dir, database_url)
    acked: dict[str, str] = {}  # txn_id -> message id, for every 201 received
    limits = httpx.Limits(max_connections=32)

    async with httpx.AsyncClient(base_url=server.url, timeout=15, limits=limits) as http:
        alice = await register(http, "alice")
        bob = await register(http, "bob")
        r = await http.post(
            "/api/v1/conversations", json={"kind": "direct", "members": ["bob"]}, headers=alice
        )
        conversation = r.json()["id"]
        path = f"/api/v1/conversations/{conversation}/messages"

        enough = asyncio.Event()

        async def send(n: int, *, may_fail: bool) -> None:
            txn_id = f"t{n}"
            try:
                r = await http.post(path, json={"text": f"m{n}", "txn_id": txn_id}, headers=alice)
            except httpx.TransportError:
                if may_fail:
                    return
                raise
            assert r.status_code == 201, r.text
            acked[txn_id] = r.json()["id"]
            if len(acked) >= 240:
                enough.set()

        await asyncio.gather(*(send(n, may_fail=False) for n in range(200)))
        assert len(acked) == 200

        # More sends in flight, and kill -9 in the middle of them.
        in_flight = [asyncio.create_task(send(n, may_fail=True)) for n in range(200, 600)]
        await asyncio.wait_for(enough.wait(), 20)
        os.kill(server.proc.pid, signal.SIGKILL)
        await asyncio.wait_for(asyncio.gather(*in_flight), 30)
        await server.kill()  # reap it
    assert server.proc.returncode == -signal.SIGKILL
    assert 240 <= len(acked) < 600, "the kill did not happen while sends were in flight"

    restarted = await servers.serve(data_dir, database_url)
    async with httpx.AsyncClient(base_url=restarted.url, timeout=15, limits=limits) as http:
        history = await all_history(http, bob, conversation)
        ids = [m["id"] for m in history]
        assert len(ids) == len(set(ids))
        assert len({m["text"] for m in history}) == len(history)  # no message stored twice
        missing = set(acked.values()) - set(ids)
        assert missing == set(), f"{len(missing)} acknowledged messages lost"

        created = [e["data"]["message"]["id"] for e in await all_events(http, bob)
                   if e["type"] == "message.created"]  # fmt: skip
        assert len(created) == len(set(created))
        assert sorted(created) == sorted(ids)

        # A client retrying every send after the restart ends with each message exactly once.
        async def retry(n: int) -> None:
            r = await http.post(path, json={"text": f"m{n}", "txn_id": f"t{n}"}, headers=alice)
            assert r.status_code in (200, 201), r.text
            if f"t{n}" in acked:
                assert r.status_code == 200
                assert r.json()["id"] == acked[f"t{n}"]

        await asyncio.gather(*(retry(n) for n in range(600)))
        texts = [m["text"] for m in await all_history(http, bob, conversation)]
        assert sorted(texts) == sorted(f"m{n}" for n in range(600))
        assert (await http.get("/readyz")).status_code == 200
    await restarted.kill()


async def test_sigterm_shuts_down_promptly_and_answers_long_polls(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(tmp_path / "data")
    async with httpx.AsyncClient(base_url=server.url, timeout=40) as http:
        headers = await register(http, "alice")
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        token = (await http.get("/api/v1/sync", headers=headers)).json()["next"]
        poll = asyncio.create_task(
            http.get("/api/v1/sync", params={"since": token, "timeout": 30000}, headers=headers)
        )
        deadline = time.monotonic() + 10
        while True:  # until the long-poll is waiting in the server
            metrics = (await http.get("/metrics")).text
            if re.search(r"^backchannel_connected_clients 1\.0$", metrics, re.M):
                break
            assert time.monotonic() < deadline, "the long-poll never arrived"
            await asyncio.sleep(0.02)

        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(server.proc.wait(), 15)
        elapsed = time.monotonic() - started
        response = await asyncio.wait_for(poll, 5)
    assert returncode == 0, server.output()
    assert elapsed < 5, f"shutdown took {elapsed:.1f}s"
    assert response.status_code == 200
    assert response.json() == {"events": [], "next": token, "limited": False}


async def test_no_migrate_refuses_an_unmigrated_database(tmp_path: Path, servers: Servers) -> None:
    port = str(free_port())
    server = await servers.run("serve", "--no-migrate", "--port", port, "--data-dir", str(tmp_path))
    returncode = await asyncio.wait_for(server.proc.wait(), START_TIMEOUT_S)
    output = " ".join(server.output().split())  # undo the console's line wrapping
    assert returncode != 0
    assert "backchannel migrate" in output
    assert "Traceback" not in output
    with socket.socket() as sock:  # and it never listened
        assert sock.connect_ex(("127.0.0.1", int(port))) != 0


async def test_no_migrate_serves_a_migrated_database(tmp_path: Path, servers: Servers) -> None:
    first = await servers.serve(tmp_path / "data")  # migrates
    await first.kill()
    server = await servers.serve(tmp_path / "data", None, "--no-migrate")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}
