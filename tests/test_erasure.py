"""Account erasure ("Delete my account") and the retention policy: what goes at once, what
the background job erases in batches (messages per the operator's setting, reactions,
uploads and their bytes), what the other members see through history and sync, the handle
held back, business teams, retention with the store clock across a restart, and
`backchannel purge` going on after an interruption."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from backchannel.app import create_app
from backchannel.services import erasure
from backchannel.services.core import Core
from backchannel.store.tables import account_erasures, media
from tests.conftest import PASSWORD, Api, Clock, User, make_settings
from tests.test_cli import cli, location, run  # noqa: F401 - `cli` is a fixture
from tests.test_media import jpeg_with_gps, uploaded

C = "/api/v1/conversations"
DAY = 86_400
OTHER = "another good secret"


async def run_jobs(core: Core) -> None:
    """Run due jobs until none is left due (each erasure batch queues the next at once)."""
    assert core.jobs is not None
    while await core.jobs.run_due():
        await core.jobs.drain()
    await core.jobs.drain()


async def delete_me(user: User, password: str = PASSWORD) -> httpx.Response:
    return await user.post("/api/v1/me/delete", json={"password": password})


async def history(user: User, cid: str) -> list[dict[str, Any]]:
    r = await user.get(f"{C}/{cid}/messages")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def uploads_of(core: Core, user_id: str) -> int:
    from backchannel.store.tables import users

    def txn(t: Any) -> int:
        uid = select(users.c.id).where(users.c.pid == user_id).scalar_subquery()
        query = select(func.count()).select_from(media).where(media.c.uploader_id == uid)
        return int(t.conn.execute(query).scalar_one())

    return await core.store.read("test_uploads", txn)


async def storage_key(core: Core, media_pid: str) -> str:
    def txn(t: Any) -> str:
        return str(
            t.conn.execute(select(media.c.storage_key).where(media.c.pid == media_pid)).scalar()
        )

    return await core.store.read("test_key", txn)


async def test_deleting_needs_the_password(api: Api) -> None:
    alice = await api.register("alice")
    r = await delete_me(alice, "not it at all")
    assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_password"
    assert (await alice.get("/api/v1/me")).status_code == 200


async def test_erase_turns_every_message_into_a_tombstone_for_everyone(
    api: Api, core: Core, clock: Clock
) -> None:
    alice = await api.register("alice", display_name="Alice")
    bob, carol = await api.register("bob"), await api.register("carol")
    await bob.put("/api/v1/users/alice/follow")
    direct, group = await alice.direct(bob), await alice.group(bob, carol)
    photo = await uploaded(alice, jpeg_with_gps(), "a.jpg", "image/jpeg")
    key = await storage_key(core, photo)
    first = await alice.send(direct, "remember me", media=[photo])
    await alice.patch(f"{C}/{direct}/messages/{first['id']}", json={"text": "remember me, edited"})
    reply = await bob.send(direct, "I will", reply_to=first["id"])
    await alice.put(f"{C}/{direct}/messages/{reply['id']}/reactions/👍")
    await alice.send(group, "group hello")
    since = (await bob.sync())["next"]
    assert await core.media_store().exists(key)

    r = await delete_me(alice)
    assert r.status_code == 202, r.text
    assert r.json()["messages"] == "erase"
    # at once: signed out everywhere, no login, no profile
    assert (await alice.get("/api/v1/me")).status_code == 401
    login = await api.http.post("/api/v1/sessions", json={"handle": "alice", "password": PASSWORD})
    assert login.status_code == 401
    assert (await bob.get("/api/v1/users/alice")).status_code == 404

    await run_jobs(core)
    for viewer, cid in ((bob, direct), (carol, group)):
        for message in await history(viewer, cid):
            if message["sender"]["id"] == alice.id:
                assert message["unsent"] is True and message["text"] is None
                assert message["media"] == []
                assert message["sender"]["handle"] is None
    kept = next(m for m in await history(bob, direct) if m["id"] == reply["id"])
    assert kept["text"] == "I will" and kept["reply_to"]["text"] is None
    assert kept["reactions"] == []
    # the bytes and the rows of every upload of hers are gone
    assert not await core.media_store().exists(key)
    assert await uploads_of(core, alice.id) == 0
    # live: the other members were told; and nothing in the log still holds her words
    events = (await bob.sync(since))["events"]
    assert {e["data"]["message_id"] for e in events if e["type"] == "message.unsent"} >= {
        first["id"]
    }
    everything = orjson.dumps((await bob.sync("0"))["events"]).decode()
    assert "remember me" not in everything and "group hello" not in everything

    # the handle is held back, then free
    taken = await api.http.post("/api/v1/accounts", json={"handle": "alice", "password": OTHER})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "handle_taken"
    clock.advance(31 * DAY)
    again = await api.http.post("/api/v1/accounts", json={"handle": "Alice", "password": OTHER})
    assert again.status_code == 201, again.text
    assert again.json()["user"]["id"] != alice.id


async def test_keep_leaves_messages_from_a_deleted_user(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, account_erasure_messages="keep")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            api = Api(http, app)
            core: Core = app.state.core
            alice, bob = await api.register("alice"), await api.register("bob")
            cid = await alice.direct(bob)
            photo = await uploaded(alice, jpeg_with_gps(), "a.jpg", "image/jpeg")
            key = await storage_key(core, photo)
            await alice.send(cid, "still here", media=[photo])
            r = await delete_me(alice)
            assert r.status_code == 202 and r.json()["messages"] == "keep"
            await run_jobs(core)
            (message,) = await history(bob, cid)
            assert message["text"] == "still here" and message["unsent"] is False
            assert message["sender"] == {
                "id": alice.id,
                "handle": None,
                "display_name": "Deleted user",
            }
            assert message["media"] == []  # every upload goes, kept messages' too
            assert not await core.media_store().exists(key)
            sync_text = orjson.dumps((await bob.sync("0"))["events"]).decode()
            assert "still here" in sync_text


async def test_the_job_works_in_batches_and_goes_on_after_a_restart(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url, erasure_batch_size=3)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            api = Api(http, app)
            core: Core = app.state.core
            alice, bob = await api.register("alice"), await api.register("bob")
            cid = await alice.direct(bob)
            for n in range(10):
                await alice.send(cid, f"message {n}")
            assert (await delete_me(alice)).status_code == 202
            assert core.jobs is not None
            await core.jobs.run_due()  # one batch, then the server stops
            await core.jobs.drain()
            texts = [m["text"] for m in await history(bob, cid)]
            assert texts.count(None) == 3
    app = create_app(make_settings(tmp_path, database_url, erasure_batch_size=3))
    async with app.router.lifespan_context(app):
        core = app.state.core
        await run_jobs(core)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            r = await http.get(f"{C}/{cid}/messages", headers=bob.headers)
            assert [m["text"] for m in r.json()["items"]] == [None] * 10
        finished = await core.store.read(
            "t", lambda t: t.conn.execute(select(account_erasures.c.finished_at)).scalar()
        )
        assert finished is not None


async def test_business_accounts_and_teams(api: Api) -> None:
    shop, agent, owner = await api.register("shop"), await api.register("ann"), await api.users(1)
    del owner
    assert (await shop.post("/api/v1/me/business", json={})).status_code == 201
    r = await shop.put("/api/v1/businesses/shop/members/ann", json={"role": "agent"})
    assert r.status_code in (200, 201), r.text
    # a business with a team is refused; its agent may go, and leaves the team
    r = await delete_me(shop)
    assert r.status_code == 409 and r.json()["error"]["code"] == "business_has_team"
    assert (await shop.get("/api/v1/me")).status_code == 200
    assert (await delete_me(agent)).status_code == 202
    team = (await shop.get("/api/v1/businesses/shop/members")).json()["items"]
    assert [m["user"]["handle"] for m in team] == ["shop"]
    # alone, the business account may go
    assert (await delete_me(shop)).status_code == 202


async def test_retention_erases_old_messages_across_a_restart(
    tmp_path: Path, database_url: str
) -> None:
    start = time.time()
    settings = make_settings(
        tmp_path, database_url, message_retention_days=30, erasure_batch_size=2
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        core: Core = app.state.core
        core.store.clock = lambda: start
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            api = Api(http, app)
            alice, bob = await api.register("alice"), await api.register("bob")
            cid = await alice.direct(bob)
            for n in range(5):
                await alice.send(cid, f"old {n}")
            await run_jobs(core)  # nothing is old enough yet
            assert None not in [m["text"] for m in await history(bob, cid)]
            core.store.clock = lambda: start + 31 * DAY
            await bob.send(cid, "new")
            assert core.jobs is not None
            await core.jobs.run_due()  # one batch of two, then a restart
            await core.jobs.drain()
            assert [m["text"] for m in await history(bob, cid)].count(None) == 2
    app = create_app(make_settings(tmp_path, database_url, message_retention_days=30))
    async with app.router.lifespan_context(app):
        core = app.state.core
        core.store.clock = lambda: start + 31 * DAY
        await run_jobs(core)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            items = (await http.get(f"{C}/{cid}/messages", headers=bob.headers)).json()["items"]
            assert [m["text"] for m in items] == [None] * 5 + ["new"]
            events = (await http.get("/api/v1/sync?since=0", headers=bob.headers)).json()["events"]
            assert sum(e["type"] == "message.expired" for e in events) == 5
            assert "old 1" not in orjson.dumps(events).decode()


def test_purge_goes_on_after_an_interruption(
    cli: CliRunner,  # noqa: F811 - the fixture
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    async def prepare() -> tuple[str, dict[str, str]]:
        settings = make_settings(tmp_path, database_url, erasure_batch_size=2)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            core: Core = app.state.core
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                api = Api(http, app)
                alice, bob = await api.register("alice"), await api.register("bob")
                cid = await alice.direct(bob)
                for n in range(7):
                    await alice.send(cid, f"message {n}")
                assert (await delete_me(alice)).status_code == 202
                # an interrupted purge: one batch done, then the process dies
                ((user_id, phase, after),) = await erasure.pending_erasures(core)
                await erasure.erase_step(core, user_id, phase, after)
                ((_, phase, after),) = await erasure.pending_erasures(core)
                assert (phase, after) != ("messages", 0)  # where it got to is kept
                return cid, bob.headers

    cid, headers = asyncio.run(prepare())
    monkeypatch.setenv("BACKCHANNEL_ERASURE_BATCH_SIZE", "2")
    output = run(cli, "purge", *location(tmp_path, database_url))
    assert "accounts: 1 erased" in output
    assert "accounts: 0 erased" in run(cli, "purge", *location(tmp_path, database_url))

    async def check() -> list[Any]:
        app = create_app(make_settings(tmp_path, database_url))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                r = await http.get(f"{C}/{cid}/messages", headers=headers)
                return [m["text"] for m in r.json()["items"]]

    assert asyncio.run(check()) == [None] * 7
