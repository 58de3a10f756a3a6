"""The follow graph through the API: follow/unfollow, lists with cursors, counts."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.conftest import PASSWORD, Api, User


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def profile(viewer: User, handle: str) -> dict[str, Any]:
    r = await viewer.get(f"/api/v1/users/{handle}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def walk(user: User, path: str, limit: int) -> list[list[str]]:
    """Every page of a user list, as lists of handles; asserts the cursor chain ends."""
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(50):
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        r = await user.get(path, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append([item["handle"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the cursor chain does not end")


async def test_follow_and_unfollow_are_idempotent(api: Api) -> None:
    alice, bob = await api.users(2)
    for _ in range(2):
        r = await alice.put(f"/api/v1/users/{bob.handle}/follow")
        assert r.status_code == 204, r.text
        assert r.content == b""
    seen = await profile(alice, bob.handle)
    assert seen["followers_count"] == 1
    assert seen["followed_by_me"] is True
    assert (await alice.get("/api/v1/me")).json()["following_count"] == 1

    for _ in range(2):
        r = await alice.delete(f"/api/v1/users/{bob.handle}/follow")
        assert r.status_code == 204, r.text
    seen = await profile(alice, bob.handle)
    assert seen["followers_count"] == 0
    assert seen["followed_by_me"] is False
    assert (await alice.get("/api/v1/me")).json()["following_count"] == 0


async def test_unfollowing_someone_never_followed_is_fine(api: Api) -> None:
    alice, bob = await api.users(2)
    r = await alice.delete(f"/api/v1/users/{bob.handle}/follow")
    assert r.status_code == 204
    assert (await profile(alice, bob.handle))["followers_count"] == 0


async def test_handles_in_follow_paths_are_case_insensitive(api: Api) -> None:
    alice = await api.register("alice")
    await api.register("bob")
    assert (await alice.put("/api/v1/users/BOB/follow")).status_code == 204
    assert (await profile(alice, "bob"))["followed_by_me"] is True


async def test_cannot_follow_yourself(api: Api) -> None:
    alice = await api.register("alice")
    for handle in ("alice", "ALICE"):
        r = await alice.put(f"/api/v1/users/{handle}/follow")
        assert r.status_code == 422
        assert error_code(r) == "cannot_follow_self"
    me = (await alice.get("/api/v1/me")).json()
    assert me["followers_count"] == 0
    assert me["following_count"] == 0


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_following_an_unknown_user_is_404(api: Api, method: str) -> None:
    alice = await api.register("alice")
    for handle in ("nobody_here", "x", "bad!handle"):
        r = await alice.request(method, f"/api/v1/users/{handle}/follow")
        assert r.status_code == 404, (handle, r.text)
        assert error_code(r) == "user_not_found"


async def test_lists_of_an_unknown_user_are_404(api: Api) -> None:
    alice = await api.register("alice")
    for which in ("followers", "following"):
        r = await alice.get(f"/api/v1/users/nobody_here/{which}")
        assert r.status_code == 404
        assert error_code(r) == "user_not_found"


async def test_counts_and_relationship_flags(api: Api) -> None:
    alice, bob, carol, dave = await api.users(4)
    await bob.put(f"/api/v1/users/{alice.handle}/follow")
    await carol.put(f"/api/v1/users/{alice.handle}/follow")
    await alice.put(f"/api/v1/users/{bob.handle}/follow")

    # bob looks at alice: mutual
    seen = await profile(bob, alice.handle)
    assert seen["followers_count"] == 2
    assert seen["following_count"] == 1
    assert seen["followed_by_me"] is True
    assert seen["follows_me"] is True

    # carol looks at alice: carol follows her, not the other way round
    seen = await profile(carol, alice.handle)
    assert seen["followed_by_me"] is True
    assert seen["follows_me"] is False

    # dave looks at alice: no relation
    seen = await profile(dave, alice.handle)
    assert seen["followed_by_me"] is False
    assert seen["follows_me"] is False

    # alice looks at carol: carol follows alice
    seen = await profile(alice, carol.handle)
    assert seen["followers_count"] == 0
    assert seen["following_count"] == 1
    assert seen["followed_by_me"] is False
    assert seen["follows_me"] is True

    me = (await alice.get("/api/v1/me")).json()
    assert (me["followers_count"], me["following_count"]) == (2, 1)


async def test_followers_pages_have_no_duplicates_or_gaps(api: Api) -> None:
    star = await api.register("star")
    fans = await api.users(7)
    for fan in fans:
        assert (await fan.put("/api/v1/users/star/follow")).status_code == 204

    pages = await walk(star, "/api/v1/users/star/followers", limit=2)
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    flat = [handle for page in pages for handle in page]
    assert len(flat) == len(set(flat))
    # newest first
    assert flat == [fan.handle for fan in reversed(fans)]

    # anyone may read the list, with the same result
    assert await walk(fans[0], "/api/v1/users/star/followers", limit=2) == pages
    # one big page equals the walk
    whole = (await star.get("/api/v1/users/star/followers", params={"limit": 100})).json()
    assert [item["handle"] for item in whole["items"]] == flat
    assert whole["next_cursor"] is None
    assert (await profile(fans[0], "star"))["followers_count"] == 7


async def test_following_pages_have_no_duplicates_or_gaps(api: Api) -> None:
    fan = await api.register("fan")
    stars = await api.users(6)
    for star in stars:
        assert (await fan.put(f"/api/v1/users/{star.handle}/follow")).status_code == 204

    pages = await walk(fan, "/api/v1/users/fan/following", limit=2)
    assert [len(page) for page in pages] == [2, 2, 2]
    flat = [handle for page in pages for handle in page]
    assert flat == [star.handle for star in reversed(stars)]

    # unfollowing removes exactly that one
    await fan.delete(f"/api/v1/users/{stars[2].handle}/follow")
    flat = [h for page in await walk(fan, "/api/v1/users/fan/following", limit=2) for h in page]
    assert flat == [star.handle for star in reversed(stars) if star is not stars[2]]


async def test_list_items_are_users_and_the_default_page_holds_them_all(api: Api) -> None:
    alice, bob = await api.users(2)
    await bob.put(f"/api/v1/users/{alice.handle}/follow")
    body = (await alice.get(f"/api/v1/users/{alice.handle}/followers")).json()
    assert body["next_cursor"] is None
    assert body["items"] == [
        {"id": bob.id, "handle": bob.handle, "display_name": bob.handle, "deleted": False}
    ]
    empty = (await alice.get(f"/api/v1/users/{alice.handle}/following")).json()
    assert empty == {"items": [], "next_cursor": None}


async def test_deactivated_users_leave_the_lists(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    await bob.put(f"/api/v1/users/{alice.handle}/follow")
    await carol.put(f"/api/v1/users/{alice.handle}/follow")
    await alice.put(f"/api/v1/users/{bob.handle}/follow")
    r = await bob.post("/api/v1/me/deactivate", json={"password": PASSWORD})
    assert r.status_code == 204

    followers = (await alice.get(f"/api/v1/users/{alice.handle}/followers")).json()
    assert [item["handle"] for item in followers["items"]] == [carol.handle]
    me = (await alice.get("/api/v1/me")).json()
    assert (me["followers_count"], me["following_count"]) == (1, 0)


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        raw_cursor("12"),  # wrong arity
        raw_cursor("1:2:3"),
        raw_cursor("-1:5"),
        raw_cursor("a:b"),
        raw_cursor("99999999999999999999999999:1"),  # beyond any integer column
        "\u00e9t\u00e9",
    ],
)
async def test_invalid_cursor_is_400(api: Api, cursor: str) -> None:
    alice, bob = await api.users(2)
    await bob.put(f"/api/v1/users/{alice.handle}/follow")
    for which in ("followers", "following"):
        r = await alice.get(f"/api/v1/users/{alice.handle}/{which}", params={"cursor": cursor})
        assert r.status_code == 400, (cursor, r.text)
        assert error_code(r) == "invalid_token"


@pytest.mark.parametrize("limit", [0, -1, 101, "x"])
async def test_list_limit_bounds(api: Api, limit: Any) -> None:
    alice = await api.register("alice")
    r = await alice.get("/api/v1/users/alice/followers", params={"limit": limit})
    assert r.status_code == 400
    assert error_code(r) == "invalid_request"


# --- finding people -------------------------------------------------------------------


async def search(viewer: User, q: str, expect: int = 200, **params: Any) -> Any:
    r = await viewer.get("/api/v1/users", params={"q": q, **params})
    assert r.status_code == expect, r.text
    return r.json()


def handles(found: dict[str, Any]) -> list[str]:
    return [item["handle"] for item in found["items"]]


async def test_search_finds_people_by_handle_and_name_ranked(api: Api) -> None:
    me = await api.register("viewer", display_name="The Viewer")
    await api.register("ann", display_name="Ann Lee")
    await api.register("annabel", display_name="Bel")
    await api.register("zoe_ann", display_name="Zoë Annette")
    await api.register("mark", display_name="Mark Annandale")
    await api.register("brian", display_name="Brian")
    # the exact handle first; then people I follow; then handle prefixes; then names
    r = await me.put("/api/v1/users/mark/follow")
    assert r.status_code == 204
    found = await search(me, "ann")
    assert handles(found) == ["ann", "mark", "annabel", "zoe_ann"]
    assert [i["followed_by_me"] for i in found["items"]] == [False, True, False, False]
    assert set(found["items"][0]) == {"id", "handle", "display_name", "deleted", "followed_by_me"}
    # `@`, case and spacing do not matter; a word inside a name counts, a middle does not
    assert handles(await search(me, "  @ANN ")) == handles(found)
    assert handles(await search(me, "lee")) == ["ann"]
    assert handles(await search(me, "nne")) == []
    assert handles(await search(me, "ann", limit=2)) == ["ann", "mark"]
    # I am not in my own results
    assert handles(await search(me, "viewer")) == []


async def test_search_treats_wildcards_as_text(api: Api) -> None:
    me = await api.register("viewer")
    await api.register("a_b")
    await api.register("axb")
    assert handles(await search(me, "a_")) == ["a_b"]
    assert handles(await search(me, "%")) == []
    assert handles(await search(me, "\\")) == []


async def test_search_hides_blocks_both_ways_and_closed_accounts(api: Api) -> None:
    mod = await api.register("mod")  # the first account moderates
    me = await api.register("viewer")
    blocker = await api.register("sam_blocker")
    await api.register("sam_blocked")
    leaver = await api.register("sam_leaver")
    await api.register("sam_suspended")
    await api.register("sam_ok")
    assert (await blocker.put("/api/v1/users/viewer/block")).status_code == 204
    assert (await me.put("/api/v1/users/sam_blocked/block")).status_code == 204
    r = await leaver.post("/api/v1/me/deactivate", json={"password": PASSWORD})
    assert r.status_code == 204
    r = await mod.post(
        "/api/v1/moderation/users/sam_suspended/actions",
        json={"action": "suspend", "note": "spam ring"},
    )
    assert r.status_code == 200, r.text
    assert handles(await search(me, "sam")) == ["sam_ok"]
    # the others still find whom they have not blocked (and have not blocked them)
    assert handles(await search(mod, "sam")) == ["sam_blocked", "sam_blocker", "sam_ok"]


@pytest.mark.parametrize("q", ["", "   ", "@", "x" * 65])
async def test_search_refuses_an_empty_or_long_query(api: Api, q: str) -> None:
    me = await api.register("viewer")
    r = await me.get("/api/v1/users", params={"q": q})
    assert r.status_code == 400 and error_code(r) == "invalid_request"
    r = await me.get("/api/v1/users")
    assert r.status_code == 400 and error_code(r) == "invalid_request"
