"""Use cases for profiles and the follow graph."""

from __future__ import annotations

from typing import Any

from backchannel.domain import accounts as rules
from backchannel.errors import BackchannelError
from backchannel.services import pagination
from backchannel.services.core import Core, Requester
from backchannel.services.views import profile_view, user_view
from backchannel.store import accounts as db
from backchannel.store.database import ReadTxn, WriteTxn


def _handle(raw: str) -> str:
    try:
        return rules.normalize_handle(raw)
    except BackchannelError:
        raise BackchannelError("user_not_found", "No such user.") from None


async def get_user(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    handle = _handle(handle)

    def txn(t: ReadTxn) -> dict[str, Any]:
        user = db.user_by_handle(t.conn, handle)
        if user is None:
            raise BackchannelError("user_not_found", "No such user.")
        followers, following = db.follow_counts(t.conn, user["id"])
        return profile_view(
            user,
            followers_count=followers,
            following_count=following,
            followed_by_me=db.is_following(
                t.conn, follower_id=requester.user_id, followee_id=user["id"]
            ),
            follows_me=db.is_following(
                t.conn, follower_id=user["id"], followee_id=requester.user_id
            ),
        )

    return await core.store.read("get_user", txn)


async def set_follow(core: Core, requester: Requester, handle: str, *, follow: bool) -> None:
    handle = _handle(handle)

    def txn(t: WriteTxn) -> None:
        user = db.user_by_handle(t.conn, handle)
        if user is None:
            raise BackchannelError("user_not_found", "No such user.")
        if user["id"] == requester.user_id:
            raise BackchannelError("cannot_follow_self", "You cannot follow yourself.")
        if follow:
            db.follow(t.conn, follower_id=requester.user_id, followee_id=user["id"], now=t.now_ms)
        else:
            db.unfollow(t.conn, follower_id=requester.user_id, followee_id=user["id"])

    await core.store.write("follow" if follow else "unfollow", txn)


async def follow_list(
    core: Core,
    requester: Requester,
    handle: str,
    *,
    direction: str,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """One page of a user's followers or followees, newest first."""
    handle = _handle(handle)
    before = pagination.decode(cursor, 2)
    size = pagination.clamp(limit)

    def txn(t: ReadTxn) -> dict[str, Any]:
        user = db.user_by_handle(t.conn, handle)
        if user is None:
            raise BackchannelError("user_not_found", "No such user.")
        rows = db.follow_page(
            t.conn,
            user_id=user["id"],
            direction=direction,
            before=(before[0], before[1]) if before else None,
            limit=size + 1,
        )
        return pagination.page(rows, size, user_view, lambda row: (row["followed_at"], row["id"]))

    return await core.store.read(f"list_{direction}", txn)


SEARCH_MAX = 20


async def search_users(
    core: Core, requester: Requester, query: str, *, limit: int | None
) -> dict[str, Any]:
    """People to start a conversation with: handle or name prefixes (`@` optional),
    ranked with the exact handle and people you follow first. Whoever blocked you, or
    whom you blocked, is not found (as if they did not exist)."""
    text = " ".join(query.strip().removeprefix("@").split()).lower()
    if not text:
        raise BackchannelError("invalid_request", "Type part of a handle or a name.")
    size = min(limit or 10, SEARCH_MAX)

    def txn(t: ReadTxn) -> dict[str, Any]:
        rows = db.search_users(t.conn, viewer_id=requester.user_id, query=text, limit=size)
        return {
            "items": [
                {**user_view(row), "followed_by_me": bool(row["followed_by_me"])} for row in rows
            ]
        }

    return await core.store.read("search_users", txn)
