"""The `backchannel` command: migrate, user management, help texts, and the demo seed."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from backchannel.app import create_app
from backchannel.cli import DEMO_PASSWORD, DEMO_USERS, app, seed_demo
from backchannel.client import Client
from backchannel.services.core import Core
from backchannel.store import migrate
from tests.conftest import PASSWORD, Api, make_settings
from tests.servers import Servers
from tests.test_gateway import open_stream
from tests.test_nodes import RedisProcess, redis_server  # noqa: F401 - a fixture

NEW_PASSWORD = "a different passphrase"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner with no BACKCHANNEL_* configuration leaking in, and fast password hashing."""
    for name in list(os.environ):
        if name.startswith("BACKCHANNEL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BACKCHANNEL_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("BACKCHANNEL_ARGON2_MEMORY_KIB", "64")
    monkeypatch.setenv("COLUMNS", "200")
    # the CLI's console was made at import, perhaps without a terminal (a test worker): wide
    from backchannel import cli as cli_module

    monkeypatch.setattr(cli_module.console, "width", 200)
    yield CliRunner()


def run(cli: CliRunner, *args: str, expect: int = 0, input: str | None = None) -> str:
    result = cli.invoke(app, list(args), input=input, prog_name="backchannel")
    output = " ".join(result.output.split())  # undo the console's line wrapping
    assert result.exit_code == expect, (result.exit_code, output, result.exception)
    if expect == 0:
        assert result.exception is None
    else:  # a clean exit with a message, not a crash
        assert isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in output
    return output


def location(tmp_path: Path, database_url: str) -> list[str]:
    """CLI options selecting the test database (its data dir is private to the test)."""
    return ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]


async def _http(
    tmp_path: Path, database_url: str | None, calls: list[tuple[str, str, dict[str, Any], str]]
) -> list[httpx.Response]:
    """Start the app on the database, make `calls` (method, path, json, token), stop."""
    settings = make_settings(tmp_path, database_url)  # type: ignore[arg-type]
    application = create_app(settings)
    responses = []
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for method, path, body, token in calls:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                responses.append(
                    await http.request(method, path, json=body if body else None, headers=headers)
                )
    return responses


def http(
    tmp_path: Path, database_url: str | None, *calls: tuple[str, str, dict[str, Any], str]
) -> list[httpx.Response]:
    return asyncio.run(_http(tmp_path, database_url, list(calls)))


def login(handle: str, password: str) -> tuple[str, str, dict[str, Any], str]:
    return ("POST", "/api/v1/sessions", {"handle": handle, "password": password}, "")


def test_migrate_creates_and_migrates_the_database(cli: CliRunner, tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    output = run(cli, "migrate", "--data-dir", str(data_dir))
    assert f"migrated to revision {migrate.head_revision()}" in output
    database = data_dir / "backchannel.db"
    assert database.is_file()
    engine = create_engine(f"sqlite:///{database}", poolclass=NullPool)
    try:
        assert migrate.is_current(engine)
    finally:
        engine.dispose()
    run(cli, "migrate", "--data-dir", str(data_dir))  # again: nothing to do, no error


def test_commands_refuse_an_unmigrated_database(cli: CliRunner, tmp_path: Path) -> None:
    output = run(cli, "user", "list", "--data-dir", str(tmp_path / "empty"), expect=1)
    assert "backchannel migrate" in output


def test_user_create_and_list(cli: CliRunner, tmp_path: Path, database_url: str) -> None:
    where = location(tmp_path, database_url)
    output = run(cli, "user", "create", "Alice", "--password", PASSWORD,
                 "--display-name", "Alice Liddell", *where)  # fmt: skip
    assert "created @alice" in output
    run(cli, "user", "create", "bob", "--password", PASSWORD, *where)

    listing = run(cli, "user", "list", *where)
    assert "alice" in listing and "Alice Liddell" in listing and "bob" in listing
    assert listing.count("active") == 2

    taken = run(cli, "user", "create", "alice", "--password", PASSWORD, *where, expect=1)
    assert "taken" in taken
    bad = run(cli, "user", "create", "carol", "--password", "short", *where, expect=1)
    assert "password" in bad.lower()
    assert "carol" not in run(cli, "user", "list", *where)

    # The account works, and the CLI left no session of its own behind.
    (ok,) = http(tmp_path, database_url, login("alice", PASSWORD))
    assert ok.status_code == 201
    (sessions,) = http(tmp_path, database_url, ("GET", "/api/v1/sessions", {}, ok.json()["token"]))
    assert len(sessions.json()["items"]) == 1


def test_set_password_revokes_every_session(
    cli: CliRunner, tmp_path: Path, database_url: str
) -> None:
    where = location(tmp_path, database_url)
    run(cli, "user", "create", "bob", "--password", PASSWORD, *where)
    first, second = http(tmp_path, database_url, login("bob", PASSWORD), login("bob", PASSWORD))
    tokens = [first.json()["token"], second.json()["token"]]
    me = [("GET", "/api/v1/me", {}, token) for token in tokens]
    assert [r.status_code for r in http(tmp_path, database_url, *me)] == [200, 200]

    output = run(cli, "user", "set-password", "bob", "--password", NEW_PASSWORD, *where)
    assert "revoked" in output

    after = http(tmp_path, database_url, *me, login("bob", PASSWORD), login("bob", NEW_PASSWORD))
    assert [r.status_code for r in after] == [401, 401, 401, 201]
    assert after[0].json()["error"]["code"] == "unauthenticated"

    missing = run(cli, "user", "set-password", "nobody", "--password", NEW_PASSWORD, *where,
                  expect=1)  # fmt: skip
    assert "nobody" in missing


def test_set_password_prompts_twice(cli: CliRunner, tmp_path: Path, sqlite_url: str) -> None:
    where = location(tmp_path, sqlite_url)
    run(cli, "user", "create", "bob", *where, input=f"{PASSWORD}\n{PASSWORD}\n")
    run(cli, "user", "set-password", "bob", *where, input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    (ok,) = http(tmp_path, sqlite_url, login("bob", NEW_PASSWORD))
    assert ok.status_code == 201


def test_user_deactivate(cli: CliRunner, tmp_path: Path, database_url: str) -> None:
    where = location(tmp_path, database_url)
    run(cli, "user", "create", "carol", "--password", PASSWORD, *where)
    (session,) = http(tmp_path, database_url, login("carol", PASSWORD))
    token = session.json()["token"]

    # Without --yes it asks; answering no changes nothing.
    output = run(cli, "user", "deactivate", "carol", *where, input="n\n", expect=1)
    assert "Aborted" in output
    assert "carol" in run(cli, "user", "list", *where)

    assert "@carol deactivated" in run(cli, "user", "deactivate", "carol", "--yes", *where)
    assert "carol" not in run(cli, "user", "list", *where)
    assert "deactivated" in run(cli, "user", "list", "--all", *where)
    statuses = http(
        tmp_path, database_url, ("GET", "/api/v1/me", {}, token), login("carol", PASSWORD)
    )
    assert [r.status_code for r in statuses] == [401, 401]

    again = run(cli, "user", "deactivate", "carol", "--yes", *where, expect=1)
    assert "carol" in again


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ([], ["serve", "migrate", "demo", "user", "moderation", "jobs"]),
        (["serve"], ["--host", "--port", "--data-dir", "--database-url", "--no-migrate"]),
        (["migrate"], ["--data-dir", "--database-url"]),
        (["demo"], ["--host", "--port", "--keep"]),
        (["user"], ["create", "list", "set-password", "deactivate", "set-role"]),
        (["user", "set-role"], ["handle", "role", "--note", "--data-dir"]),
        (["moderation"], ["queue", "show", "act", "suspend", "unsuspend", "log"]),
        (["moderation", "queue"], ["--status", "--source", "--limit", "--data-dir"]),
        (["moderation", "act"], ["report_id", "action", "--note", "--database-url"]),
        (["moderation", "suspend"], ["handle", "--note", "--data-dir"]),
        (["moderation", "log"], ["--user", "--limit", "--data-dir"]),
        (["user", "create"], ["handle", "--password", "--display-name", "--data-dir"]),
        (["user", "list"], ["--all", "--data-dir", "--database-url"]),
        (["user", "set-password"], ["handle", "--password", "--data-dir"]),
        (["user", "deactivate"], ["handle", "--yes", "--data-dir"]),
        (["jobs"], ["list", "retry"]),
        (["jobs", "list"], ["--state", "--limit", "--data-dir"]),
        (["jobs", "retry"], ["job_id", "--all", "--database-url"]),
    ],
)
def test_help_is_useful(cli: CliRunner, command: list[str], mentions: list[str]) -> None:
    output = run(cli, *command, "--help")
    assert f"Usage: {' '.join(['backchannel', *command])} " in output
    missing = [word for word in mentions if word not in output]
    assert missing == [], output


async def test_seed_demo(api: Api, core: Core) -> None:
    await seed_demo(core)
    handles = [handle for handle, _ in DEMO_USERS]
    tokens = {}
    for handle in handles:
        r = await api.http.post(
            "/api/v1/sessions", json={"handle": handle, "password": DEMO_PASSWORD}
        )
        assert r.status_code == 201, r.text
        tokens[handle] = {"Authorization": f"Bearer {r.json()['token']}"}

    async def get(handle: str, path: str) -> Any:
        r = await api.http.get(path, headers=tokens[handle])
        assert r.status_code == 200, r.text
        return r.json()

    followers = {
        h: sorted(u["handle"] for u in (await get(h, f"/api/v1/users/{h}/followers"))["items"])
        for h in handles
    }
    assert followers == {"alice": ["bob", "carol"], "bob": ["alice", "dave"],
                         "carol": [], "dave": []}  # fmt: skip

    inbox = (await get("alice", "/api/v1/conversations"))["items"]
    assert sorted(c["kind"] for c in inbox) == ["direct", "group"]
    conversations = {c["kind"]: c for c in inbox}
    group = conversations["group"]
    assert group["title"] == "Weekend plans"
    assert group["member_count"] == 4
    for conversation, expected in [
        (conversations["direct"], ["alice", "bob", "alice"]),
        (group, ["carol", "dave", "alice"]),
    ]:
        page = await get("alice", f"/api/v1/conversations/{conversation['id']}/messages")
        assert [m["sender"]["handle"] for m in page["items"]] == expected
        assert all(m["text"] for m in page["items"])
    assert len((await get("dave", "/api/v1/conversations"))["items"]) == 1  # only the group


# --- moderation -----------------------------------------------------------------------


def test_user_set_role(cli: CliRunner, tmp_path: Path, database_url: str) -> None:
    where = location(tmp_path, database_url)
    run(cli, "user", "create", "alice", "--password", PASSWORD, *where)
    run(cli, "user", "create", "bob", "--password", PASSWORD, *where)
    alice, bob = http(tmp_path, database_url, login("alice", PASSWORD), login("bob", PASSWORD))
    queue = [("GET", "/api/v1/moderation/reports", {}, r.json()["token"]) for r in (alice, bob)]
    # the first account is a moderator, the second is not
    assert [r.status_code for r in http(tmp_path, database_url, *queue)] == [200, 403]

    assert "@bob is now admin" in run(cli, "user", "set-role", "bob", "admin", *where)
    assert [r.status_code for r in http(tmp_path, database_url, *queue)] == [200, 200]
    run(cli, "user", "set-role", "alice", "user", "--note", "stepped down", *where)
    assert [r.status_code for r in http(tmp_path, database_url, *queue)] == [403, 200]

    assert "nobody" in run(cli, "user", "set-role", "nobody", "admin", *where, expect=1)
    assert "role" in run(cli, "user", "set-role", "bob", "king", *where, expect=1)
    listing = run(cli, "moderation", "log", *where)
    assert listing.count("set_role:admin") == 1 and "stepped down" in listing
    assert "cli" in listing


def test_moderation_from_the_command_line(
    cli: CliRunner, tmp_path: Path, database_url: str
) -> None:
    where = location(tmp_path, database_url)
    for handle in ("mod", "bob", "carol"):
        run(cli, "user", "create", handle, "--password", PASSWORD, *where)
    bob, carol = http(tmp_path, database_url, login("bob", PASSWORD), login("carol", PASSWORD))
    bob_token, carol_token = bob.json()["token"], carol.json()["token"]
    (direct,) = http(tmp_path, database_url,
                     ("POST", "/api/v1/conversations", {"kind": "direct", "members": ["carol"]},
                      bob_token))  # fmt: skip
    cid = direct.json()["id"]
    (sent,) = http(tmp_path, database_url, ("POST", f"/api/v1/conversations/{cid}/messages",
                                            {"text": "cheap followers here"}, bob_token))  # fmt: skip
    body = {"kind": "message", "conversation_id": cid, "message_id": sent.json()["id"],
            "reason": "spam", "comment": "again"}  # fmt: skip
    (filed,) = http(tmp_path, database_url, ("POST", "/api/v1/reports", body, carol_token))
    assert filed.status_code == 201, filed.text
    report_id = filed.json()["id"]

    queue = run(cli, "moderation", "queue", *where)
    assert report_id in queue and "spam" in queue and "@bob" in queue and "@carol" in queue
    assert "cheap followers here" in queue
    assert report_id not in run(cli, "moderation", "queue", "--status", "closed", *where)
    shown = run(cli, "moderation", "show", report_id, *where)
    assert "cheap followers here" in shown and "again" in shown and "open" in shown

    output = run(cli, "moderation", "act", report_id, "warn", "--note", "be nice", *where)
    assert "closed: warned" in output
    assert "closed" in run(cli, "moderation", "act", report_id, "dismiss", *where, expect=1)
    assert "action" in run(cli, "moderation", "act", report_id, "ban", *where, expect=1)
    assert "report" in run(cli, "moderation", "show", "r_nothing", *where, expect=1)

    run(cli, "moderation", "suspend", "bob", "--note", "spam wave", *where)
    me, again = http(tmp_path, database_url, ("GET", "/api/v1/me", {}, bob_token),
                     login("bob", PASSWORD))  # fmt: skip
    assert me.status_code == 401
    assert again.status_code == 403 and again.json()["error"]["code"] == "account_suspended"
    run(cli, "moderation", "unsuspend", "bob", *where)
    (again,) = http(tmp_path, database_url, login("bob", PASSWORD))
    assert again.status_code == 201

    listing = run(cli, "moderation", "log", "--user", "bob", *where)
    for word in ("warn", "suspend", "unsuspend", "be nice", "spam wave", report_id, "cli"):
        assert word in listing, word
    assert "@carol" not in run(cli, "moderation", "log", "--user", "carol", *where)


@pytest.mark.server
async def test_a_suspension_from_the_cli_closes_live_streams_through_redis(
    cli: CliRunner,
    tmp_path: Path,
    servers: Servers,
    redis_server: RedisProcess,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir = tmp_path / "served"
    server = await servers.serve(data_dir, env={"BACKCHANNEL_REDIS_URL": redis_server.url})
    async with (
        await Client.register(server.url, "mod", PASSWORD),
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        assert bob.token is not None
        ws, _ready = await open_stream(server.url, bob.token)
        monkeypatch.setenv("BACKCHANNEL_REDIS_URL", redis_server.url)  # for the command
        output = await asyncio.to_thread(
            run, cli, "moderation", "suspend", "bob", "--note", "spam", "--data-dir", str(data_dir)
        )
        assert "suspended" in output
        with pytest.raises(websockets.ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 4001


def test_jobs_from_the_command_line(cli: CliRunner, tmp_path: Path, database_url: str) -> None:
    """An operator sees queued and failed jobs and queues failed ones again."""
    from backchannel.store import jobs as job_db
    from backchannel.store.database import Store

    where = location(tmp_path, database_url)
    run(cli, "migrate", *where)

    async def fill() -> None:
        store = Store(make_settings(tmp_path, database_url).resolved_database_url)
        await store.start()

        def txn(t: Any) -> None:
            payload = {"business_id": 1, "conversation_id": 2, "until": 0}
            job_db.insert_job(t.conn, kind="business.snooze_end", payload=payload,
                              run_at=t.now_ms + 60_000, key=None, now=t.now_ms)  # fmt: skip
            failed = job_db.insert_job(t.conn, kind="webhook.deliver", payload={"d": 1},
                                       run_at=t.now_ms, key=None, now=t.now_ms)  # fmt: skip
            job_db.fail(t.conn, failed, error="HTTP 500 from the receiver", now=t.now_ms)

        try:
            await store.write("fill", txn)
        finally:
            await store.close()

    asyncio.run(fill())
    listing = run(cli, "jobs", "list", *where)
    assert "business.snooze_end" in listing and "webhook.deliver" in listing
    assert "HTTP 500 from the receiver" in listing and "queued: 1, failed: 1" in listing
    failed = run(cli, "jobs", "list", "--state", "failed", *where)
    assert "webhook.deliver" in failed and "snooze_end" not in failed
    assert "--state is queued or failed" in run(
        cli, "jobs", "list", "--state", "x", *where, expect=1
    )
    assert "name one job id" in run(cli, "jobs", "retry", *where, expect=1)
    assert "no failed job 999" in run(cli, "jobs", "retry", "999", *where, expect=1)
    assert "queued again: 1" in run(cli, "jobs", "retry", "--all", *where)
    assert "queued: 2, failed: 0" in run(cli, "jobs", "list", *where)
