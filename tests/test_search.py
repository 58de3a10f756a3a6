"""Message search and conversation finding, on both engines: ranking, highlights, every
filter, pages, malformed queries, and privacy — a search finds exactly what the history
shows, and an erased body leaves the index in the transaction that erased it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from backchannel.cli import app as cli
from backchannel.domain.search import Segment, highlight, parse_query
from backchannel.errors import BackchannelError
from backchannel.services import search_index
from backchannel.services.core import Core
from backchannel.store import messages as msg_db
from backchannel.store import search as search_db
from backchannel.store.database import ReadTxn
from tests.conftest import Api, Clock, User

C = "/api/v1/conversations"
S = "/api/v1/search"


async def search(user: User, q: str, **params: Any) -> list[dict[str, Any]]:
    r = await user.get(f"{S}/messages", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def texts(user: User, q: str, **params: Any) -> list[str]:
    return [item["message"]["text"] for item in await search(user, q, **params)]


async def indexed(core: Core, *pids: str) -> list[str]:
    """Which of these messages the full-text index holds."""

    def read(t: ReadTxn) -> list[str]:
        ids = {msg_db.message_id(t.conn, pid): pid for pid in pids}
        return [ids[i] for i in search_db.indexed_ids(t.conn, list(ids))]

    return await core.store.read("test_indexed", read)


# --- the query language (pure) ----------------------------------------------------------


def test_queries_are_words_phrases_and_prefixes_never_engine_syntax() -> None:
    query = parse_query('Café "good morning" NEAR(x y) meet* -a OR')
    assert [(t.words, t.prefix) for t in query.terms] == [
        (("café",), False),
        (("good", "morning"), False),
        (("near",), False),
        (("x",), False),
        (("y",), False),
        (("meet",), True),
        (("a",), False),
        (("or",), False),
    ]
    assert search_db.fts5_expression(parse_query('say "it\'s" me*')) == '"say" "it s" "me"*'
    assert search_db.tsquery_expression(parse_query('"a b" cd*')) == "('a':A <-> 'b':A) & 'cd':*A"


@pytest.mark.parametrize(
    "raw",
    ['"open', "*", "m*", "*meet", "me*t", "!!! ??", "", "x" * 201, "a b c d e f g h i"],
)
def test_malformed_queries_raise_invalid_query(raw: str) -> None:
    with pytest.raises(BackchannelError) as error:
        parse_query(raw)
    assert error.value.code == "invalid_query"


def test_highlights_are_plain_segments_ignoring_case_and_accents() -> None:
    segments = highlight("Le CAFÉ <b>ouvre</b> au café", parse_query("cafe ouv*"))
    assert segments == [
        Segment("Le ", False),
        Segment("CAFÉ", True),
        Segment(" <b>", False),
        Segment("ouvre", True),
        Segment("</b> au ", False),
        Segment("café", True),
    ]
    long = "filler " * 60 + "the needle is here " + "tail " * 60
    cut = highlight(long, parse_query("needle"))
    assert cut[0] == Segment("…", False) and cut[-1] == Segment("…", False)
    assert [s.text for s in cut if s.match] == ["needle"]
    assert len("".join(s.text for s in cut)) <= 165


# --- searching through the API -----------------------------------------------------------


async def test_ranked_highlighted_and_only_matching(api: Api) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    cid = await alice.direct(bob)
    once = await alice.send(cid, "the deploy went fine after lunch")
    twice = await bob.send(cid, "deploy deploy: the Déploy script, deploy now")
    await alice.send(cid, "nothing to see here")
    items = await search(bob, "deploy")
    assert [i["message"]["id"] for i in items] == [twice["id"], once["id"]]
    assert items[1]["snippet"] == [
        {"text": "the ", "match": False},
        {"text": "deploy", "match": True},
        {"text": " went fine after lunch", "match": False},
    ]
    assert items[0]["conversation"] == {"id": cid, "kind": "direct", "title": None}
    assert await texts(alice, '"after lunch"') == [once["text"]]
    assert await texts(alice, '"lunch after"') == []
    assert await texts(alice, "depl* fine") == [once["text"]]
    assert await texts(alice, "DEPLOY NOW") == [twice["text"]]
    assert await texts(alice, "deploy lunch missing") == []


async def test_filters(api: Api, clock: Clock) -> None:
    alice, bob, carol = await api.users(3)
    direct = await alice.direct(bob)
    group = await alice.group(bob, carol, title="Release crew")
    old = await alice.send(direct, "release notes draft")
    clock.advance(3600)
    link = await bob.send(direct, "release at https://example.com/notes")
    mine = await carol.send(group, "release party tonight")
    up = await alice.post("/api/v1/media", files={"file": ("a.txt", b"hello", "text/plain")})
    assert up.status_code == 201, up.text
    media = await alice.send(group, "release photo", media=[up.json()["id"]])

    async def ids(**params: Any) -> set[str]:
        return {i["message"]["id"] for i in await search(alice, "release", **params)}

    assert await ids() == {old["id"], link["id"], mine["id"], media["id"]}
    assert await ids(sender=carol.handle) == {mine["id"]}
    assert await ids(sender="@" + bob.handle.upper()) == {link["id"]}
    assert await ids(sender="nobody_at_all") == set()
    assert await ids(conversation_id=group) == {mine["id"], media["id"]}
    assert await ids(has_link="true") == {link["id"]}
    assert await ids(has_media="true") == {media["id"]}
    assert await ids(since=clock.iso(-60)) == {link["id"], mine["id"], media["id"]}
    assert await ids(until=clock.iso(-60)) == {old["id"]}
    assert await ids(conversation_id=group, sender=alice.handle) == {media["id"]}
    # a conversation filter is the one gate: someone else's is a 404, like a missing one
    outsider = await api.register()
    for target in (group, "c_missing"):
        r = await outsider.get(f"{S}/messages", params={"q": "release", "conversation_id": target})
        assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found"


async def test_pages_by_offset_when_ranked_and_by_position_when_recent(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    sent = [await alice.send(cid, f"report {n} " + "report " * (n % 3)) for n in range(7)]
    for sort in ("relevance", "recent"):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"q": "report", "limit": 3, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            r = await bob.get(f"{S}/messages", params=params)
            assert r.status_code == 200, r.text
            seen += [i["message"]["id"] for i in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(m["id"] for m in sent) and len(seen) == 7, sort
        if sort == "recent":
            assert seen == [m["id"] for m in reversed(sent)]
    first = (await bob.get(f"{S}/messages", params={"q": "report", "limit": 3})).json()
    r = await bob.get(
        f"{S}/messages", params={"q": "report", "sort": "recent", "cursor": first["next_cursor"]}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_token"


async def test_malformed_queries_are_400_never_500(api: Api) -> None:
    alice = await api.register()
    for q in ['"unclosed', "*", '"x" "y', "a*b", "   ", "x" * 300]:
        r = await alice.get(f"{S}/messages", params={"q": q})
        assert r.status_code == 400, (q, r.text)
        assert r.json()["error"]["code"] == "invalid_query", q
    # operators and FTS5 column filters are plain words, not syntax
    for q in ["NEAR(", "text:secret", "a AND b OR NOT c", "{text} : x", "^start", "(x)"]:
        r = await alice.get(f"{S}/messages", params={"q": q})
        assert r.status_code == 200, (q, r.text)


# --- privacy ------------------------------------------------------------------------------


@pytest.fixture(params=["narrowed", "across_all"])
def narrowing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """SQLite narrows a match to the searcher's conversations inside the index, unless they
    are in too many: either way the same messages must be found."""
    if request.param == "across_all":
        monkeypatch.setattr(search_db, "NARROW_CONVERSATIONS", 0)
    return str(request.param)


async def test_only_what_the_history_shows(api: Api, narrowing: str) -> None:
    alice, bob, carol, dave = await api.users(4)
    group = await alice.group(bob, carol, title="plans")
    before = await alice.send(group, "zebra before dave joined")
    r = await alice.post(f"{C}/{group}/members", json={"members": [dave.handle]})
    assert r.status_code in (200, 201), r.text
    during = await alice.send(group, "zebra while all are in")
    r = await carol.delete(f"{C}/{group}/members/{carol.handle}")
    assert r.status_code in (200, 204), r.text
    after = await alice.send(group, "zebra after carol left")
    hidden = await alice.send(group, "zebra hidden for bob")
    r = await bob.delete(f"{C}/{group}/messages/{hidden['id']}")
    assert r.status_code in (200, 204), r.text
    stranger = await api.register()

    async def found(user: User) -> set[str]:
        return {i["message"]["id"] for i in await search(user, "zebra")}

    everything = {before["id"], during["id"], after["id"], hidden["id"]}
    assert await found(alice) == everything
    assert await found(bob) == everything - {hidden["id"]}
    assert await found(dave) == {during["id"], after["id"], hidden["id"]}
    assert await found(carol) == set()  # left: the conversation is gone for her
    assert await found(stranger) == set()
    r = await stranger.get(f"{S}/conversations", params={"q": "plans"})
    assert r.json()["items"] == []


async def test_a_blocked_senders_private_messages_stay_theirs(api: Api, narrowing: str) -> None:
    me, troll = await api.users(2)
    cid = await troll.direct(me)
    await troll.send(cid, "walrus hello")
    assert (await me.put(f"/api/v1/users/{troll.handle}/block")).status_code == 204
    unseen = await troll.send(cid, "walrus you never see this")
    assert await texts(me, "walrus") == ["walrus hello"]
    assert unseen["text"] in await texts(troll, "walrus")


async def test_words_match_the_text_only(api: Api, core: Core) -> None:
    """The index's conversation tokens ("c" and an id) are never matched by what is typed."""
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    await alice.send(cid, "nothing to see")
    internal = await core.store.read(
        "t", lambda t: t.conn.execute(text("SELECT max(conversation_id) FROM messages")).scalar()
    )
    assert await texts(alice, f"c{internal}") == []
    await alice.send(cid, f"room c{internal} is free")
    assert await texts(alice, f"c{internal}") == [f"room c{internal} is free"]


async def test_unsent_and_expired_bodies_leave_the_index(
    api: Api, core: Core, clock: Clock
) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    oops = await alice.send(cid, "narwhal password 1234")
    kept = await alice.send(cid, "narwhal stays")
    assert await indexed(core, oops["id"], kept["id"]) == [oops["id"], kept["id"]]
    assert (await alice.post(f"{C}/{cid}/messages/{oops['id']}/unsend")).status_code == 200
    assert await indexed(core, oops["id"]) == []
    assert await texts(bob, "narwhal") == ["narwhal stays"]
    assert await texts(bob, "password") == []

    r = await alice.put(f"{C}/{cid}/disappearing", json={"seconds": 60})
    assert r.status_code == 200, r.text
    brief = await alice.send(cid, "narwhal gone soon")
    assert await indexed(core, brief["id"]) == [brief["id"]]
    clock.advance(61)
    # due but its job not run yet: already gone from search
    assert "narwhal gone soon" not in await texts(bob, "narwhal")
    assert core.jobs is not None
    await core.jobs.run_due()
    await core.jobs.drain()
    assert await indexed(core, brief["id"]) == []
    assert await texts(bob, "narwhal") == ["narwhal stays"]


async def test_an_edit_reindexes_the_new_text(api: Api, core: Core) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    sent = await alice.send(cid, "meet at noon")
    r = await alice.patch(f"{C}/{cid}/messages/{sent['id']}", json={"text": "meet at dusk"})
    assert r.status_code == 200, r.text
    assert await texts(bob, "noon") == []
    assert await texts(bob, "dusk") == ["meet at dusk"]


# --- finding conversations ------------------------------------------------------------------


async def test_find_conversations_by_name_handle_or_title(api: Api) -> None:
    me = await api.register("mira")
    ana = await api.register("ana_lopez", display_name="Ana López")
    ben = await api.register("benji", display_name="Benjamin Stone")
    direct = await me.direct(ana)
    group = await me.group(ben, title="Weekend hikers")
    await me.send(direct, "hi")

    async def found(q: str) -> list[str]:
        r = await me.get(f"{S}/conversations", params={"q": q})
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["items"]]

    assert await found("ana") == [direct]
    assert await found("@ANA_l") == [direct]
    assert await found("stone") == [group]
    assert await found("hikers") == [group]
    assert await found("mira") == []  # not by my own name
    assert await found("zzz") == []
    r = await me.get(f"{S}/conversations", params={"q": "  "})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_query"


# --- the reindex ----------------------------------------------------------------------------


async def test_reindex_rebuilds_and_resumes_after_an_interruption(api: Api, core: Core) -> None:
    if not core.store.is_sqlite:
        result = await search_index.reindex(core)
        assert result.batches == 1
        return
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    sent = [await alice.send(cid, f"otter number {n}") for n in range(9)]
    # damage the index: drop every entry (as a broken upgrade might)
    await core.store.write(
        "test_damage",
        lambda t: t.conn.exec_driver_sql("DELETE FROM messages_fts"),
    )
    assert await texts(bob, "otter") == []

    calls = 0

    def killed_after_two(_last: int, _highest: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt  # as a Ctrl-C between batches would

    with pytest.raises(KeyboardInterrupt):
        await search_index.reindex(core, batch=2, progress=killed_after_two)
    stopped = await search_index.checkpoint(core)
    assert stopped is not None
    ids = [m["id"] for m in sent]
    partly = await indexed(core, *ids)
    assert partly and len(partly) < len(ids)

    late = await alice.send(cid, "otter written meanwhile")  # indexed by the trigger
    done = await search_index.reindex(core, batch=2)
    assert done.resumed_from == stopped
    assert await search_index.checkpoint(core) is None
    assert await indexed(core, *ids, late["id"]) == sorted(
        [*ids, late["id"]], key=lambda pid: ([*ids, late["id"]]).index(pid)
    )
    assert len(await search(bob, "otter", limit=50)) == 10  # each once, none twice


def test_the_reindex_command(sqlite_url: str, tmp_path: Any) -> None:
    result = CliRunner().invoke(
        cli, ["reindex", "--database-url", sqlite_url, "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "search index rebuilt" in result.output
