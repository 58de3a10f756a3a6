"""The newcomer's path: register two accounts and exchange DMs."""

from __future__ import annotations

from tests.conftest import Api


async def test_two_people_exchange_direct_messages(api: Api) -> None:
    alice = await api.register("alice")
    bob = await api.register("bob")
    conversation = await alice.direct(bob)
    assert await bob.direct(alice) == conversation  # one per pair

    sent = await alice.send(conversation, "hi bob", txn_id="t1")
    reply = await bob.send(conversation, "hi alice", reply_to=sent["id"])
    assert reply["reply_to"]["id"] == sent["id"]

    history = (await bob.get(f"/api/v1/conversations/{conversation}/messages")).json()
    assert [m["text"] for m in history["items"]] == ["hi bob", "hi alice"]

    inbox = (await bob.get("/api/v1/conversations")).json()
    assert inbox["items"][0]["id"] == conversation
    assert inbox["items"][0]["unread_count"] == 1
    assert inbox["items"][0]["last_message"]["text"] == "hi alice"
