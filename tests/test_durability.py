"""Against a real `backchannel serve` process: acknowledged means durable (kill -9),
graceful shutdown, and refusing to serve an unmigrated database."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.servers import START_TIMEOUT_S, Servers, free_port

pytestmark = pytest.mark.server


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
