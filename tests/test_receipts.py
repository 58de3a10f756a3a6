"""Read receipts: shared between members who both have them on (reciprocal)."""

from __future__ import annotations

from tests.conftest import Api, User

CONVERSATIONS = "/api/v1/conversations"


async def read(user: User, cid: str, mid: str) -> None:
    r = await user.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": mid})
    assert r.status_code == 200, r.text


async def seen_by(user: User, cid: str) -> dict[str, int]:
    r = await user.get(f"{CONVERSATIONS}/{cid}")
    assert r.status_code == 200, r.text
    return dict(r.json()["read_positions"])


async def receipts(user: User, since: str) -> list[dict[str, object]]:
    """Other people's receipts the user received (their own reads come back too)."""
    events = (await user.sync(since))["events"]
    return [
        e["data"]
        for e in events
        if e["type"] == "receipt.updated" and e["data"]["user"] != user.handle
    ]


async def test_settings_default_on_and_can_be_changed(api: Api) -> None:
    alice = await api.register()
    assert (await alice.get("/api/v1/me/settings")).json()["read_receipts"] is True
    r = await alice.patch("/api/v1/me/settings", json={"read_receipts": False})
    assert r.status_code == 200 and r.json()["read_receipts"] is False
    assert (await alice.get("/api/v1/me/settings")).json()["read_receipts"] is False
    r = await alice.patch("/api/v1/me/settings", json={"read_receipts": "sometimes"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"


async def test_seen_in_a_direct_conversation(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    message = await alice.send(cid, "did you see this?")
    assert await seen_by(alice, cid) == {}
    token = (await alice.sync())["next"]
    await read(bob, cid, message["id"])
    assert await seen_by(alice, cid) == {bob.handle: message["position"]}
    [receipt] = await receipts(alice, token)
    assert receipt == {
        "conversation_id": cid,
        "user": bob.handle,
        "read_position": message["position"],
        "message_id": message["id"],
    }


async def test_turning_receipts_off_hides_them_both_ways(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    to_bob = await alice.send(cid, "one")
    to_alice = await bob.send(cid, "two")
    r = await bob.patch("/api/v1/me/settings", json={"read_receipts": False})
    assert r.status_code == 200
    alice_token, bob_token = (await alice.sync())["next"], (await bob.sync())["next"]

    await read(bob, cid, to_bob["id"])  # bob reads: alice is not told
    await read(alice, cid, to_alice["id"])  # alice reads: bob, who shares none, sees none
    assert await seen_by(alice, cid) == {}
    assert await seen_by(bob, cid) == {}
    assert await receipts(alice, alice_token) == []
    assert await receipts(bob, bob_token) == []
    # his own devices still learn his read marker moved
    assert [e["type"] for e in (await bob.sync(bob_token))["events"]] == ["read.updated"]

    r = await bob.patch("/api/v1/me/settings", json={"read_receipts": True})
    assert r.status_code == 200
    assert await seen_by(bob, cid) == {alice.handle: to_alice["position"]}
