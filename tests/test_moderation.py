"""Reports and moderation through the API: filing reports, the queue, each action, the
audit log, suspension, and that the person reported learns nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import select

from backchannel.client import Client
from backchannel.domain.ids import new_id
from backchannel.services import moderation
from backchannel.store.database import WriteTxn
from backchannel.store.tables import messages, reports, users
from tests.conftest import PASSWORD, Api, User
from tests.servers import Servers
from tests.test_gateway import open_stream

REPORTS = "/api/v1/reports"
MOD = "/api/v1/moderation"
CONVERSATIONS = "/api/v1/conversations"


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def report(reporter: User, expect: int = 201, **body: Any) -> dict[str, Any]:
    body.setdefault("reason", "harassment")
    r = await reporter.post(REPORTS, json=body)
    assert r.status_code == expect, r.text
    return dict(r.json())


async def report_message(user: User, cid: str, mid: str, **extra: Any) -> dict[str, Any]:
    return await report(user, kind="message", conversation_id=cid, message_id=mid, **extra)


async def show(admin: User, report_id: str) -> dict[str, Any]:
    r = await admin.get(f"{MOD}/reports/{report_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def act(admin: User, report_id: str, action: str, expect: int = 200, **body: Any) -> Any:
    r = await admin.post(f"{MOD}/reports/{report_id}/actions", json={"action": action, **body})
    assert r.status_code == expect, r.text
    return r.json()


async def act_on_user(admin: User, handle: str, action: str, expect: int = 200, **body: Any) -> Any:
    r = await admin.post(f"{MOD}/users/{handle}/actions", json={"action": action, **body})
    assert r.status_code == expect, r.text
    return r.json()


async def log(admin: User, **params: Any) -> list[dict[str, Any]]:
    r = await admin.get(f"{MOD}/log", params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def login_raw(api: Api, handle: str, password: str = PASSWORD) -> httpx.Response:
    return await api.http.post("/api/v1/sessions", json={"handle": handle, "password": password})


async def history(user: User, cid: str) -> list[dict[str, Any]]:
    r = await user.get(f"{CONVERSATIONS}/{cid}/messages")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def events_since(user: User, token: str) -> list[dict[str, Any]]:
    return list((await user.sync(token))["events"])


async def people(api: Api) -> tuple[User, User, User, User]:
    """The moderator (the first account), and alice, bob and carol."""
    admin = await api.register("mod")
    return (
        admin,
        await api.register("alice"),
        await api.register("bob"),
        await api.register("carol"),
    )


# --- who moderates --------------------------------------------------------------------


async def test_the_first_account_is_a_moderator_and_later_ones_are_not(api: Api) -> None:
    admin, alice, _bob, _carol = await people(api)
    assert (await admin.get(f"{MOD}/reports")).status_code == 200
    r = await alice.get(f"{MOD}/reports")
    assert r.status_code == 403 and code(r) == "not_moderator"

    def roles(t: Any) -> dict[str, str]:
        return dict(t.conn.execute(select(users.c.handle, users.c.role)).all())

    assert await api.core.store.read("roles", roles) == {
        "mod": "admin",
        "alice": "user",
        "bob": "user",
        "carol": "user",
    }


# --- reporting ------------------------------------------------------------------------


async def test_report_a_message_a_conversation_and_a_user(api: Api) -> None:
    admin, alice, bob, _carol = await people(api)
    cid = await alice.direct(bob)
    mid = (await bob.send(cid, "pay me or else"))["id"]

    first = await report_message(alice, cid, mid, comment="a threat")
    assert first["status"] == "open" and first["id"].startswith("r_")
    conversation = await report(alice, kind="conversation", conversation_id=cid, reason="spam")
    person = await report(alice, kind="user", user="Bob", reason="scam")
    assert len({first["id"], conversation["id"], person["id"]}) == 3

    # the same report again while open: the same one, 200 (another reason changes nothing)
    again = await report_message(alice, cid, mid, expect=200, reason="spam")
    assert again == first

    queue = (await admin.get(f"{MOD}/reports")).json()["items"]
    assert [item["id"] for item in queue] == [first["id"], conversation["id"], person["id"]]
    assert [item["kind"] for item in queue] == ["message", "conversation", "user"]
    item = queue[0]
    assert item["source"] == "report" and item["reason"] == "harassment"
    assert item["comment"] == "a threat" and item["reporter"] == "alice"
    assert item["conversation_id"] == cid and item["message_id"] == mid
    assert item["preview"] == "pay me or else"
    assert item["target"]["handle"] == "bob"
    assert item["target"]["reports_received"] == 3
    assert item["target"]["suspended"] is False and item["target"]["warnings"] == 0

    detail = await show(admin, person["id"])
    assert detail["evidence"]["user"]["handle"] == "bob"
    assert [m["text"] for m in detail["evidence"]["messages"]] == ["pay me or else"]
    detail = await show(admin, conversation["id"])
    members = {m["handle"] for m in detail["evidence"]["conversation"]["members"]}
    assert members == {"alice", "bob"}
    assert [m["text"] for m in detail["evidence"]["messages"]] == ["pay me or else"]
    assert detail["log"] == []


async def test_a_group_report_names_nobody_in_particular(api: Api) -> None:
    admin, alice, bob, carol = await people(api)
    gid = await bob.group(alice, carol, title="deals")
    filed = await report(alice, kind="conversation", conversation_id=gid, reason="scam")
    detail = await show(admin, filed["id"])
    assert detail["target"] is None
    assert detail["evidence"]["conversation"]["title"] == "deals"
    # user actions need one person; dismissing works
    r = await admin.post(f"{MOD}/reports/{filed['id']}/actions", json={"action": "warn"})
    assert r.status_code == 422 and code(r) == "invalid_action"
    r = await admin.post(f"{MOD}/reports/{filed['id']}/actions", json={"action": "remove_message"})
    assert r.status_code == 422 and code(r) == "invalid_action"
    assert (await act(admin, filed["id"], "dismiss"))["resolution"] == "dismissed"


async def test_what_you_cannot_read_you_cannot_report(api: Api) -> None:
    _admin, alice, bob, carol = await people(api)
    cid = await alice.direct(bob)
    mid = (await bob.send(cid, "private"))["id"]
    own = await carol.direct(alice)

    for body in (
        {"kind": "conversation", "conversation_id": cid},
        {"kind": "message", "conversation_id": cid, "message_id": mid},
    ):
        forbidden = await carol.post(REPORTS, json={**body, "reason": "spam"})
        missing = await carol.post(
            REPORTS, json={**body, "conversation_id": new_id("c"), "reason": "spam"}
        )
        assert forbidden.status_code == missing.status_code == 404
        assert forbidden.json() == missing.json()
        assert code(forbidden) == "conversation_not_found"
    # a message of another conversation is as missing as a random id
    wrong = await carol.post(
        REPORTS,
        json={"kind": "message", "conversation_id": own, "message_id": mid, "reason": "spam"},
    )
    random = await carol.post(
        REPORTS,
        json={
            "kind": "message",
            "conversation_id": own,
            "message_id": new_id("m"),
            "reason": "spam",
        },
    )
    assert wrong.status_code == random.status_code == 404
    assert wrong.json() == random.json() and code(wrong) == "message_not_found"
    # and nothing was filed
    filed = await api.core.store.read("reports", lambda t: t.conn.execute(select(reports)).all())
    assert filed == []


async def test_bad_reports_are_refused(api: Api) -> None:
    _admin, alice, bob, _carol = await people(api)
    cid = await alice.direct(bob)
    mine = (await alice.send(cid, "my own"))["id"]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"kind": "user", "user": "alice"}, 422, "cannot_report_self"),
        (
            {"kind": "message", "conversation_id": cid, "message_id": mine},
            422,
            "cannot_report_self",
        ),
        ({"kind": "user", "user": "bob", "reason": "rude"}, 422, "invalid_report"),
        ({"kind": "user"}, 422, "invalid_report"),
        ({"kind": "message", "conversation_id": cid}, 422, "invalid_report"),
        ({"kind": "user", "user": "bob", "conversation_id": cid}, 422, "invalid_report"),
        ({"kind": "user", "user": "nobody_here"}, 404, "user_not_found"),
        ({"kind": "user", "user": "No Such Handle!"}, 404, "user_not_found"),
        ({"kind": "person", "user": "bob"}, 400, "invalid_request"),
        ({"kind": "user", "user": "bob", "comment": "x" * 1001}, 400, "invalid_request"),
    ]
    for body, status, expected in cases:
        r = await alice.post(REPORTS, json={"reason": "spam", **body})
        assert (r.status_code, code(r)) == (status, expected), (body, r.text)


async def test_evidence_survives_an_unsend(api: Api) -> None:
    admin, alice, bob, _carol = await people(api)
    cid = await alice.direct(bob)
    for i in range(12):
        await bob.send(cid, f"before {i}")
    nasty = await bob.send(cid, "the nasty one")
    after = [await alice.send(cid, f"after {i}") for i in range(6)]
    filed = await report_message(alice, cid, nasty["id"])
    r = await bob.post(f"{CONVERSATIONS}/{cid}/messages/{nasty['id']}/unsend")
    assert r.status_code == 200, r.text
    # the sender's edit window and unsend change nothing in the report
    evidence = (await show(admin, filed["id"]))["evidence"]
    assert evidence["kind"] == "message"
    assert evidence["message"]["text"] == "the nasty one"
    assert evidence["message"]["sender"] == {"id": bob.id, "handle": "bob"}
    assert evidence["message"]["unsent"] is False
    assert [m["text"] for m in evidence["before"]] == [f"before {i}" for i in range(2, 12)]
    assert [m["id"] for m in evidence["after"]] == [m["id"] for m in after[:5]]
    queue = (await admin.get(f"{MOD}/reports")).json()["items"]
    assert queue[0]["preview"] == "the nasty one"


async def test_the_reported_person_learns_nothing(api: Api) -> None:
    admin, alice, bob, _carol = await people(api)
    cid = await alice.direct(bob)
    mid = (await bob.send(cid, "hi"))["id"]
    token = (await bob.sync())["next"]
    inbox = (await bob.get(CONVERSATIONS)).json()
    me = (await bob.get("/api/v1/me")).json()
    await report_message(alice, cid, mid)
    await report(alice, kind="user", user="bob")
    await report(alice, kind="conversation", conversation_id=cid)
    assert await events_since(bob, token) == []
    assert await events_since(alice, token) == []
    assert (await bob.get(CONVERSATIONS)).json() == inbox
    assert (await bob.get("/api/v1/me")).json() == me
    assert (await alice.get(CONVERSATIONS)).json()["items"][0]["last_message"]["text"] == "hi"
    # nor from a dismissal
    (first,) = (await admin.get(f"{MOD}/reports", params={"limit": 1})).json()["items"]
    await act(admin, first["id"], "dismiss")
    assert await events_since(bob, token) == []


# --- the queue --------------------------------------------------------------------------


async def flag(api: Api, sender: User, cid: str, mid: str) -> str:
    """A filter's flag, filed the way the send path files it."""

    def txn(t: WriteTxn) -> str:
        sender_id = t.conn.execute(select(users.c.id).where(users.c.pid == sender.id)).scalar_one()
        message = t.conn.execute(
            select(messages.c.id, messages.c.conversation_id).where(messages.c.pid == mid)
        ).one()
        return moderation.file_flag_in_txn(
            t,
            target_user_id=sender_id,
            conversation_id=message.conversation_id,
            message_id=message.id,
            reason="phishing_link",
            score=87,
            evidence={"signals": ["punycode domain"]},
        )

    return await api.core.store.write("test_flag", txn)


async def test_the_queue_oldest_first_in_pages(api: Api) -> None:
    admin, alice, bob, _carol = await people(api)
    cid = await alice.direct(bob)
    sent = [await bob.send(cid, f"spam {i}") for i in range(5)]
    filed = [(await report_message(alice, cid, m["id"], reason="spam"))["id"] for m in sent[:4]]
    flagged = await flag(api, bob, cid, sent[4]["id"])
    assert flagged == await flag(api, bob, cid, sent[4]["id"])  # idempotent while open
    expected = [*filed, flagged]

    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await admin.get(f"{MOD}/reports", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected

    filters = (await admin.get(f"{MOD}/reports", params={"source": "filter"})).json()["items"]
    assert [item["id"] for item in filters] == [flagged]
    (item,) = filters
    assert item["reporter"] is None and item["score"] == 87 and item["reason"] == "phishing_link"
    assert item["preview"] == "spam 4"
    detail = await show(admin, flagged)
    assert detail["evidence"]["signals"] == ["punycode domain"]
    assert detail["evidence"]["message"]["text"] == "spam 4"
    # flags do not count as reports received
    assert item["target"]["reports_received"] == 4

    await act(admin, filed[1], "dismiss")
    await act(admin, filed[3], "dismiss")
    open_ids = [i["id"] for i in (await admin.get(f"{MOD}/reports")).json()["items"]]
    assert open_ids == [filed[0], filed[2], flagged]
    closed = (await admin.get(f"{MOD}/reports", params={"status": "closed"})).json()["items"]
    assert [i["id"] for i in closed] == [filed[3], filed[1]]  # newest first
    assert all(i["status"] == "closed" and i["resolved_at"] for i in closed)

    for params in ({"cursor": "not a cursor"}, {"status": "pending"}, {"limit": 0}):
        r = await admin.get(f"{MOD}/reports", params=params)
        assert r.status_code == 400, (params, r.text)
    r = await admin.get(f"{MOD}/reports/{new_id('r')}")
    assert r.status_code == 404 and code(r) == "report_not_found"
    r = await admin.get(f"{MOD}/reports/bogus")
    assert r.status_code == 404 and code(r) == "report_not_found"


# --- actions ----------------------------------------------------------------------------


async def test_dismiss(api: Api) -> None:
    admin, alice, _bob, _carol = await people(api)
    filed = await report(alice, kind="user", user="bob")
    view = await act(admin, filed["id"], "dismiss", note="not harassment")
    assert view["status"] == "closed" and view["resolution"] == "dismissed"
    assert [(e["action"], e["actor"], e["note"]) for e in view["log"]] == [
        ("dismiss", "mod", "not harassment")
    ]
    r = await admin.post(f"{MOD}/reports/{filed['id']}/actions", json={"action": "dismiss"})
    assert r.status_code == 409 and code(r) == "report_closed"
    r = await admin.post(f"{MOD}/reports/{new_id('r')}/actions", json={"action": "dismiss"})
    assert r.status_code == 404 and code(r) == "report_not_found"
    # once closed, the same person may report again: a new report
    again = await report(alice, kind="user", user="bob")
    assert again["id"] != filed["id"]
    assert len(await log(admin)) == 1


async def test_remove_message(api: Api) -> None:
    admin, alice, bob, carol = await people(api)
    gid = await bob.group(alice, carol, title="g")
    nasty = await bob.send(gid, "buy followers at scam.example")
    reply = await carol.send(gid, "what?", reply_to=nasty["id"])
    assert reply["reply_to"]["text"] == "buy followers at scam.example"
    await bob.put(f"{CONVERSATIONS}/{gid}/messages/{nasty['id']}/reactions", json={"emoji": "👍"})
    filed = await report_message(alice, gid, nasty["id"], reason="spam")
    tokens = {u.handle: (await u.sync())["next"] for u in (alice, bob, carol)}

    view = await act(admin, filed["id"], "remove_message", note="scam link")
    assert view["resolution"] == "message_removed"
    assert view["evidence"]["message"]["text"] == "buy followers at scam.example"
    for user in (alice, bob, carol):
        items = {m["id"]: m for m in await history(user, gid)}
        assert items[nasty["id"]]["text"] is None and items[nasty["id"]]["unsent"] is True
        assert items[nasty["id"]]["reactions"] == []
        assert items[reply["id"]]["reply_to"]["text"] is None
        events = await events_since(user, tokens[user.handle])
        assert [(e["type"], e["data"]) for e in events] == [
            ("message.unsent", {"conversation_id": gid, "message_id": nasty["id"]})
        ]
    (entry,) = await log(admin)
    assert entry["action"] == "remove_message" and entry["message_id"] == nasty["id"]
    assert entry["report_id"] == filed["id"] and entry["target"]["handle"] == "bob"
    # the sender can no longer change it
    r = await bob.patch(f"{CONVERSATIONS}/{gid}/messages/{nasty['id']}", json={"text": "x"})
    assert r.status_code == 409 and code(r) == "message_unsent"


async def test_warn(api: Api) -> None:
    admin, alice, bob, _carol = await people(api)
    token = (await bob.sync())["next"]
    alice_token = (await alice.sync())["next"]
    filed = await report(alice, kind="user", user="bob", reason="hate")
    view = await act(admin, filed["id"], "warn", note="first warning")
    assert view["resolution"] == "warned" and view["target"]["warnings"] == 1
    events = await events_since(bob, token)
    assert [(e["type"], e["data"]) for e in events] == [
        ("account.warned", {"reason": "hate", "warnings": 1})
    ]
    assert await events_since(alice, alice_token) == []
    # directly, without a report
    user = await act_on_user(admin, "bob", "warn", reason="spam")
    assert user["warnings"] == 2 and user["handle"] == "bob"
    events = await events_since(bob, token)
    assert events[-1]["data"] == {"reason": "spam", "warnings": 2}
    user = await act_on_user(admin, "bob", "warn")
    assert (await events_since(bob, token))[-1]["data"] == {"reason": None, "warnings": 3}
    r = await admin.post(f"{MOD}/users/bob/actions", json={"action": "warn", "reason": "meh"})
    assert r.status_code == 422 and code(r) == "invalid_report"
    assert [e["action"] for e in await log(admin, user="bob")] == ["warn", "warn", "warn"]


async def test_suspend_and_unsuspend(api: Api) -> None:
    admin, alice, bob, _carol = await people(api)
    cid = await alice.direct(bob)
    await bob.send(cid, "still here")
    filed = await report(alice, kind="user", user="bob", reason="scam")
    assert (await bob.get("/api/v1/me")).status_code == 200  # cached in the auth cache

    view = await act(admin, filed["id"], "suspend", note="scam ring")
    assert view["resolution"] == "suspended" and view["target"]["suspended"] is True
    r = await bob.get("/api/v1/me")
    assert r.status_code == 401 and code(r) == "unauthenticated"
    # the right password says suspended; a wrong one says nothing of it
    r = await login_raw(api, "bob")
    assert r.status_code == 403 and code(r) == "account_suspended"
    r = await login_raw(api, "bob", "wrong password!")
    assert r.status_code == 401 and code(r) == "invalid_credentials"
    # their messages stay
    assert [m["text"] for m in await history(alice, cid)] == ["still here"]

    r = await admin.post(f"{MOD}/users/bob/actions", json={"action": "suspend"})
    assert r.status_code == 422 and code(r) == "invalid_action"  # a note is required
    user = await act_on_user(admin, "bob", "unsuspend", note="appeal granted")
    assert user["suspended"] is False and user["suspended_at"] is None
    r = await login_raw(api, "bob")
    assert r.status_code == 201, r.text

    user = await act_on_user(admin, "bob", "suspend", note="again")
    assert user["suspended"] is True and user["suspended_at"]
    r = await api.http.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert r.status_code == 401
    entries = await log(admin, user="bob")
    assert [(e["action"], e["note"]) for e in entries] == [
        ("suspend", "again"),
        ("unsuspend", "appeal granted"),
        ("suspend", "scam ring"),
    ]
    assert all(e["actor"] == "mod" for e in entries)


async def test_moderators_do_not_judge_themselves(api: Api) -> None:
    admin, alice, _bob, _carol = await people(api)
    about_me = await report(alice, kind="user", user="mod")
    r = await admin.post(f"{MOD}/reports/{about_me['id']}/actions", json={"action": "dismiss"})
    assert r.status_code == 403 and code(r) == "forbidden"
    r = await admin.post(f"{MOD}/users/mod/actions", json={"action": "suspend", "note": "oops"})
    assert r.status_code == 422 and code(r) == "invalid_action"
    r = await admin.post(f"{MOD}/users/nobody_here/actions", json={"action": "warn"})
    assert r.status_code == 404 and code(r) == "user_not_found"
    assert await log(admin) == []


async def test_every_action_leaves_exactly_one_log_entry(api: Api) -> None:
    admin, alice, bob, _carol = await people(api)
    cid = await alice.direct(bob)
    mids = [(await bob.send(cid, f"m{i}"))["id"] for i in range(5)]
    actions = ["dismiss", "remove_message", "warn", "suspend", "unsuspend"]
    for i, action in enumerate(actions):
        filed = await report_message(alice, cid, mids[i])
        view = await act(admin, filed["id"], action, note=f"note {i}")
        assert [(e["action"], e["note"], e["actor"]) for e in view["log"]] == [
            (action, f"note {i}", "mod")
        ]
    entries = await log(admin)
    assert [e["action"] for e in entries] == actions[::-1]  # newest first
    assert [e["message_id"] for e in entries] == mids[::-1]
    page = await admin.get(f"{MOD}/log", params={"limit": 2})
    assert [e["action"] for e in page.json()["items"]] == ["unsuspend", "suspend"]
    rest = await admin.get(f"{MOD}/log", params={"cursor": page.json()["next_cursor"]})
    assert [e["action"] for e in rest.json()["items"]] == ["warn", "remove_message", "dismiss"]
    assert await log(admin, user="carol") == []
    r = await admin.get(f"{MOD}/log", params={"user": "nobody_here"})
    assert r.status_code == 404 and code(r) == "user_not_found"
    # a failing action writes nothing
    filed = await report(alice, kind="conversation", conversation_id=cid)
    await act(admin, filed["id"], "dismiss")
    before = len(await log(admin))
    await act(admin, filed["id"], "warn", expect=409)
    assert len(await log(admin)) == before


# --- inside other transactions ------------------------------------------------------------


async def test_file_report_in_txn_captures_evidence_and_is_idempotent(api: Api) -> None:
    admin, alice, bob, _carol = await people(api)
    cid = await bob.direct(alice)
    await bob.send(cid, "hey, want cheap crypto?")

    def txn(t: WriteTxn) -> tuple[str, str]:
        ids = dict(t.conn.execute(select(users.c.handle, users.c.id)).all())
        conversation_id = t.conn.execute(select(messages.c.conversation_id).limit(1)).scalar_one()
        kwargs: dict[str, Any] = {
            "reporter_id": ids["alice"],
            "target_user_id": ids["bob"],
            "conversation_id": conversation_id,
            "message_id": None,
            "reason": "scam",
            "comment": "from a request",
        }
        return (
            moderation.file_report_in_txn(t, **kwargs),
            moderation.file_report_in_txn(t, **kwargs),
        )

    first, second = await api.core.store.write("test_report", txn)
    assert first == second
    detail = await show(admin, first)
    assert detail["reporter"] == "alice" and detail["kind"] == "conversation"
    assert detail["target"]["handle"] == "bob" and detail["target"]["reports_received"] == 1
    assert [m["text"] for m in detail["evidence"]["messages"]] == ["hey, want cheap crypto?"]


# --- a live socket ------------------------------------------------------------------------


@pytest.mark.server
async def test_suspension_closes_the_live_stream_at_once(tmp_path: Path, servers: Servers) -> None:
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "mod", PASSWORD) as admin,
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        assert admin.token and bob.token
        ws, ready = await open_stream(server.url, bob.token)
        assert ready["op"] == "ready"
        async with httpx.AsyncClient(base_url=server.url) as http:
            r = await http.post(
                f"{MOD}/users/bob/actions",
                json={"action": "suspend", "note": "spam wave"},
                headers={"Authorization": f"Bearer {admin.token}"},
            )
            assert r.status_code == 200, r.text
        with pytest.raises(websockets.ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 4001


async def test_your_own_profile_says_whether_you_moderate(api: Api) -> None:
    admin, member = await api.users(2)
    assert (await admin.get("/api/v1/me")).json()["role"] == "admin"
    assert (await member.get("/api/v1/me")).json()["role"] == "user"
    # and nobody else's profile says it
    assert "role" not in (await member.get(f"/api/v1/users/{admin.handle}")).json()
