"""Data exports: a person's ZIP holds exactly what they could see, its pages are escaped,
its link and file expire, nobody else can read it, and an operator's export on a legal
request needs a reason, is logged, and resumes at the command line."""

from __future__ import annotations

import asyncio
import getpass
import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from backchannel.app import create_app
from backchannel.services import exports as service
from backchannel.services import moderation
from backchannel.services.core import Core
from backchannel.store import exports as export_db
from tests.conftest import PASSWORD, Api, Clock, User, ValidatingApp, make_settings
from tests.media_files import png
from tests.servers import Servers
from tests.test_cli import cli, location, run  # noqa: F401 - `cli` is a fixture
from tests.test_media import uploaded

EXPORTS = "/api/v1/me/exports"
HOSTILE = '<script>alert(1)</script><img src="https://evil.example/x.png" onerror=alert(2)>'


def code(r: Any) -> str:
    return str(r.json()["error"]["code"])


async def run_jobs(core: Core) -> None:
    """Run what is due now, and what that queued (a build may go on in several runs)."""
    assert core.jobs is not None
    for _ in range(10):
        if not await core.jobs.run_due():
            break
        await core.jobs.drain()


async def export_ready(core: Core, user: User) -> dict[str, Any]:
    r = await user.post(EXPORTS)
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "queued"
    assert r.json()["progress"]["done"] == 0
    await run_jobs(core)
    r = await user.get(f"{EXPORTS}/{r.json()['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "ready", r.json()
    return dict(r.json())


async def fetch_zip(user: User, url: str, **kwargs: Any) -> zipfile.ZipFile:
    r = await user.http.get(url, **kwargs)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith("attachment;")
    return zipfile.ZipFile(io.BytesIO(r.content))


def texts(archive: zipfile.ZipFile, conversation_id: str) -> list[str | None]:
    data = orjson.loads(archive.read(f"conversations/{conversation_id}.json"))
    return [m["text"] for m in data["messages"]]


async def seed(api: Api) -> dict[str, Any]:
    """Alice's world: a direct conversation with Bob (an edit, an unsend, a reaction, a
    photo, hostile text, a message she deleted for herself), a group she joined late and
    left, and Mallory, whom she blocked."""
    alice = await api.register("alice")
    bob, carol, mallory = [await api.register(h) for h in ("bob", "carol", "mallory")]
    direct = await alice.direct(bob)
    draft = await alice.send(direct, "first draft")
    assert (
        await alice.patch(
            f"/api/v1/conversations/{direct}/messages/{draft['id']}", json={"text": "final text"}
        )
    ).status_code == 200
    secret = await bob.send(direct, "unsent secret")
    r = await bob.post(f"/api/v1/conversations/{direct}/messages/{secret['id']}/unsend")
    assert r.status_code == 200, r.text
    r = await bob.put(
        f"/api/v1/conversations/{direct}/messages/{draft['id']}/reactions", json={"emoji": "👍"}
    )
    assert r.status_code == 200, r.text
    photo = await uploaded(alice, png(), "holiday.png", "image/png")
    await alice.send(direct, "a photo", media=[photo])
    await bob.send(direct, HOSTILE)
    hidden = await bob.send(direct, "deleted for alice")
    r = await alice.delete(f"/api/v1/conversations/{direct}/messages/{hidden['id']}")
    assert r.status_code == 204, r.text

    group = await bob.group(carol, title="book club")
    await carol.send(group, "before alice joined")
    r = await bob.post(f"/api/v1/conversations/{group}/members", json={"members": ["alice"]})
    assert r.status_code == 200, r.text
    await carol.send(group, "while alice was in")
    r = await alice.delete(f"/api/v1/conversations/{group}/members/alice")
    assert r.status_code == 204, r.text
    await carol.send(group, "after alice left")

    with_mallory = await mallory.direct(alice)
    await mallory.send(with_mallory, "before the block")
    assert (await alice.put("/api/v1/users/mallory/block")).status_code == 204
    await mallory.send(with_mallory, "after the block")
    assert (await alice.put("/api/v1/users/bob/follow")).status_code == 204
    assert (await carol.put("/api/v1/users/alice/follow")).status_code == 204
    return {
        "alice": alice, "bob": bob, "carol": carol, "direct": direct, "group": group,
        "mallory_direct": with_mallory, "photo": photo,
    }  # fmt: skip


async def test_the_zip_holds_exactly_what_the_person_can_see(api: Api, core: Core) -> None:
    world = await seed(api)
    alice, bob, direct, group = world["alice"], world["bob"], world["direct"], world["group"]
    export = await export_ready(core, alice)
    assert export["progress"] == {"done": 5, "total": 5}  # account, 3 conversations, packing
    assert export["download_url"] is not None and "sig=" in export["download_url"]
    # the signed link works without a token
    archive = await fetch_zip(bob, export["download_url"], headers={})
    names = set(archive.namelist())
    assert {"index.html", "account.json", "README.txt"} <= names

    account = orjson.loads(archive.read("account.json"))
    assert account["profile"]["handle"] == "alice"
    assert [u["handle"] for u in account["following"]] == ["bob"]
    assert [u["handle"] for u in account["followers"]] == ["carol"]
    assert [u["handle"] for u in account["blocked"]] == ["mallory"]
    assert len(account["sessions"]) == 1 and "device_name" in account["sessions"][0]
    assert account["settings"]["read_receipts"] is True

    assert texts(archive, direct) == ["final text", None, "a photo", HOSTILE]
    messages = orjson.loads(archive.read(f"conversations/{direct}.json"))["messages"]
    edited, unsent, with_photo = messages[0], messages[1], messages[2]
    assert [e["text"] for e in edited["edit_history"]] == ["first draft"]
    assert edited["reactions"] == [{"emoji": "👍", "users": ["bob"]}]
    assert unsent["unsent"] is True and unsent["edit_history"] == []
    media_path = f"media/{world['photo']}.png"
    assert with_photo["media"][0]["id"] == world["photo"]
    r = await alice.get(f"/api/v1/media/{world['photo']}")
    assert archive.read(media_path) == r.content  # the stored (cleaned) bytes
    # the group: only while she was a member
    assert texts(archive, group) == ["while alice was in"]
    group_data = orjson.loads(archive.read(f"conversations/{group}.json"))
    assert group_data["conversation"]["member"] is False
    assert group_data["conversation"]["title"] is None  # what it is called now is not hers
    # Mallory's message after the block never reached her
    assert texts(archive, world["mallory_direct"]) == ["before the block"]
    everything = b"".join(archive.read(name) for name in names)
    for gone in (b"unsent secret", b"deleted for alice", b"before alice joined", b"after alice"):
        assert gone not in everything, gone
    assert b"after the block" not in everything

    # the pages: escaped, nothing fetched, linking the conversations and the photo
    index = archive.read("index.html").decode()
    assert f'href="conversations/{direct}.html"' in index
    page = archive.read(f"conversations/{direct}.html").decode()
    assert "<script" not in page and "<script" not in index
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'src="https://' not in page and "<img" not in page
    assert "default-src 'none'" in page
    assert f'href="../{media_path}"' in page
    assert "first draft" in page  # the edit history


async def test_state_at_a_token_plus_the_events_is_a_fresh_fetch(
    api: Api, core: Core, clock: Clock
) -> None:
    """`export.updated` converges: the list at a token, with each event's export put in
    place, is the list fetched afterwards (but for the signed links, which events omit)."""
    alice, bob = await api.users(2)
    await alice.send(await alice.direct(bob), "hello")
    token = (await alice.sync(None))["next"]
    held = (await alice.get(EXPORTS)).json()["items"]
    await export_ready(core, alice)
    clock.advance(core.settings.export_retention_seconds + 1)
    await run_jobs(core)
    sync = await alice.sync(token)
    updates = [e["data"]["export"] for e in sync["events"] if e["type"] == "export.updated"]
    states = [u["state"] for u in updates]
    assert states[0] == "queued" and states[-2:] == ["ready", "expired"]
    assert [u["progress"]["done"] for u in updates] == [0, 0, 1, 2, 3, 3]
    for update in updates:
        held = [update] + [e for e in held if e["id"] != update["id"]]
    fresh = (await alice.get(EXPORTS)).json()["items"]
    assert held == fresh
    assert (await bob.sync(token))["events"] == []


async def test_nobody_else_reads_an_export(api: Api, core: Core) -> None:
    alice, bob = await api.users(2)
    await alice.send(await alice.direct(bob), "ours")
    export = await export_ready(core, alice)
    for path in (f"{EXPORTS}/{export['id']}", f"{EXPORTS}/{export['id']}/download"):
        r = await bob.get(path)
        assert (r.status_code, code(r)) == (404, "export_not_found"), path
    assert (await bob.get(EXPORTS)).json()["items"] == []
    # a link signed for Alice does not open with Bob's id swapped in
    forged = export["download_url"].replace("u=", "u=9999")
    r = await bob.http.get(forged)
    assert (r.status_code, code(r)) == (404, "export_not_found")
    r = await bob.get(f"{EXPORTS}/x_nope")
    assert (r.status_code, code(r)) == (404, "export_not_found")


async def test_the_link_expires_and_the_sweep_removes_the_file(
    api: Api, core: Core, clock: Clock
) -> None:
    alice, bob = await api.users(2)
    await alice.send(await alice.direct(bob), "hello")
    export = await export_ready(core, alice)
    key = await core.store.read(
        "t", lambda t: export_db.export_by_pid(t.conn, export["id"])["storage_key"]
    )
    assert await core.media_store().exists(key)
    clock.advance(core.settings.export_link_seconds + 5)
    r = await alice.http.get(export["download_url"])
    assert (r.status_code, code(r)) == (404, "export_not_found")
    # a fresh link (and the bearer token) still work until the export expires
    fresh = (await alice.get(f"{EXPORTS}/{export['id']}")).json()["download_url"]
    await fetch_zip(alice, fresh)
    await fetch_zip(alice, f"{EXPORTS}/{export['id']}/download", headers=alice.headers)

    clock.advance(core.settings.export_retention_seconds)
    await run_jobs(core)
    assert not await core.media_store().exists(key)
    view = (await alice.get(f"{EXPORTS}/{export['id']}")).json()
    assert view["state"] == "expired" and view["download_url"] is None
    r = await alice.get(f"{EXPORTS}/{export['id']}/download")
    assert (r.status_code, code(r)) == (410, "export_expired")


async def test_one_export_at_a_time_and_not_too_often(api: Api, core: Core, clock: Clock) -> None:
    alice = await api.register()
    first = await alice.post(EXPORTS)
    assert first.status_code == 202
    r = await alice.post(EXPORTS)
    assert (r.status_code, code(r)) == (409, "export_in_progress")
    r = await alice.get(f"{EXPORTS}/{first.json()['id']}/download")
    assert (r.status_code, code(r)) == (409, "export_not_ready")
    await run_jobs(core)
    r = await alice.post(EXPORTS)
    assert (r.status_code, code(r)) == (429, "export_too_soon")
    assert 0 < r.json()["error"]["details"]["retry_after"] <= 86400
    clock.advance(core.settings.export_min_interval_seconds + 1)
    assert (await alice.post(EXPORTS)).status_code == 202
    assert len((await alice.get(EXPORTS)).json()["items"]) == 2


async def test_a_legal_export_needs_a_reason_is_logged_and_not_shown(api: Api, core: Core) -> None:
    admin = await api.register("admin")  # the first account is a moderator
    alice, bob = await api.users(2)
    await alice.send(await alice.direct(bob), "for the court")
    path = f"/api/v1/moderation/users/{alice.handle}/exports"
    r = await bob.post(path, json={"reason": "curious"})
    assert (r.status_code, code(r)) == (403, "not_moderator")
    r = await admin.post(path, json={"reason": "   "})
    assert (r.status_code, code(r)) == (422, "reason_required")
    r = await admin.post(path, json={})
    assert (r.status_code, code(r)) == (400, "invalid_request")
    r = await admin.post(path, json={"reason": "court order 42/2026"})
    assert r.status_code == 202, r.text
    export_id = r.json()["id"]
    await run_jobs(core)
    view = (await admin.get(f"/api/v1/moderation/exports/{export_id}")).json()
    assert view["state"] == "ready"
    archive = await fetch_zip(admin, view["download_url"], headers=admin.headers)
    assert b"for the court" in b"".join(archive.read(n) for n in archive.namelist())
    # not the person's to see: no listing, no event, no access
    assert (await alice.get(EXPORTS)).json()["items"] == []
    assert (await alice.get(f"{EXPORTS}/{export_id}")).status_code == 404
    sync = await alice.sync(None)
    assert not [e for e in sync["events"] if e["type"] == "export.updated"]
    r = await bob.get(f"/api/v1/moderation/exports/{export_id}/download")
    assert (r.status_code, code(r)) == (403, "not_moderator")
    log = (await admin.get("/api/v1/moderation/log", params={"user": alice.handle})).json()
    actions = [(e["action"], e["note"]) for e in log["items"]]
    assert ("export", "court order 42/2026") in actions
    assert ("export_download", export_id) in actions


async def _interrupted_export(tmp_path: Path, database_url: str) -> tuple[str, list[Any]]:
    """Alice in three conversations; an operator's export of her stopped after 2 steps."""
    settings = make_settings(tmp_path, database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=ValidatingApp(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            api = Api(http, app)
            await api.register("root")
            alice, bob, carol = [await api.register(h) for h in ("alice", "bob", "carol")]
            for other in (bob, carol):
                await alice.send(await alice.direct(other), f"hi {other.handle}")
            await alice.send(await alice.group(bob, carol), "all of us")
        core: Core = app.state.core
        me = moderation.operator(getpass.getuser())
        view = await service.request_legal_export(core, me, "alice", "case 7", background=False)
        row = await core.store.read("t", lambda t: export_db.export_by_pid(t.conn, view["id"]))

        class Interrupted(Exception):
            pass

        def stop_after_two(done: int, total: int) -> None:
            if done == 2:
                raise Interrupted

        with pytest.raises(Interrupted):
            await service.build(core, row["id"], on_step=stop_after_two)
        steps = await core.store.read("t", lambda t: export_db.steps_of(t.conn, row["id"]))
    return view["id"], steps


def test_the_cli_export_resumes_where_it_stopped(
    cli: CliRunner,  # noqa: F811
    tmp_path: Path,
    database_url: str,
) -> None:
    export_id, before = asyncio.run(_interrupted_export(tmp_path, database_url))
    assert [s["done_at"] is not None for s in before] == [True, True, False, False]
    out = tmp_path / "alice.zip"
    where = location(tmp_path, database_url)
    output = run(cli, "export", "alice", "--reason", "case 7", "--out", str(out), *where)
    assert f"resuming export {export_id} at step 2 of 5" in output
    assert "wrote" in output
    archive = zipfile.ZipFile(out)
    conversations = [n for n in archive.namelist() if n.endswith(".json") and "/" in n]
    assert len(conversations) == 3
    assert b"all of us" in b"".join(archive.read(n) for n in conversations)

    async def steps_now() -> list[Any]:
        app = create_app(make_settings(tmp_path, database_url))
        async with app.router.lifespan_context(app):
            core: Core = app.state.core
            row = await core.store.read("t", lambda t: export_db.export_by_pid(t.conn, export_id))
            return await core.store.read("t", lambda t: export_db.steps_of(t.conn, row["id"]))

    after = asyncio.run(steps_now())
    # the first two steps were not done again: their times are those of the first run
    assert [s["done_at"] for s in after[:2]] == [s["done_at"] for s in before[:2]]
    assert all(s["done_at"] is not None for s in after)
    # a new run starts a new export (logged again), not the finished one
    output = run(cli, "export", "alice", "--reason", "case 8", "--out", str(out), *where)
    assert "resuming" not in output
    output = run(cli, "moderation", "log", "--user", "alice", *where)
    assert "case 7" in output and "case 8" in output
    run(cli, "export", "alice", "--reason", " ", "--out", str(out), *where, expect=1)


async def test_end_to_end_on_a_real_server(
    servers: Servers, tmp_path: Path, database_url: str
) -> None:
    """A server process makes the export with its own job runner; a plain client (no
    token) downloads it by the signed link."""
    server = await servers.serve(tmp_path / "data", database_url)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        alice, bob = [
            User(http, body["token"], body["user"])
            for body in [
                (
                    await http.post("/api/v1/accounts", json={"handle": h, "password": PASSWORD})
                ).json()
                for h in ("alice", "bob")
            ]
        ]
        direct = await alice.direct(bob)
        photo = await uploaded(alice, png(), "a.png", "image/png")
        await alice.send(direct, "see <b>this</b>", media=[photo])
        await bob.send(direct, "nice")
        r = await alice.post(EXPORTS)
        assert r.status_code == 202, r.text
        url = f"{EXPORTS}/{r.json()['id']}"
        for _ in range(300):
            view = (await alice.get(url)).json()
            if view["state"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.05)
        assert view["state"] == "ready", (view, server.output())
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as anonymous:
        r = await anonymous.get(view["download_url"])
        assert r.status_code == 200, r.text
        assert r.headers["content-disposition"].startswith("attachment; filename*=UTF-8''")
        assert int(r.headers["content-length"]) == view["size"] == len(r.content)
        r2 = await anonymous.get(url + "/download")
        assert (r2.status_code, code(r2)) == (401, "unauthenticated")
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert texts(archive, direct) == ["see <b>this</b>", "nice"]
    assert f"media/{photo}.png" in archive.namelist()
    assert "see &lt;b&gt;this&lt;/b&gt;" in archive.read(f"conversations/{direct}.html").decode()
