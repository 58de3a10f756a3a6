"""Accounts through the API: registration, login, sessions (devices), profile, deactivation."""

from __future__ import annotations

import hashlib
import itertools
import re
from typing import Any

import pytest
from sqlalchemy import select

from backchannel.store.tables import sessions
from tests.conftest import PASSWORD, Api, User

ID_RE = re.compile(r"(?P<prefix>[a-z])_(?P<random>[A-Za-z0-9_-]{22})")


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


async def register_raw(api: Api, handle: str, password: str = PASSWORD, **extra: Any) -> Any:
    return await api.http.post(
        "/api/v1/accounts", json={"handle": handle, "password": password, **extra}
    )


async def login_raw(api: Api, handle: str, password: str = PASSWORD, **extra: Any) -> Any:
    return await api.http.post(
        "/api/v1/sessions", json={"handle": handle, "password": password, **extra}
    )


async def login(api: Api, handle: str, password: str = PASSWORD, device: str = "phone") -> User:
    r = await login_raw(api, handle, password, device_name=device)
    assert r.status_code == 201, r.text
    return User(api.http, r.json()["token"], r.json()["user"])


async def me_status(api: Api, token: str) -> int:
    r = await api.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    if r.status_code == 401:
        assert error_code(r) == "unauthenticated"
    return r.status_code


# --- registration -----------------------------------------------------------------


async def test_register_returns_profile_and_a_working_token(api: Api) -> None:
    r = await register_raw(api, "alice", display_name="Alice A.")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"user", "token"}
    user = body["user"]
    assert user["handle"] == "alice"
    assert user["display_name"] == "Alice A."
    assert user["deleted"] is False
    assert user["bio"] == ""
    assert body["token"]

    me = await api.http.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]
    assert me.json()["handle"] == "alice"


async def test_display_name_defaults_to_the_handle(api: Api) -> None:
    user = await api.register("bob_99")
    assert user.profile["display_name"] == "bob_99"


@pytest.mark.parametrize("handle", ["abc", "a.b", "user_1.x", "x" * 30, "123"])
async def test_valid_handles_are_accepted(api: Api, handle: str) -> None:
    r = await register_raw(api, handle)
    assert r.status_code == 201, r.text
    assert r.json()["user"]["handle"] == handle


@pytest.mark.parametrize(
    "handle",
    [
        "",
        "ab",
        "x" * 31,
        "al ice",
        "al-ice",
        "alice!",
        "al@ce",
        "\u00e1lice",
        "ali\u0441e",
        "a\x00bc",
    ],
)
async def test_invalid_handles_are_refused(api: Api, handle: str) -> None:
    r = await register_raw(api, handle)
    assert r.status_code == 422, r.text
    assert error_code(r) == "invalid_handle"


async def test_handles_are_stored_lower_case_and_unique_case_insensitively(api: Api) -> None:
    r = await register_raw(api, "Alice")
    assert r.status_code == 201
    assert r.json()["user"]["handle"] == "alice"

    for variant in ("alice", "ALICE", "aLiCe"):
        again = await register_raw(api, variant)
        assert again.status_code == 409, again.text
        assert error_code(again) == "handle_taken"

    # The original account is untouched and reachable by any case.
    other = await api.register("someone")
    profile = await other.get("/api/v1/users/ALICE")
    assert profile.status_code == 200
    assert profile.json()["id"] == r.json()["user"]["id"]


@pytest.mark.parametrize(
    ("handle", "password"),
    [
        ("carol", "short1"),  # too short
        ("carol", "Abc123!"),  # 7 characters
        ("carol", "password123"),  # common
        ("carol", "PASSWORD123"),  # common, any case
        ("carol", "qwertyuiop"),  # common
        ("carol", "aaaaaaaaaaaa"),  # one character repeated
        ("carol", "carol-is-great"),  # contains the handle
        ("carol", "my CAROL secret"),  # contains the handle, any case
    ],
)
async def test_weak_passwords_are_refused(api: Api, handle: str, password: str) -> None:
    r = await register_raw(api, handle, password)
    assert r.status_code == 422, r.text
    assert error_code(r) == "weak_password"
    # nothing was written: the handle is still free
    assert (await register_raw(api, handle)).status_code == 201


async def test_minimum_length_password_is_accepted(api: Api) -> None:
    r = await register_raw(api, "dave", "x7#kq9Lm")
    assert r.status_code == 201, r.text


# --- login --------------------------------------------------------------------------


async def test_login_opens_a_new_session(api: Api) -> None:
    alice = await api.register("alice")
    r = await login_raw(api, "alice", device_name="laptop")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["user"]["id"] == alice.id
    assert body["token"] != alice.token
    assert await me_status(api, body["token"]) == 200
    assert await me_status(api, alice.token) == 200


async def test_login_handle_is_case_insensitive(api: Api) -> None:
    alice = await api.register("alice")
    r = await login_raw(api, "  ALICE ")
    assert r.status_code == 201, r.text
    assert r.json()["user"]["id"] == alice.id


async def test_wrong_password_and_unknown_handle_look_the_same(api: Api) -> None:
    await api.register("alice")
    wrong = await login_raw(api, "alice", "not the password")
    unknown = await login_raw(api, "nobody_here", PASSWORD)
    invalid = await login_raw(api, "!!", PASSWORD)
    for r in (wrong, unknown, invalid):
        assert r.status_code == 401, r.text
        assert error_code(r) == "invalid_credentials"
    assert wrong.json() == unknown.json() == invalid.json()


async def test_tokens_are_stored_only_as_hashes(api: Api) -> None:
    alice = await api.register("alice")
    second = await login(api, "alice")
    bob = await api.register("bob")
    tokens = [alice.token, second.token, bob.token]

    rows = await api.core.store.read(
        "test_sessions",
        lambda t: [dict(row) for row in t.conn.execute(select(sessions)).mappings()],
    )
    assert len(rows) == 3
    stored = {row["token_hash"] for row in rows}
    assert stored == {hashlib.sha256(token.encode()).hexdigest() for token in tokens}
    for row in rows:
        for value in row.values():
            for token in tokens:
                assert token not in str(value)


# --- sessions -----------------------------------------------------------------------


async def test_logout_revokes_only_this_device(api: Api) -> None:
    alice = await api.register("alice")
    phone = await login(api, "alice", device="phone")

    r = await phone.delete("/api/v1/sessions/current")
    assert r.status_code == 204
    assert r.content == b""
    assert await me_status(api, phone.token) == 401
    assert await me_status(api, alice.token) == 200

    # logging out again with the dead token is refused, not an error
    again = await phone.delete("/api/v1/sessions/current")
    assert again.status_code == 401
    assert error_code(again) == "unauthenticated"


async def test_session_list_marks_the_current_device(api: Api) -> None:
    await api.register("alice", device_name="desktop")
    phone = await login(api, "alice", device="phone")
    laptop = await login(api, "alice", device="laptop")
    await api.register("bob", device_name="bobs phone")  # someone else's session

    for me, device in ((phone, "phone"), (laptop, "laptop")):
        r = await me.get("/api/v1/sessions")
        assert r.status_code == 200
        items = r.json()["items"]
        assert sorted(item["device_name"] for item in items) == ["desktop", "laptop", "phone"]
        current = [item for item in items if item["current"]]
        assert len(current) == 1
        assert current[0]["device_name"] == device
        for item in items:
            assert ID_RE.fullmatch(item["id"]) and item["id"].startswith("s_")
            assert item["created_at"] and item["last_used_at"]


async def test_revoke_one_device_by_id(api: Api) -> None:
    alice = await api.register("alice", device_name="desktop")
    laptop = await login(api, "alice", device="laptop")
    items = (await alice.get("/api/v1/sessions")).json()["items"]
    laptop_id = next(item["id"] for item in items if item["device_name"] == "laptop")

    r = await alice.delete(f"/api/v1/sessions/{laptop_id}")
    assert r.status_code == 204
    assert await me_status(api, laptop.token) == 401
    assert await me_status(api, alice.token) == 200
    remaining = (await alice.get("/api/v1/sessions")).json()["items"]
    assert [item["device_name"] for item in remaining] == ["desktop"]

    again = await alice.delete(f"/api/v1/sessions/{laptop_id}")
    assert again.status_code == 404
    assert error_code(again) == "session_not_found"


async def test_cannot_revoke_someone_elses_session(api: Api) -> None:
    alice = await api.register("alice")
    bob = await api.register("bob")
    bob_session = (await bob.get("/api/v1/sessions")).json()["items"][0]["id"]

    r = await alice.delete(f"/api/v1/sessions/{bob_session}")
    assert r.status_code == 404
    assert error_code(r) == "session_not_found"
    assert await me_status(api, bob.token) == 200

    unknown = await alice.delete("/api/v1/sessions/s_doesnotexist")
    assert unknown.status_code == 404
    assert error_code(unknown) == "session_not_found"


async def test_password_change_revokes_other_sessions_but_keeps_this_one(api: Api) -> None:
    alice = await api.register("alice")
    phone = await login(api, "alice", device="phone")
    laptop = await login(api, "alice", device="laptop")
    bob = await api.register("bob")

    r = await phone.put(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new secret"},
    )
    assert r.status_code == 204, r.text
    assert await me_status(api, phone.token) == 200
    assert await me_status(api, alice.token) == 401
    assert await me_status(api, laptop.token) == 401
    assert await me_status(api, bob.token) == 200  # other people are not affected
    items = (await phone.get("/api/v1/sessions")).json()["items"]
    assert [(item["device_name"], item["current"]) for item in items] == [("phone", True)]

    assert (await login_raw(api, "alice", PASSWORD)).status_code == 401
    assert (await login_raw(api, "alice", "a brand new secret")).status_code == 201


async def test_password_change_needs_the_current_password(api: Api) -> None:
    alice = await api.register("alice")
    other = await login(api, "alice")
    r = await alice.put(
        "/api/v1/me/password",
        json={"current_password": "wrong password", "new_password": "a brand new secret"},
    )
    assert r.status_code == 403
    assert error_code(r) == "wrong_password"
    assert await me_status(api, other.token) == 200
    assert (await login_raw(api, "alice", PASSWORD)).status_code == 201


async def test_password_change_refuses_a_weak_new_password(api: Api) -> None:
    alice = await api.register("alice")
    other = await login(api, "alice")
    for weak in ("short", "password123", "alice alice"):
        r = await alice.put(
            "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": weak}
        )
        assert r.status_code == 422, weak
        assert error_code(r) == "weak_password"
    assert await me_status(api, other.token) == 200
    assert (await login_raw(api, "alice", PASSWORD)).status_code == 201


# --- profile ------------------------------------------------------------------------


async def test_get_and_update_my_profile(api: Api) -> None:
    alice = await api.register("alice")
    bob = await api.register("bob")
    me = (await alice.get("/api/v1/me")).json()
    assert me["handle"] == "alice"
    assert me["display_name"] == "alice"
    assert me["bio"] == ""
    assert me["followers_count"] == 0
    assert me["following_count"] == 0

    r = await alice.patch(
        "/api/v1/me", json={"display_name": "  Alice \u00c5berg ", "bio": "Hi! <b>not bold</b>"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Alice \u00c5berg"  # trimmed
    assert r.json()["bio"] == "Hi! <b>not bold</b>"

    # a partial update keeps the other field
    r = await alice.patch("/api/v1/me", json={"bio": ""})
    assert r.status_code == 200
    assert r.json()["display_name"] == "Alice \u00c5berg"
    assert r.json()["bio"] == ""

    seen = (await bob.get("/api/v1/users/alice")).json()
    assert seen["display_name"] == "Alice \u00c5berg"
    assert seen["handle"] == "alice"
    assert (await alice.get("/api/v1/me")).json()["display_name"] == "Alice \u00c5berg"


@pytest.mark.parametrize(
    "body",
    [
        {"display_name": ""},
        {"display_name": "   "},
        {"display_name": "x" * 65},
        {"display_name": "bad\x00name"},
        {"display_name": "bell\x07"},
        {"bio": "x" * 301},
        {"bio": "esc\x1b[31m"},
        {"handle": "newhandle"},  # not a profile field
        {"display_name": 5},
    ],
)
async def test_profile_validation(api: Api, body: dict[str, Any]) -> None:
    alice = await api.register("alice")
    r = await alice.patch("/api/v1/me", json=body)
    assert r.status_code == 400, r.text
    assert error_code(r) == "invalid_request"
    me = (await alice.get("/api/v1/me")).json()
    assert (me["handle"], me["display_name"], me["bio"]) == ("alice", "alice", "")


async def test_profile_limits_are_inclusive(api: Api) -> None:
    alice = await api.register("alice")
    r = await alice.patch("/api/v1/me", json={"display_name": "n" * 64, "bio": "b\n" * 150})
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "n" * 64


async def test_unknown_user_profile_is_404(api: Api) -> None:
    alice = await api.register("alice")
    for handle in ("nobody_at_all", "x", "bad%20handle"):
        r = await alice.get(f"/api/v1/users/{handle}")
        assert r.status_code == 404, handle
        assert error_code(r) == "user_not_found"


# --- deactivation -------------------------------------------------------------------


async def test_deactivation_needs_the_password(api: Api) -> None:
    alice = await api.register("alice")
    r = await alice.post("/api/v1/me/deactivate", json={"password": "not it at all"})
    assert r.status_code == 403
    assert error_code(r) == "wrong_password"
    assert await me_status(api, alice.token) == 200


async def test_deactivation_erases_the_profile_but_keeps_messages(api: Api) -> None:
    alice = await api.register("alice", display_name="Alice")
    phone = await login(api, "alice")
    bob = await api.register("bob")
    carol = await api.register("carol")
    await alice.patch("/api/v1/me", json={"bio": "my bio"})
    await bob.put("/api/v1/users/alice/follow")
    conversation = await alice.direct(bob)
    group = await alice.group(bob, carol)
    sent = await alice.send(conversation, "remember me")
    reply = await bob.send(conversation, "I will", reply_to=sent["id"])
    await alice.send(group, "group hello")

    r = await alice.post("/api/v1/me/deactivate", json={"password": PASSWORD})
    assert r.status_code == 204, r.text

    # every device is logged out, the password no longer works
    assert await me_status(api, alice.token) == 401
    assert await me_status(api, phone.token) == 401
    assert (await login_raw(api, "alice", PASSWORD)).status_code == 401

    # the profile is gone
    profile = await bob.get("/api/v1/users/alice")
    assert profile.status_code == 404
    assert error_code(profile) == "user_not_found"
    assert (await bob.get("/api/v1/me")).json()["following_count"] == 0

    # the messages remain, from a deleted user
    history = (await bob.get(f"/api/v1/conversations/{conversation}/messages")).json()["items"]
    assert [m["text"] for m in history] == ["remember me", "I will"]
    sender = history[0]["sender"]
    assert sender["display_name"] == "Deleted user"
    assert sender["handle"] is None
    assert sender["id"] == alice.id
    quoted = history[1]["reply_to"]
    assert quoted["id"] == sent["id"]
    assert quoted["text"] == "remember me"
    assert quoted["sender_handle"] is None
    assert reply["id"] == history[1]["id"]

    # the direct conversation shows a deleted member; groups were left
    direct = (await bob.get(f"/api/v1/conversations/{conversation}")).json()
    gone = next(m for m in direct["members"] if m["id"] == alice.id)
    assert gone["deleted"] is True
    assert gone["handle"] is None
    assert gone["display_name"] == "Deleted user"
    group_view = (await carol.get(f"/api/v1/conversations/{group}")).json()
    assert alice.id not in {m["id"] for m in group_view["members"]}
    group_history = (await carol.get(f"/api/v1/conversations/{group}/messages")).json()
    assert group_history["items"][0]["text"] == "group hello"
    assert group_history["items"][0]["sender"]["display_name"] == "Deleted user"


async def test_deactivated_handle_can_be_registered_again(api: Api) -> None:
    alice = await api.register("alice")
    bob = await api.register("bob")
    conversation = await alice.direct(bob)
    await alice.send(conversation, "from the first alice")
    assert (
        await alice.post("/api/v1/me/deactivate", json={"password": PASSWORD})
    ).status_code == 204

    r = await register_raw(api, "Alice", "another good secret")
    assert r.status_code == 201, r.text
    new_alice = r.json()["user"]
    assert new_alice["handle"] == "alice"
    assert new_alice["id"] != alice.id

    # the new account is not the old one: no access to the old conversation
    newcomer = User(api.http, r.json()["token"], new_alice)
    assert (await newcomer.get(f"/api/v1/conversations/{conversation}")).status_code == 404
    assert (await bob.get("/api/v1/users/alice")).json()["id"] == new_alice["id"]
    old = (await bob.get(f"/api/v1/conversations/{conversation}/messages")).json()["items"][0]
    assert old["sender"]["handle"] is None
    assert old["sender"]["display_name"] == "Deleted user"


# --- ids ----------------------------------------------------------------------------


async def test_public_ids_are_opaque_and_random(api: Api) -> None:
    users = await api.users(6)
    a, b = users[0], users[1]
    conversation = await a.direct(b)
    message = await a.send(conversation, "hi")
    sessions_list = (await a.get("/api/v1/sessions")).json()["items"]

    ids = [u.id for u in users]
    for value, prefix in [
        *((i, "u") for i in ids),
        (conversation, "c"),
        (message["id"], "m"),
        (sessions_list[0]["id"], "s"),
    ]:
        match = ID_RE.fullmatch(value)
        assert match, value
        assert match["prefix"] == prefix
    assert len(set(ids)) == len(ids)

    # consecutive registrations share no long prefix and are not ordered
    randoms = [i.split("_", 1)[1] for i in ids]
    for x, y in itertools.pairwise(randoms):
        common = next((i for i, (cx, cy) in enumerate(zip(x, y, strict=True)) if cx != cy), 22)
        assert common < 6, (x, y)
    # no integer ids leak
    assert not any(i.isdigit() for i in ids)
