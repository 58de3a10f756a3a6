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
