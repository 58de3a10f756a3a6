"""Erased content is gone from the event log too: an unsend, a moderator's removal and a
disappearing message's expiry rewrite the log's copies (the message's `message.created`, its
edits and preview, the quotes of it in replies), so that a member syncing from before the
message, or anyone reading the database, finds the tombstone and never the words. (Account
erasure and retention go through the same path: tests/test_erasure.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from backchannel.services.core import Core
from backchannel.store import jobs as job_db
from backchannel.store.tables import events, message_edits, messages
from tests.conftest import Api, Clock, User
from tests.test_disappearing import run, set_timer
from tests.test_moderation import act, people, report_message

C = "/api/v1/conversations"


async def stored_text(core: Core) -> str:
    """Every place the content of messages is kept, as one string to search."""

    def read(t: Any) -> str:
        parts = [str(p) for p in t.conn.execute(select(events.c.payload)).scalars()]
        parts += [str(x) for x in t.conn.execute(select(messages.c.text)).scalars()]
        parts += [str(x) for x in t.conn.execute(select(messages.c.reply_text)).scalars()]
        parts += [str(x) for x in t.conn.execute(select(message_edits.c.previous_text)).scalars()]
        return "\n".join(parts)

    return await core.store.read("stored_text", read)


async def start(*users: User) -> dict[str, str]:
    """A sync token for each, from before anything happened."""
    return {u.handle: (await u.sync())["next"] for u in users}


async def synced_text(user: User, since: dict[str, str]) -> str:
    """What a member gets syncing from their token in `since` (all of it, every page)."""
    seen: list[Any] = []
    token = since[user.handle]
    while True:
        page = await user.sync(token)
        seen += page["events"]
        if page["next"] == token or not page["events"]:
            return str(seen)
        token = page["next"]


async def edit(user: User, cid: str, mid: str, text: str) -> None:
    r = await user.patch(f"{C}/{cid}/messages/{mid}", json={"text": text})
    assert r.status_code == 200, r.text


async def test_an_unsend_rewrites_the_logs_copies(api: Api, core: Core) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    since = await start(alice, bob)
    cid = await alice.direct(bob)
    secret = await alice.send(cid, "first secret words")
    await edit(alice, cid, secret["id"], "edited secret words")
    reply = await bob.send(cid, "answering it", reply_to=secret["id"])
    assert reply["reply_to"]["text"] == "edited secret words"
    stays = await alice.send(cid, "words that stay")
    assert "secret words" in await synced_text(bob, since)
    r = await alice.post(f"{C}/{cid}/messages/{secret['id']}/unsend")
    assert r.status_code == 200, r.text
    for user in (alice, bob):
        synced = await synced_text(user, since)
        assert "secret words" not in synced
        assert "answering it" in synced and stays["text"] in synced
    assert "secret words" not in await stored_text(core)
    # the tombstone is what the log now says the message was
    created = [
        e["data"]["message"]
        for e in (await bob.sync(since["bob"]))["events"]
        if e["type"] == "message.created" and e["data"]["message"]["id"] == secret["id"]
    ]
    assert [(m["text"], m["unsent"]) for m in created] == [(None, True)]


async def test_a_moderators_removal_rewrites_the_logs_copies(api: Api, core: Core) -> None:
    admin, alice, bob, carol = await people(api)
    since = await start(alice, bob, carol)
    gid = await bob.group(alice, carol, title="g")
    nasty = await bob.send(gid, "buy followers at scam.example")
    await carol.send(gid, "what?", reply_to=nasty["id"])
    assert "buy followers" in await synced_text(carol, since)
    filed = await report_message(alice, gid, nasty["id"], reason="spam")
    await act(admin, filed["id"], "remove_message", note="scam link")
    for user in (alice, bob, carol):
        assert "buy followers" not in await synced_text(user, since)
    assert "buy followers" not in await stored_text(core)


async def test_an_expiry_rewrites_the_logs_copies(api: Api, core: Core, clock: Clock) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    since = await start(alice, bob)
    cid = await alice.direct(bob)
    r = await set_timer(alice, cid, 60)
    assert r.status_code == 200, r.text
    secret = await alice.send(cid, "gone in a minute")
    await edit(alice, cid, secret["id"], "gone in a minute, edited")
    await bob.send(cid, "quoting", reply_to=secret["id"])
    assert "gone in a minute" in await synced_text(bob, since)
    clock.advance(61)
    assert await run(core) == 1
    for user in (alice, bob):
        assert "gone in a minute" not in await synced_text(user, since)
    assert "gone in a minute" not in await stored_text(core)


async def test_the_search_index_keeps_nothing_of_an_erased_message(
    api: Api, core: Core, clock: Clock
) -> None:
    """FTS5 deletes an entry with a marker and keeps the words in the older segment until it
    is merged: the compaction queued by the erasure merges it away."""
    if not core.store.is_sqlite:
        pytest.skip("PostgreSQL's GIN index has no segments of its own")
    alice, bob = await api.register("alice"), await api.register("bob")
    cid = await alice.direct(bob)
    for n in range(30):  # an index of several segments, as a real one has
        await bob.send(cid, f"ordinary words number {n}")
    secret = await alice.send(cid, "the code is qqxjwvzk")
    r = await alice.post(f"{C}/{cid}/messages/{secret['id']}/unsend")
    assert r.status_code == 200, r.text

    async def index_bytes() -> bytes:
        def read(t: Any) -> bytes:
            rows = t.conn.execute(text("SELECT block FROM messages_fts_data")).scalars()
            content = t.conn.execute(text("SELECT c0 FROM messages_fts_content")).scalars()
            return b"".join(bytes(b) for b in rows if b) + str(list(content)).encode()

        return await core.store.read("index_bytes", read)

    (job,) = await core.store.read(
        "t",
        lambda t: [
            j
            for j in job_db.list_jobs(t.conn, state=None, limit=20)
            if j["kind"] == "search.compact"
        ],
    )
    assert job["run_at"] == int(clock.now * 1000) + 10 * 60_000  # the clock stood still
    clock.advance(10 * 60 + 1)
    await run(core)
    assert b"qqxjwvzk" not in await index_bytes()
    # and the index still answers
    r = await bob.get("/api/v1/search/messages", params={"q": "ordinary"})
    assert r.status_code == 200 and len(r.json()["items"]) >= 20, r.text
