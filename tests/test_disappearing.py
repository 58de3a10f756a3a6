"""Disappearing messages: a conversation's timer (who may set it, announced in the log),
messages erased for everyone when their time is up — counted from sending or from when
everyone else read them — by the job queue, leaving a content-free tombstone, with a
controllable clock and across a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from backchannel.app import create_app
from backchannel.services.core import Core
from backchannel.store import jobs as job_db
from tests.conftest import Api, Clock, User, make_settings

C = "/api/v1/conversations"


async def run(core: Core) -> int:
    assert core.jobs is not None
    ran = await core.jobs.run_due()
    await core.jobs.drain()
    return ran


async def set_timer(user: User, cid: str, seconds: int | None, counted_from: str = "sent") -> Any:
    return await user.put(
        f"{C}/{cid}/disappearing", json={"seconds": seconds, "from": counted_from}
    )


async def history(user: User, cid: str) -> list[dict[str, Any]]:
    r = await user.get(f"{C}/{cid}/messages")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_messages_disappear_for_everyone_when_their_time_is_up(
    api: Api, core: Core, clock: Clock
) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    cid = await alice.direct(bob)
    before = await alice.send(cid, "this one stays")
    since = (await bob.sync())["next"]
    r = await set_timer(bob, cid, 3600)  # any member of a direct conversation
    assert r.status_code == 200, r.text
    assert r.json()["disappearing"] == {"seconds": 3600, "from": "sent"}
    assert (await alice.get(f"{C}/{cid}")).json()["disappearing"] == {
        "seconds": 3600,
        "from": "sent",
    }
    gone = await alice.send(cid, "a secret")
    await bob.put(f"{C}/{cid}/messages/{gone['id']}/reactions", json={"emoji": "👍"})
    clock.advance(1800)
    later = await bob.send(cid, "later secret")
    assert await run(core) == 0  # nothing due yet
    clock.advance(1801)
    assert await run(core) == 1
    texts = {m["id"]: (m["text"], m["unsent"], m["reactions"]) for m in await history(alice, cid)}
    assert texts[before["id"]] == ("this one stays", False, [])
    assert texts[gone["id"]] == (None, True, [])  # a content-free tombstone
    assert texts[later["id"]] == ("later secret", False, [])
    events = (await bob.sync(since))["events"]
    kinds = [e["type"] for e in events]
    assert "conversation.disappearing_updated" in kinds
    expired = [e["data"] for e in events if e["type"] == "message.expired"]
    assert expired == [{"conversation_id": cid, "message_id": gone["id"]}]
    # the job came back for the next one, due at its time
    queued = await core.store.read(
        "t", lambda t: list(job_db.list_jobs(t.conn, state=None, limit=5))
    )
    (job,) = [j for j in queued if j["kind"] == "messages.expire"]
    assert job["run_at"] == later_due(later, 3600)
    clock.advance(1800)
    await run(core)
    assert [m["unsent"] for m in await history(bob, cid)] == [False, True, True]
    # off: messages sent from now on stay
    await set_timer(alice, cid, None)
    kept = await alice.send(cid, "not secret")
    clock.advance(10 * 86_400)
    await run(core)
    assert (await history(bob, cid))[-1]["text"] == kept["text"] == "not secret"


def later_due(message: dict[str, Any], seconds: int) -> int:
    from datetime import datetime

    sent = datetime.fromisoformat(message["created_at"].replace("Z", "+00:00"))
    return int(sent.timestamp() * 1000) + seconds * 1000


async def test_counted_from_seen_starts_when_everyone_else_has_read(
    api: Api, core: Core, clock: Clock
) -> None:
    alice, bob, carol = [await api.register(h) for h in ("alice", "bob", "carol")]
    group = await alice.group(bob, carol)
    assert (await set_timer(alice, group, 60, "seen")).status_code == 200
    message = await alice.send(group, "read me and weep")
    clock.advance(3600)
    await run(core)
    assert (await history(bob, group))[-1]["text"] == "read me and weep"  # unread: no timer yet
    await bob.post(f"{C}/{group}/read", json={"up_to": message["id"]})
    clock.advance(3600)
    await run(core)
    assert (await history(bob, group))[-1]["text"] == "read me and weep"  # carol has not read it
    await carol.post(f"{C}/{group}/read", json={"up_to": message["id"]})
    clock.advance(59)
    await run(core)
    assert (await history(bob, group))[-1]["unsent"] is False
    clock.advance(2)
    await run(core)
    assert (await history(carol, group))[-1]["unsent"] is True


async def test_who_may_set_the_timer(api: Api) -> None:
    alice, bob, carol, eve = [await api.register(h) for h in ("alice", "bob", "carol", "eve")]
    group = await alice.group(bob, carol)
    r = await set_timer(bob, group, 300)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_group_admin"
    r = await set_timer(eve, group, 300)
    assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found"
    for seconds in (5, 90 * 86_400 + 1):
        r = await set_timer(alice, group, seconds)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request", seconds
    r = await alice.put(f"{C}/{group}/disappearing", json={"seconds": 300, "from": "whenever"})
    assert r.status_code == 400
    assert (await alice.get(f"{C}/{group}")).json()["disappearing"] is None  # nothing half-set
    for seconds in (300, 3600, 86_400, 604_800, 7_776_000, 45):  # presets, and custom
        r = await set_timer(alice, group, seconds)
        assert r.status_code == 200 and r.json()["disappearing"]["seconds"] == seconds


async def test_media_of_a_disappearing_message_is_erased(
    api: Api, core: Core, clock: Clock
) -> None:
    from tests.test_media import MEDIA, _key, jpeg_with_gps, uploaded

    alice, bob = await api.register("alice"), await api.register("bob")
    cid = await alice.direct(bob)
    await set_timer(alice, cid, 60)
    media_id = await uploaded(alice, jpeg_with_gps(), "photo.jpg", "image/jpeg")
    message = await alice.send(cid, "look", media=[media_id])
    assert message["media"]
    assert (await bob.get(f"{MEDIA}/{media_id}")).status_code == 200
    key = await core.store.read("k", lambda t: _key(t, media_id))
    assert await core.media_store().exists(key)
    clock.advance(61)
    await run(core)
    (gone,) = [m for m in await history(bob, cid) if m["id"] == message["id"]]
    assert gone["media"] == [] and gone["unsent"] is True
    for user in (alice, bob):  # erased as after an unsend: gone, for everyone
        assert (await user.get(f"{MEDIA}/{media_id}")).status_code in (404, 410)
    assert not await core.media_store().exists(key)  # the bytes too


async def test_a_timer_runs_out_across_a_restart(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            api = Api(http, app)
            alice, bob = await api.register("alice"), await api.register("bob")
            cid = await alice.direct(bob)
            await set_timer(alice, cid, 60)
            message = await alice.send(cid, "short-lived")
    app = create_app(make_settings(tmp_path, database_url))
    async with app.router.lifespan_context(app):
        core: Core = app.state.core
        core.store.clock = lambda: time.time() + 61
        await run(core)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            r = await http.get(f"{C}/{cid}/messages", headers=bob.headers)
            (gone,) = [m for m in r.json()["items"] if m["id"] == message["id"]]
            assert gone["text"] is None and gone["unsent"] is True
