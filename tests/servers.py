"""Real `backchannel serve` processes for tests: started on free ports, always killed."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

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
        BACKCHANNEL_DM_INBOX_DEFAULT="everyone",  # as in conftest.make_settings
        BACKCHANNEL_RATE_LIMITS="false",
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

    async def run(self, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
        """Start `backchannel <args>` (not waiting for it to listen)."""
        log = self.tmp_path / f"server-{len(self.started)}.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "backchannel", *args,
                env={**server_env(), **(env or {})}, stdout=out, stderr=asyncio.subprocess.STDOUT,
                cwd=self.tmp_path,
            )  # fmt: skip
        port = int(args[args.index("--port") + 1]) if "--port" in args else 0
        server = ServerProcess(proc, port, log)
        self.started.append(server)
        return server

    async def serve(
        self,
        data_dir: Path,
        database_url: str | None = None,
        *extra: str,
        port: int = 0,
        env: dict[str, str] | None = None,
    ) -> ServerProcess:
        """Start a server (on `port`, or a free one) and wait until it answers."""
        args = ["serve", "--port", str(port or free_port()), "--data-dir", str(data_dir), *extra]
        if database_url:
            args += ["--database-url", database_url]
        server = await self.run(*args, env=env)
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
