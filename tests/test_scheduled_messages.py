"""A person's scheduled messages ("send later"): sent at their time by the job queue, listed,
edited and cancelled until then, checked again when sent (left the group, blocked since),
the author told why a send was dropped, and exactly one message whatever runs twice."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from backchannel import jobs
from backchannel.app import create_app
from backchannel.services import scheduled
from backchannel.services.core import Core
from tests.conftest import Api, Clock, User, make_settings

C = "/api/v1/conversations"
MINE = "/api/v1/me/scheduled"


async def run(core: Core) -> int:
    assert core.jobs is not None
    ran = await core.jobs.run_due()
    await core.jobs.drain()
    return ran


async def later(
    user: User, cid: str, text: str, send_at: str, expect: int = 201, **extra: Any
) -> Any:
    r = await user.post(f"{C}/{cid}/scheduled", json={"text": text, "send_at": send_at, **extra})
    assert r.status_code == expect, r.text
    return r.json()


async def texts(user: User, cid: str) -> list[str]:
    r = await user.get(f"{C}/{cid}/messages")
    return [m["text"] for m in r.json()["items"]]


async def test_a_message_goes_out_at_its_time(api: Api, core: Core, clock: Clock) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    cid = await alice.direct(bob)
    first = await alice.send(cid, "hi")
    since = {u.handle: (await u.sync())["next"] for u in (alice, bob)}
    item = await later(alice, cid, "happy birthday!", clock.iso(3600), reply_to=first["id"])
    assert (item["status"], item["text"], item["reply_to"]) == (
        "pending",
        "happy birthday!",
        first["id"],
    )
    assert await run(core) == 0
    assert await texts(bob, cid) == ["hi"]  # nothing before its time
    clock.advance(3601)
    assert await run(core) == 1
    assert await texts(bob, cid) == ["hi", "happy birthday!"]
    (done,) = (await alice.get(MINE)).json()["items"]
    assert done["status"] == "sent" and done["reason"] is None and done["message_id"]
    history = (await bob.get(f"{C}/{cid}/messages")).json()["items"]
    assert history[-1]["id"] == done["message_id"]
    assert history[-1]["reply_to"]["id"] == first["id"]
    # the author's devices follow it; the recipient never hears of the schedule
    mine = [e["data"]["scheduled"]["status"] for e in (await alice.sync(since["alice"]))["events"]
            if e["type"] == "scheduled.updated"]  # fmt: skip
    assert mine == ["pending", "sent"]
    theirs = [e["type"] for e in (await bob.sync(since["bob"]))["events"]]
    assert "scheduled.updated" not in theirs and theirs.count("message.created") == 1


async def test_listed_edited_and_cancelled_until_sent(api: Api, core: Core, clock: Clock) -> None:
    alice, bob, eve = [await api.register(h) for h in ("alice", "bob", "eve")]
    cid = await alice.direct(bob)
    a = await later(alice, cid, "first draft", clock.iso(600))
    b = await later(alice, cid, "to cancel", clock.iso(900))
    r = await alice.patch(
        f"{MINE}/{a['id']}", json={"text": "final text", "send_at": clock.iso(1200)}
    )
    assert r.status_code == 200 and r.json()["text"] == "final text"
    r = await alice.delete(f"{MINE}/{b['id']}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = await alice.patch(f"{MINE}/{b['id']}", json={"text": "again"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "scheduled_not_pending"
    # someone else's is not there for you
    for method, body in (("PATCH", {"text": "x"}), ("DELETE", None)):
        r = await eve.request(method, f"{MINE}/{a['id']}", json=body)
        assert r.status_code == 404 and r.json()["error"]["code"] == "scheduled_message_not_found"
    assert (await eve.get(MINE)).json()["items"] == []
    listed = (await alice.get(MINE, params={"conversation_id": cid})).json()["items"]
    assert [(i["text"], i["status"]) for i in listed] == [  # soonest first
        ("to cancel", "cancelled"),
        ("final text", "pending"),
    ]
    clock.advance(700)
    await run(core)  # the first version's job: does nothing, the time moved
    assert await texts(bob, cid) == []
    clock.advance(600)
    await run(core)
    assert await texts(bob, cid) == ["final text"]
    # bad input, and conversations one is not in
    await later(alice, cid, "past", clock.iso(-1), expect=400)
    await later(alice, cid, "too far", clock.iso(91 * 86_400), expect=400)
    await later(alice, cid, "   ", clock.iso(60), expect=422)  # invalid_text, as for a send
    r = await eve.post(f"{C}/{cid}/scheduled", json={"text": "x", "send_at": clock.iso(60)})
    assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found"
    assert len((await alice.get(MINE)).json()["items"]) == 2  # nothing half-written


async def test_it_is_checked_again_when_sent(api: Api, core: Core, clock: Clock) -> None:
    alice, bob, carol = [await api.register(h) for h in ("alice", "bob", "carol")]
    group = await carol.group(alice, bob)
    direct = await alice.direct(bob)
    in_group = await later(alice, group, "for the group", clock.iso(60))
    to_bob = await later(alice, direct, "for bob", clock.iso(60))
    r = await alice.delete(f"{C}/{group}/members/alice")  # she leaves the group
    assert r.status_code == 204, r.text
    r = await alice.put("/api/v1/users/bob/block")  # and blocks bob
    assert r.status_code in (200, 204), r.text
    since = (await alice.sync())["next"]
    clock.advance(61)
    await run(core)
    by_id = {i["id"]: i for i in (await alice.get(MINE)).json()["items"]}
    assert (by_id[in_group["id"]]["status"], by_id[in_group["id"]]["reason"]) == (
        "failed",
        "conversation_not_found",
    )
    assert (by_id[to_bob["id"]]["status"], by_id[to_bob["id"]]["reason"]) == (
        "failed",
        "blocked_by_you",
    )
    assert await texts(bob, group) == [] and await texts(bob, direct) == []
    told = [e["data"]["scheduled"]["reason"] for e in (await alice.sync(since))["events"]
            if e["type"] == "scheduled.updated"]  # fmt: skip
    assert sorted(told) == ["blocked_by_you", "conversation_not_found"]


async def test_exactly_one_message_when_the_job_runs_twice(
    api: Api, core: Core, clock: Clock
) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    cid = await alice.direct(bob)
    item = await later(alice, cid, "once", clock.iso(30))
    row_id = await core.store.read(
        "t", lambda t: int(t.conn.exec_driver_sql("SELECT id FROM scheduled_messages").scalar())
    )
    job = jobs.Job(0, scheduled.KIND, {"scheduled_id": row_id, "version": 1}, 1, 0)
    clock.advance(31)
    # two nodes (or a retry after a crash) running it at once
    await asyncio.gather(scheduled.send_due(core, job), scheduled.send_due(core, job))
    await run(core)  # and the queued job itself, later
    assert await texts(bob, cid) == ["once"]
    (done,) = (await alice.get(MINE)).json()["items"]
    assert done["id"] == item["id"] and done["status"] == "sent"


async def test_a_scheduled_message_survives_a_restart(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            api = Api(http, app)
            alice, bob = await api.register("alice"), await api.register("bob")
            cid = await alice.direct(bob)
            send_at = datetime.fromtimestamp(time.time() + 60, UTC).isoformat()
            await later(alice, cid, "after the restart", send_at)
    app = create_app(make_settings(tmp_path, database_url))
    async with app.router.lifespan_context(app):
        core: Core = app.state.core
        core.store.clock = lambda: time.time() + 61
        await run(core)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            r = await http.get(f"{C}/{cid}/messages", headers=bob.headers)
            assert [m["text"] for m in r.json()["items"]] == ["after the restart"]
