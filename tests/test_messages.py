"""Messages through the API: send, idempotency, text rules, replies, history, edit, unsend,
delete for me, reactions, forwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from backchannel.app import create_app
from backchannel.store.tables import messages as messages_table
from tests.conftest import Api, User, ValidatingApp, make_settings


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def messages_path(cid: str) -> str:
    return f"/api/v1/conversations/{cid}/messages"


@asynccontextmanager
async def build_api(tmp_path: Path, database_url: str, **overrides: Any) -> AsyncIterator[Api]:
    """An app with its own settings, on the test's database."""
    application = create_app(make_settings(tmp_path, database_url, **overrides))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=ValidatingApp(application))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, application)


async def count_messages(api: Api) -> int:
    return int(
        await api.core.store.read(
            "test_count",
            lambda t: t.conn.execute(select(func.count()).select_from(messages_table)).scalar_one(),
        )
    )


async def history(user: User, cid: str, **params: Any) -> dict[str, Any]:
    r = await user.get(messages_path(cid), params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def texts(user: User, cid: str) -> list[str | None]:
    return [m["text"] for m in (await history(user, cid, limit=100))["items"]]


async def get_message(user: User, cid: str, mid: str) -> dict[str, Any]:
    r = await user.get(f"{messages_path(cid)}/{mid}")
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture
async def pair(api: Api) -> tuple[User, User, str]:
    alice, bob = await api.users(2)
    return alice, bob, await alice.direct(bob)


# --- send ---------------------------------------------------------------------------


async def test_send_returns_the_message(api: Api, pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    r = await alice.post(messages_path(cid), json={"text": "hello"})
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["id"].startswith("m_")
    assert m["conversation_id"] == cid
    assert m["text"] == "hello"
    assert m["sender"]["id"] == alice.id
    assert m["sender"]["handle"] == alice.handle
    assert m["reply_to"] is None
    assert m["forwarded"] is False
    assert m["reactions"] == []
    assert m["edited_at"] is None
    assert m["unsent"] is False
    assert m["created_at"].endswith("Z")
    assert await get_message(bob, cid, m["id"]) == m
    assert (await history(bob, cid))["items"] == [m]


async def test_same_txn_id_returns_the_original(api: Api, pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    first = await alice.post(messages_path(cid), json={"text": "once", "txn_id": "t-1"})
    assert first.status_code == 201
    again = await alice.post(messages_path(cid), json={"text": "once", "txn_id": "t-1"})
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert await texts(bob, cid) == ["once"]
    assert await count_messages(api) == 1

    # txn ids are per sender: bob may use the same one
    theirs = await bob.post(messages_path(cid), json={"text": "once", "txn_id": "t-1"})
    assert theirs.status_code == 201
    assert theirs.json()["id"] != first.json()["id"]


async def test_concurrent_retries_create_one_message(
    api: Api, pair: tuple[User, User, str]
) -> None:
    alice, _bob, cid = pair
    responses = await asyncio.gather(
        *(
            alice.post(messages_path(cid), json={"text": "race", "txn_id": "race-1"})
            for _ in range(5)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count_messages(api) == 1


async def test_txn_id_reused_for_something_else_is_a_conflict(
    api: Api, pair: tuple[User, User, str]
) -> None:
    alice, bob, cid = pair
    other = await alice.group(bob)
    await alice.send(cid, "original", txn_id="t-2")

    r = await alice.post(messages_path(cid), json={"text": "different", "txn_id": "t-2"})
    assert r.status_code == 422
    assert error_code(r) == "txn_id_conflict"
    r = await alice.post(messages_path(other), json={"text": "original", "txn_id": "t-2"})
    assert r.status_code == 422
    assert error_code(r) == "txn_id_conflict"
    assert await texts(bob, cid) == ["original"]
    assert await texts(bob, other) == []


@pytest.mark.parametrize("txn_id", ["", "has space", "x" * 65, "slash/no", "\u00e9"])
async def test_malformed_txn_id_is_refused(pair: tuple[User, User, str], txn_id: str) -> None:
    alice, _bob, cid = pair
    r = await alice.post(messages_path(cid), json={"text": "x", "txn_id": txn_id})
    assert r.status_code == 400
    assert error_code(r) == "invalid_request"


# --- text -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\t  \n", "\u3000"])
async def test_empty_text_is_refused(pair: tuple[User, User, str], text: str) -> None:
    alice, bob, cid = pair
    r = await alice.post(messages_path(cid), json={"text": text})
    assert r.status_code == 422, r.text
    assert error_code(r) == "invalid_text"
    assert await texts(bob, cid) == []


async def test_length_limit_is_4096_code_points(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    ok = await alice.post(messages_path(cid), json={"text": "x" * 4096})
    assert ok.status_code == 201
    assert len(ok.json()["text"]) == 4096
    # code points, not bytes or UTF-16 units: 4096 emoji fit
    emoji = await alice.post(messages_path(cid), json={"text": "\U0001f600" * 4096})
    assert emoji.status_code == 201, emoji.text
    assert (await get_message(bob, cid, emoji.json()["id"]))["text"] == "\U0001f600" * 4096

    for too_long in ("x" * 4097, "\U0001f600" * 4097, "x" * 70001):
        r = await alice.post(messages_path(cid), json={"text": too_long})
        assert r.status_code in (400, 422), r.text
        if len(too_long) <= 70000:
            assert error_code(r) == "invalid_text"
    assert len(await texts(bob, cid)) == 2


@pytest.mark.parametrize(
    "text",
    [
        "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",  # RTL Hebrew
        "\u0645\u0631\u062d\u0628\u0627 \u202ereversed\u202c",  # Arabic and an RTL override
        "e\u0301 vs \u00e9",  # combining vs precomposed: not normalized
        "\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f44b\U0001f3fd \U0001f1fa\U0001f1e6",
        "<script>alert(1)</script> &amp; <b>bold</b>",
        "  leading and trailing spaces  ",
        "line one\nline two\ttabbed",
        "\u200b\ufeffzero-width",
        "\U00010348 \U0001d11e",  # astral letters and symbols
        "a literal backslash-u: \\u0000",
    ],
)
async def test_text_is_stored_exactly_as_given(pair: tuple[User, User, str], text: str) -> None:
    alice, bob, cid = pair
    sent = await alice.send(cid, text)
    assert sent["text"] == text
    assert (await get_message(bob, cid, sent["id"]))["text"] == text
    assert await texts(bob, cid) == [text]
    r = await bob.get(messages_path(cid))
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "text",
    ["nul\x00byte", "bell\x07", "esc\x1b[31mred", "del\x7f", "c1\x85control", "cr\r\nlf"],
)
async def test_control_characters_are_refused(pair: tuple[User, User, str], text: str) -> None:
    alice, bob, cid = pair
    r = await alice.post(messages_path(cid), json={"text": text})
    assert r.status_code == 422, r.text
    assert error_code(r) == "invalid_text"
    assert await texts(bob, cid) == []


async def test_lone_surrogates_are_refused(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    r = await alice.post(
        messages_path(cid),
        content=b'{"text": "half \\ud83d a pair"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422), r.text
    assert error_code(r) in ("invalid_text", "invalid_request")
    assert await texts(bob, cid) == []


# --- replies --------------------------------------------------------------------------


async def test_reply_quotes_the_original(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    original = await alice.send(cid, "question?")
    reply = await bob.send(cid, "answer", reply_to=original["id"])
    assert reply["reply_to"] == {
        "id": original["id"],
        "sender_handle": alice.handle,
        "text": "question?",
    }
    assert (await get_message(alice, cid, reply["id"]))["reply_to"] == reply["reply_to"]


async def test_reply_quote_is_truncated_to_200_characters(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    original = await alice.send(cid, "q" * 500)
    reply = await bob.send(cid, "a", reply_to=original["id"])
    assert reply["reply_to"]["text"] == "q" * 200


async def test_reply_to_a_message_elsewhere_is_404(api: Api, pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    carol = await api.register("carol")
    mine_elsewhere = await alice.direct(carol)
    elsewhere = await alice.send(mine_elsewhere, "in another conversation")
    for reply_to in (elsewhere["id"], "m_AAAAAAAAAAAAAAAAAAAAAA", "nonsense"):
        r = await alice.post(messages_path(cid), json={"text": "re", "reply_to": reply_to})
        assert r.status_code == 404, reply_to
        assert error_code(r) == "message_not_found"
    assert await texts(bob, cid) == []


# --- history ----------------------------------------------------------------------------


async def test_history_defaults_to_the_newest_page(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    for i in range(7):
        await (alice if i % 2 else bob).send(cid, f"m{i}")
    whole = await history(bob, cid)
    assert [m["text"] for m in whole["items"]] == [f"m{i}" for i in range(7)]
    assert whole["before_cursor"] is None
    assert whole["after_cursor"] is None
    positions = [m["position"] for m in whole["items"]]
    assert positions == sorted(positions)

    newest = await history(bob, cid, limit=3)
    assert [m["text"] for m in newest["items"]] == ["m4", "m5", "m6"]
    assert newest["before_cursor"] is not None
    assert newest["after_cursor"] is None


async def test_history_walks_both_ways_without_gaps(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    expected = [f"m{i}" for i in range(10)]
    for text in expected:
        await alice.send(cid, text)

    # backwards from the newest page
    pages: list[list[str]] = []
    page = await history(bob, cid, limit=3)
    pages.append([m["text"] for m in page["items"]])
    while page["before_cursor"] is not None:
        page = await history(bob, cid, limit=3, before=page["before_cursor"])
        pages.insert(0, [m["text"] for m in page["items"]])
        assert len(pages) < 10
    assert [len(p) for p in pages] == [1, 3, 3, 3]
    assert [t for p in pages for t in p] == expected
    oldest = page
    assert oldest["after_cursor"] is not None

    # forwards from the oldest page
    walked = [m["text"] for m in oldest["items"]]
    page = oldest
    while page["after_cursor"] is not None:
        page = await history(bob, cid, limit=3, after=page["after_cursor"])
        walked.extend(m["text"] for m in page["items"])
        assert len(walked) <= 10
        assert page["before_cursor"] is not None
    assert walked == expected


@pytest.mark.parametrize("limit", [0, -1, 101, "ten"])
async def test_history_limit_bounds(pair: tuple[User, User, str], limit: Any) -> None:
    alice, _bob, cid = pair
    r = await alice.get(messages_path(cid), params={"limit": limit})
    assert r.status_code == 400
    assert error_code(r) == "invalid_request"


async def test_history_limit_100_is_allowed(pair: tuple[User, User, str]) -> None:
    alice, _bob, cid = pair
    await alice.send(cid, "x")
    assert len((await history(alice, cid, limit=100))["items"]) == 1
    assert len((await history(alice, cid, limit=1))["items"]) == 1


async def test_history_cursor_errors(pair: tuple[User, User, str]) -> None:
    alice, _bob, cid = pair
    page = await history(alice, cid)
    assert page["items"] == []
    r = await alice.get(messages_path(cid), params={"before": "MQ", "after": "MQ"})
    assert r.status_code == 400
    assert error_code(r) == "invalid_request"
    for cursor in ("!!", "MToy", "LTE", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"):
        for which in ("before", "after"):
            r = await alice.get(messages_path(cid), params={which: cursor})
            assert r.status_code == 400, (which, cursor, r.text)
            assert error_code(r) == "invalid_token"


# --- edit -----------------------------------------------------------------------------


async def test_sender_can_edit(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    sent = await alice.send(cid, "helo")
    r = await alice.patch(f"{messages_path(cid)}/{sent['id']}", json={"text": "hello"})
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["text"] == "hello"
    assert edited["edited_at"] is not None
    assert edited["id"] == sent["id"]
    assert edited["position"] == sent["position"]
    assert edited["created_at"] == sent["created_at"]
    seen = await get_message(bob, cid, sent["id"])
    assert seen["text"] == "hello"
    assert seen["edited_at"] == edited["edited_at"]


async def test_only_the_sender_can_edit(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    sent = await alice.send(cid, "mine")
    r = await bob.patch(f"{messages_path(cid)}/{sent['id']}", json={"text": "yours now"})
    assert r.status_code == 403
    assert error_code(r) == "not_message_sender"
    seen = await get_message(alice, cid, sent["id"])
    assert seen["text"] == "mine"
    assert seen["edited_at"] is None


async def test_edit_validates_the_text(pair: tuple[User, User, str]) -> None:
    alice, _bob, cid = pair
    sent = await alice.send(cid, "mine")
    for text in ("", "   ", "x" * 4097, "a\x00b"):
        r = await alice.patch(f"{messages_path(cid)}/{sent['id']}", json={"text": text})
        assert r.status_code == 422
        assert error_code(r) == "invalid_text"
    assert (await get_message(alice, cid, sent["id"]))["text"] == "mine"


async def test_edit_window(tmp_path: Path, database_url: str) -> None:
    async with build_api(tmp_path, database_url, edit_window_seconds=0) as api:
        alice, bob = await api.users(2)
        cid = await alice.direct(bob)
        sent = await alice.send(cid, "too late to fix")
        await asyncio.sleep(0.05)
        r = await alice.patch(f"{messages_path(cid)}/{sent['id']}", json={"text": "fixed"})
        assert r.status_code == 409, r.text
        assert error_code(r) == "edit_window_closed"
        seen = await get_message(bob, cid, sent["id"])
        assert seen["text"] == "too late to fix"
        assert seen["edited_at"] is None


# --- unsend -----------------------------------------------------------------------------


async def test_unsend_erases_the_message_for_everyone(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    sent = await alice.send(cid, "oops")
    reply = await bob.send(cid, "what?", reply_to=sent["id"])
    r = await bob.put(f"{messages_path(cid)}/{sent['id']}/reactions", json={"emoji": "\U0001f62e"})
    assert r.status_code == 200

    r = await alice.post(f"{messages_path(cid)}/{sent['id']}/unsend")
    assert r.status_code == 200, r.text
    tombstone = r.json()
    assert tombstone["text"] is None
    assert tombstone["unsent"] is True
    assert tombstone["reactions"] == []
    assert tombstone["id"] == sent["id"]

    for viewer in (alice, bob):
        seen = await get_message(viewer, cid, sent["id"])
        assert (seen["text"], seen["unsent"], seen["reactions"]) == (None, True, [])
        quoted = await get_message(viewer, cid, reply["id"])
        assert quoted["reply_to"]["id"] == sent["id"]
        assert quoted["reply_to"]["text"] is None
    assert await texts(bob, cid) == [None, "what?"]

    again = await alice.post(f"{messages_path(cid)}/{sent['id']}/unsend")
    assert again.status_code == 200
    assert again.json() == tombstone

    r = await alice.patch(f"{messages_path(cid)}/{sent['id']}", json={"text": "back"})
    assert r.status_code == 409
    assert error_code(r) == "message_unsent"
    r = await bob.put(f"{messages_path(cid)}/{sent['id']}/reactions", json={"emoji": "\U0001f44d"})
    assert r.status_code == 409
    assert error_code(r) == "message_unsent"
    assert (await get_message(bob, cid, sent["id"]))["text"] is None


async def test_only_the_sender_can_unsend(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    sent = await alice.send(cid, "keep")
    r = await bob.post(f"{messages_path(cid)}/{sent['id']}/unsend")
    assert r.status_code == 403
    assert error_code(r) == "not_message_sender"
    assert (await get_message(bob, cid, sent["id"]))["text"] == "keep"


async def test_unsent_message_does_not_count_as_unread(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    sent = await alice.send(cid, "never mind")
    assert (await bob.get(f"/api/v1/conversations/{cid}")).json()["unread_count"] == 1
    await alice.post(f"{messages_path(cid)}/{sent['id']}/unsend")
    view = (await bob.get(f"/api/v1/conversations/{cid}")).json()
    assert view["unread_count"] == 0
    assert view["last_message"]["text"] is None
    assert view["last_message"]["unsent"] is True


# --- delete for me ----------------------------------------------------------------------


async def test_delete_for_me_hides_only_for_me(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    first = await alice.send(cid, "first")
    second = await bob.send(cid, "second")

    r = await alice.delete(f"{messages_path(cid)}/{second['id']}")
    assert r.status_code == 204
    assert r.content == b""
    assert await texts(alice, cid) == ["first"]
    assert await texts(bob, cid) == ["first", "second"]
    r = await alice.get(f"{messages_path(cid)}/{second['id']}")
    assert r.status_code == 404
    assert error_code(r) == "message_not_found"
    assert (await get_message(bob, cid, second["id"]))["text"] == "second"

    # my inbox preview falls back to what I can still see
    view = (await alice.get(f"/api/v1/conversations/{cid}")).json()
    assert view["last_message"]["id"] == first["id"]
    assert (await bob.get(f"/api/v1/conversations/{cid}")).json()["last_message"]["id"] == second[
        "id"
    ]

    # my own message too
    assert (await alice.delete(f"{messages_path(cid)}/{first['id']}")).status_code == 204
    assert await texts(alice, cid) == []
    assert await texts(bob, cid) == ["first", "second"]


async def test_delete_for_me_of_a_message_elsewhere_is_404(
    api: Api, pair: tuple[User, User, str]
) -> None:
    alice, bob, cid = pair
    carol = await api.register("carol")
    other = await bob.direct(carol)
    theirs = await bob.send(other, "not yours")
    r = await alice.delete(f"{messages_path(cid)}/{theirs['id']}")
    assert r.status_code == 404
    assert error_code(r) == "message_not_found"
    r = await alice.delete(f"{messages_path(other)}/{theirs['id']}")
    assert r.status_code == 404
    assert error_code(r) == "conversation_not_found"
    assert await texts(carol, other) == ["not yours"]


# --- reactions --------------------------------------------------------------------------

THUMBS = "\U0001f44d"
HEART = "\u2764\ufe0f"
LAUGH = "\U0001f602"
WOW = "\U0001f62e"


def reaction_map(message: dict[str, Any]) -> dict[str, list[str]]:
    return {r["emoji"]: r["users"] for r in message["reactions"]}


async def test_reactions_add_and_remove_idempotently(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    sent = await alice.send(cid, "react to me")
    path = f"{messages_path(cid)}/{sent['id']}/reactions"

    for _ in range(2):
        r = await alice.put(path, json={"emoji": THUMBS})
        assert r.status_code == 200, r.text
        assert reaction_map(r.json()) == {THUMBS: [alice.handle]}
    r = await bob.put(path, json={"emoji": THUMBS})
    assert reaction_map(r.json()) == {THUMBS: [alice.handle, bob.handle]}
    r = await bob.put(path, json={"emoji": HEART})
    assert reaction_map(r.json()) == {THUMBS: [alice.handle, bob.handle], HEART: [bob.handle]}
    assert reaction_map(await get_message(alice, cid, sent["id"])) == reaction_map(r.json())

    for _ in range(2):
        r = await alice.delete(f"{path}/{quote(THUMBS)}")
        assert r.status_code == 200, r.text
        assert reaction_map(r.json()) == {THUMBS: [bob.handle], HEART: [bob.handle]}
    r = await bob.delete(f"{path}/{quote(HEART)}")
    assert reaction_map(r.json()) == {THUMBS: [bob.handle]}
    r = await bob.delete(f"{path}/{quote(THUMBS)}")
    assert r.json()["reactions"] == []


@pytest.mark.parametrize(
    "emoji",
    [
        "",
        "a",
        "ok",
        ":)",
        "<3",
        "1",
        "\u00e9",  # a letter with an accent
        "\u4e2d",  # a CJK letter
        "\u05e9",  # a Hebrew letter
        "\u2026",  # an ellipsis
        "\u2014",  # a dash
        "\u20ac",  # a currency sign
        "\u0663",  # an Arabic-Indic digit
        "\u00bd",  # a fraction
        " \U0001f44d",
        "\U0001f44d\n",
        "\x00",
        "\U0001f44d" * 17,
    ],
)
async def test_non_emoji_reactions_are_refused(pair: tuple[User, User, str], emoji: str) -> None:
    alice, _bob, cid = pair
    sent = await alice.send(cid, "react to me")
    r = await alice.put(f"{messages_path(cid)}/{sent['id']}/reactions", json={"emoji": emoji})
    assert r.status_code == 422, r.text
    assert error_code(r) == "invalid_reaction"
    assert (await get_message(alice, cid, sent["id"]))["reactions"] == []


@pytest.mark.parametrize(
    "emoji",
    [
        "\U0001f44d\U0001f3fd",  # skin tone
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # ZWJ family
        "\U0001f1fa\U0001f1e6",  # flag
        "1\ufe0f\u20e3",  # keycap
        HEART,
        "\u203c\ufe0f",  # double exclamation mark: punctuation, yet an emoji
        "#\ufe0f\u20e3",
    ],
)
async def test_composed_emoji_are_one_reaction(pair: tuple[User, User, str], emoji: str) -> None:
    alice, _bob, cid = pair
    sent = await alice.send(cid, "react to me")
    r = await alice.put(f"{messages_path(cid)}/{sent['id']}/reactions", json={"emoji": emoji})
    assert r.status_code == 200, r.text
    assert reaction_map(r.json()) == {emoji: [alice.handle]}


async def test_too_many_reactions(pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    sent = await bob.send(cid, "popular")
    path = f"{messages_path(cid)}/{sent['id']}/reactions"
    for emoji in (THUMBS, HEART, LAUGH):  # the default maximum is 3
        assert (await alice.put(path, json={"emoji": emoji})).status_code == 200

    r = await alice.put(path, json={"emoji": WOW})
    assert r.status_code == 422
    assert error_code(r) == "too_many_reactions"
    # repeating one already there is still fine, and others are not limited by mine
    assert (await alice.put(path, json={"emoji": THUMBS})).status_code == 200
    assert (await bob.put(path, json={"emoji": WOW})).status_code == 200
    # taking one back makes room
    assert (await alice.delete(f"{path}/{quote(LAUGH)}")).status_code == 200
    r = await alice.put(path, json={"emoji": WOW})
    assert r.status_code == 200
    assert reaction_map(r.json()) == {
        THUMBS: [alice.handle],
        HEART: [alice.handle],
        WOW: [bob.handle, alice.handle],
    }


async def test_strangers_cannot_react(api: Api, pair: tuple[User, User, str]) -> None:
    alice, _bob, cid = pair
    eve = await api.register("eve")
    sent = await alice.send(cid, "hi")
    r = await eve.put(f"{messages_path(cid)}/{sent['id']}/reactions", json={"emoji": THUMBS})
    assert r.status_code == 404
    assert error_code(r) == "conversation_not_found"
    assert (await get_message(alice, cid, sent["id"]))["reactions"] == []


# --- forward ----------------------------------------------------------------------------


async def test_forward_to_several_conversations(api: Api, pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    carol, dave = await api.users(2)
    to_carol = await alice.direct(carol)
    group = await alice.group(carol, dave)
    original = await bob.send(cid, "worth sharing")

    r = await alice.post(
        f"{messages_path(cid)}/{original['id']}/forward",
        json={"conversation_ids": [to_carol, group, to_carol]},
    )
    assert r.status_code == 201, r.text
    items = r.json()["items"]
    assert [m["conversation_id"] for m in items] == [to_carol, group]
    for m in items:
        assert m["forwarded"] is True
        assert m["text"] == "worth sharing"
        assert m["sender"]["handle"] == alice.handle
        assert m["id"] != original["id"]
    assert await texts(carol, to_carol) == ["worth sharing"]
    assert await texts(dave, group) == ["worth sharing"]
    assert (await get_message(dave, group, items[1]["id"]))["forwarded"] is True
    assert (await get_message(bob, cid, original["id"]))["forwarded"] is False

    # forwarding into the same conversation is allowed too
    r = await alice.post(
        f"{messages_path(cid)}/{original['id']}/forward", json={"conversation_ids": [cid]}
    )
    assert r.status_code == 201
    assert await texts(bob, cid) == ["worth sharing", "worth sharing"]


async def test_forward_to_at_most_five(api: Api, pair: tuple[User, User, str]) -> None:
    alice, _bob, cid = pair
    others = await api.users(6)
    targets = [await alice.direct(other) for other in others]
    original = await alice.send(cid, "chain letter")
    before = await count_messages(api)

    r = await alice.post(
        f"{messages_path(cid)}/{original['id']}/forward", json={"conversation_ids": targets}
    )
    assert r.status_code == 422
    assert error_code(r) == "too_many_targets"
    assert await count_messages(api) == before

    r = await alice.post(
        f"{messages_path(cid)}/{original['id']}/forward", json={"conversation_ids": targets[:5]}
    )
    assert r.status_code == 201
    assert len(r.json()["items"]) == 5
    assert await count_messages(api) == before + 5


async def test_forward_is_all_or_none(api: Api, pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    carol, dave = await api.users(2)
    mine = await alice.direct(carol)
    not_mine = await carol.direct(dave)
    original = await alice.send(cid, "spread me")
    before = await count_messages(api)

    for targets in (
        [mine, not_mine],
        [not_mine, mine],
        [mine, "c_AAAAAAAAAAAAAAAAAAAAAA"],
    ):
        r = await alice.post(
            f"{messages_path(cid)}/{original['id']}/forward", json={"conversation_ids": targets}
        )
        assert r.status_code == 404, r.text
        assert error_code(r) == "conversation_not_found"
    assert await count_messages(api) == before
    assert await texts(bob, cid) == ["spread me"]
    assert await texts(carol, mine) == []
    assert await texts(dave, not_mine) == []
    inbox = (await carol.get("/api/v1/conversations")).json()["items"]
    assert all(c["last_message"] is None for c in inbox)

    r = await alice.post(
        f"{messages_path(cid)}/{original['id']}/forward", json={"conversation_ids": []}
    )
    assert r.status_code == 400


async def test_forward_needs_a_message_you_can_see(api: Api, pair: tuple[User, User, str]) -> None:
    alice, bob, cid = pair
    carol = await api.register("carol")
    others = await bob.direct(carol)
    secret = await bob.send(others, "between bob and carol")
    r = await alice.post(
        f"{messages_path(others)}/{secret['id']}/forward", json={"conversation_ids": [cid]}
    )
    assert r.status_code == 404
    assert error_code(r) == "conversation_not_found"
    r = await alice.post(
        f"{messages_path(cid)}/{secret['id']}/forward", json={"conversation_ids": [cid]}
    )
    assert r.status_code == 404
    assert error_code(r) == "message_not_found"

    unsent = await alice.send(cid, "gone")
    await alice.post(f"{messages_path(cid)}/{unsent['id']}/unsend")
    r = await alice.post(
        f"{messages_path(cid)}/{unsent['id']}/forward", json={"conversation_ids": [cid]}
    )
    assert r.status_code == 409
    assert error_code(r) == "message_unsent"
    assert await texts(bob, cid) == [None]
