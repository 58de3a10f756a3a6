"""Use cases for accounts and sessions: register, log in, devices, profile, deactivate."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from backchannel.config import Settings
from backchannel.domain import accounts as rules
from backchannel.domain import policy
from backchannel.domain.ids import is_public_id, new_id, new_token, token_hash
from backchannel.domain.webhooks import TOKEN_PREFIX as BUSINESS_TOKEN_PREFIX
from backchannel.errors import BackchannelError
from backchannel.services import limits, presence
from backchannel.services.core import Core, Requester
from backchannel.services.views import iso, profile_view
from backchannel.store import accounts as db
from backchannel.store import conversations as conv_db
from backchannel.store import erasure as erasure_db
from backchannel.store import presence as presence_db
from backchannel.store.database import ReadTxn, WriteTxn

SESSION_TOUCH_INTERVAL_MS = 10 * 60 * 1000


async def register(
    core: Core,
    *,
    handle: str,
    password: str,
    display_name: str | None,
    device_name: str,
    birth_date: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Create an account and its first session. Returns (profile, bearer token).
    `birth_date` (YYYY-MM-DD), when the host platform knows it, protects minors."""
    handle = rules.normalize_handle(handle)
    born = None
    if birth_date is not None:
        born = policy.parse_birth_date(birth_date, today=datetime.now(UTC).date()).isoformat()
    rules.check_password(password, handle=handle, min_length=core.settings.min_password_length)
    name = rules.clean_text_field(
        display_name or handle,
        field="display_name",
        max_length=rules.DISPLAY_NAME_MAX,
        allow_empty=False,
    )
    device = _device(device_name)
    password_hash = await core.hash_password(password)
    token = new_token()

    def txn(t: WriteTxn) -> dict[str, Any]:
        # An erased account's handle is held back for a while (services/erasure.py).
        if db.handle_exists(t.conn, handle) or erasure_db.handle_held(
            t.conn, token_hash(handle), now=t.now_ms
        ):
            raise BackchannelError("handle_taken", f"The handle {handle!r} is taken.")
        # The first account ever is the deployment's first moderator (docs/operations.md).
        # Writes are serialized (store/database.py), so two "first" accounts cannot race.
        role = "user" if db.any_user_exists(t.conn) else "admin"
        user = db.insert_user(
            t.conn,
            pid=new_id("u"),
            handle=handle,
            display_name=name,
            password_hash=password_hash,
            now=t.now_ms,
            role=role,
        )
        if born is not None:
            db.update_user(t.conn, user["id"], birth_date=born)
        db.insert_session(
            t.conn,
            pid=new_id("s"),
            user_id=user["id"],
            token_hash=token_hash(token),
            device_name=device,
            now=t.now_ms,
        )
        return profile_view(user)

    try:
        profile = await core.store.write("register", txn)
    except IntegrityError as exc:  # a concurrent registration on another node won the race
        raise BackchannelError("handle_taken", f"The handle {handle!r} is taken.") from exc
    return profile, token


async def login(
    core: Core, *, handle: str, password: str, device_name: str
) -> tuple[dict[str, Any], str]:
    """Check a password and open a new session. Returns (profile, bearer token).

    A suspended account gets `account_suspended`, but only with the right password:
    without it, a suspension is not revealed."""
    try:
        canonical = rules.normalize_handle(handle)
    except BackchannelError:
        canonical = ""
    found = None
    if canonical:
        found = await core.store.read(
            "login_lookup", lambda t: db.password_hash_for(t.conn, canonical)
        )
    ok = await core.verify_password(found[1] if found else None, password[: rules.PASSWORD_MAX])
    if not ok or found is None:
        raise BackchannelError("invalid_credentials", "Wrong handle or password.")
    user_id = found[0]
    token = new_token()
    device = _device(device_name)

    def txn(t: WriteTxn) -> dict[str, Any]:
        if db.is_suspended(t.conn, user_id):
            raise BackchannelError("account_suspended", "This account is suspended.")
        db.insert_session(
            t.conn,
            pid=new_id("s"),
            user_id=user_id,
            token_hash=token_hash(token),
            device_name=device,
            now=t.now_ms,
        )
        user = db.user_by_id(t.conn, user_id)
        assert user is not None
        return profile_view(user)

    return await core.store.write("login", txn), token


async def authenticate(core: Core, token: str) -> Requester:
    """The requester a bearer token stands for, or `unauthenticated`. A business API
    token is none of these: it shares the auth cache, so it is refused before it."""
    if token.startswith(BUSINESS_TOKEN_PREFIX):
        raise BackchannelError("unauthenticated", "API tokens work on business routes only.")
    hashed = token_hash(token)
    cached = core.cached_requester(hashed)
    if cached is not None:
        return cached
    row = await core.store.read("authenticate", lambda t: db.session_with_user(t.conn, hashed))
    if row is None:
        raise BackchannelError("unauthenticated", "The bearer token is unknown or revoked.")
    now = _now_ms()
    tier = limits.tier_of(core.settings, row, now)
    requester = Requester(
        row["id"],
        row["pid"],
        row["handle"],
        row["session_id"],
        row["display_name"],
        tier,
        row["created_at"],
    )
    if now - row["last_used_at"] > SESSION_TOUCH_INTERVAL_MS:
        session_id = row["session_id"]
        # Best effort and not awaited on the request path: "last used" is advisory.
        core.spawn(
            core.store.write("touch_session", lambda t: db.touch_session(t.conn, session_id, now))
        )
    core.remember_token(hashed, requester)
    return requester


async def session_stands(core: Core, requester: Requester) -> bool:
    """Whether the requester's session still exists and their account is active (a live
    socket asks after `Core.forget_user_tokens`)."""
    if requester.session_id is None:
        return False
    session_id = requester.session_id
    return await core.store.read("session_stands", lambda t: db.session_active(t.conn, session_id))


async def logout(core: Core, requester: Requester) -> None:
    session_id = requester.session_id

    def txn(t: WriteTxn) -> None:
        if session_id is not None:
            db.delete_session_by_id(t.conn, session_id)

    await core.store.write("logout", txn)
    core.forget_user_tokens(requester.user_id)


async def list_sessions(core: Core, requester: Requester) -> list[dict[str, Any]]:
    rows = await core.store.read(
        "list_sessions", lambda t: db.list_sessions(t.conn, requester.user_id)
    )
    return [
        {
            "id": row["pid"],
            "device_name": row["device_name"],
            "created_at": iso(row["created_at"]),
            "last_used_at": iso(row["last_used_at"]),
            "current": row["id"] == requester.session_id,
        }
        for row in rows
    ]


async def revoke_session(core: Core, requester: Requester, session_pid: str) -> None:
    def txn(t: WriteTxn) -> None:
        if not is_public_id(session_pid) or not db.delete_session(
            t.conn, user_id=requester.user_id, session_pid=session_pid
        ):
            raise BackchannelError("session_not_found", "You have no session with that id.")

    await core.store.write("revoke_session", txn)
    core.forget_user_tokens(requester.user_id)


async def change_password(
    core: Core, requester: Requester, *, current_password: str, new_password: str
) -> int:
    """Set a new password and revoke every other session. Returns how many were revoked."""
    current_hash = await core.store.read(
        "password_lookup", lambda t: db.password_hash_by_id(t.conn, requester.user_id)
    )
    if not await core.verify_password(current_hash, current_password[: rules.PASSWORD_MAX]):
        raise BackchannelError("wrong_password", "The current password is wrong.")
    rules.check_password(
        new_password, handle=requester.handle, min_length=core.settings.min_password_length
    )
    new_hash = await core.hash_password(new_password)

    def txn(t: WriteTxn) -> int:
        db.update_user(t.conn, requester.user_id, password_hash=new_hash)
        return db.delete_sessions_except(
            t.conn, user_id=requester.user_id, keep_id=requester.session_id
        )

    revoked = await core.store.write("change_password", txn)
    core.forget_user_tokens(requester.user_id)
    return revoked


async def set_password_admin(core: Core, handle: str, new_password: str) -> None:
    """Operator reset (CLI): new password, every session revoked."""
    handle = rules.normalize_handle(handle)
    rules.check_password(new_password, handle=handle, min_length=core.settings.min_password_length)
    new_hash = await core.hash_password(new_password)

    def txn(t: WriteTxn) -> int:
        user = db.user_by_handle(t.conn, handle)
        if user is None:
            raise BackchannelError("user_not_found", f"No active user {handle!r}.")
        db.update_user(t.conn, user["id"], password_hash=new_hash)
        db.delete_sessions_except(t.conn, user_id=user["id"], keep_id=None)
        return int(user["id"])

    core.forget_user_tokens(await core.store.write("set_password_admin", txn))


def settings_view(settings: Settings, user: Any) -> dict[str, Any]:
    return {
        "read_receipts": bool(user["read_receipts"]),
        "activity_status": bool(user["activity_status"]),
        "dm_inbox": user["dm_inbox"] or settings.dm_inbox_default,
        "dm_requests": user["dm_requests"] or settings.dm_requests_default,
        "birth_date": user["birth_date"],
    }


async def get_settings(core: Core, requester: Requester) -> dict[str, Any]:
    user = await core.store.read(
        "get_settings", lambda t: db.settings_of(t.conn, requester.user_id)
    )
    assert user is not None
    return settings_view(core.settings, user)


async def update_settings(
    core: Core,
    requester: Requester,
    *,
    read_receipts: bool | None,
    activity_status: bool | None = None,
    dm_inbox: str | None = None,
    dm_requests: str | None = None,
    birth_date: str | None = None,
) -> dict[str, Any]:
    """Change the requester's settings. Both are reciprocal: read receipts turned off,
    the requester neither sends receipts nor sees anyone's; activity status turned off,
    nobody sees their presence and they see nobody's. Those who could see their presence
    are told the change at once (a `presence` frame)."""
    # When activity status flips: (the viewers to tell, "last active").
    Flip = tuple[list[int], int | None] | None
    reach: dict[str, Any] = {}
    if dm_inbox is not None:
        reach["dm_inbox"] = policy.check_choice(dm_inbox, policy.INBOX_CHOICES, field="dm_inbox")
    if dm_requests is not None:
        reach["dm_requests"] = policy.check_choice(
            dm_requests, policy.REQUEST_CHOICES, field="dm_requests"
        )
    if birth_date is not None:
        today = datetime.now(UTC).date()
        reach["birth_date"] = policy.parse_birth_date(birth_date, today=today).isoformat()

    def txn(t: WriteTxn) -> tuple[dict[str, Any], Flip]:
        flip: Flip = None
        if reach:
            db.update_user(t.conn, requester.user_id, **reach)
        if read_receipts is not None:
            db.update_user(t.conn, requester.user_id, read_receipts=int(read_receipts))
        if activity_status is not None:
            # The audience with the setting on: before turning it off, after turning it on.
            before, viewers = presence_db.audience(t.conn, requester.user_id)
            was_on = before is not None and bool(before["activity_status"])
            db.update_user(t.conn, requester.user_id, activity_status=int(activity_status))
            if activity_status and not was_on:
                after, viewers = presence_db.audience(t.conn, requester.user_id)
                flip = viewers, after["last_active_at"] if after else None
            elif was_on and not activity_status:
                flip = viewers, None
        user = db.settings_of(t.conn, requester.user_id)
        assert user is not None
        return settings_view(core.settings, user), flip

    settings, flip = await core.store.write("update_settings", txn)
    if flip is not None:
        viewers, last_active_at = flip
        await presence.visibility_changed(
            core,
            requester,
            shown=bool(activity_status),
            viewers=viewers,
            last_active_at=last_active_at,
        )
    return settings


async def get_me(core: Core, requester: Requester) -> dict[str, Any]:
    def txn(t: ReadTxn) -> dict[str, Any]:
        user = db.user_by_id(t.conn, requester.user_id)
        assert user is not None
        followers, following = db.follow_counts(t.conn, requester.user_id)
        return profile_view(
            user, followers_count=followers, following_count=following, role=user["role"]
        )

    return await core.store.read("get_me", txn)


async def update_me(
    core: Core, requester: Requester, *, display_name: str | None, bio: str | None
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if display_name is not None:
        values["display_name"] = rules.clean_text_field(
            display_name,
            field="display_name",
            max_length=rules.DISPLAY_NAME_MAX,
            allow_empty=False,
        )
    if bio is not None:
        values["bio"] = rules.clean_text_field(
            bio, field="bio", max_length=rules.BIO_MAX, allow_empty=True
        )

    def txn(t: WriteTxn) -> dict[str, Any]:
        if values:
            db.update_user(t.conn, requester.user_id, **values)
        user = db.user_by_id(t.conn, requester.user_id)
        assert user is not None
        followers, following = db.follow_counts(t.conn, requester.user_id)
        return profile_view(user, followers_count=followers, following_count=following)

    profile = await core.store.write("update_me", txn)
    core.forget_user_tokens(requester.user_id)  # cached requesters carry the display name
    return profile


async def deactivate(core: Core, requester: Requester, *, password: str) -> None:
    current_hash = await core.store.read(
        "password_lookup", lambda t: db.password_hash_by_id(t.conn, requester.user_id)
    )
    if not await core.verify_password(current_hash, password[: rules.PASSWORD_MAX]):
        raise BackchannelError("wrong_password", "The password is wrong.")
    await deactivate_user(core, requester.user_id)


async def deactivate_user(core: Core, user_id: int) -> None:
    """Erase a profile and sign out everywhere. Messages stay, shown as a deleted user.

    The handle is released (replaced by an unguessable placeholder) so that
    nobody can look the account up by it any more.
    """
    await core.store.write("deactivate_user", lambda t: deactivate_in_txn(t, user_id))
    core.forget_user_tokens(user_id)


def deactivate_in_txn(t: WriteTxn, user_id: int) -> None:
    """`deactivate_user`'s writes, in the caller's transaction (services/erasure.py adds
    its own to them); the caller forgets the user's tokens after the commit."""
    from backchannel.services import conversations as conversation_service

    db.update_user(
        t.conn,
        user_id,
        handle="~" + secrets.token_urlsafe(16),
        display_name="",
        bio="",
        password_hash=None,
        deactivated_at=t.now_ms,
    )
    db.delete_sessions_except(t.conn, user_id=user_id, keep_id=None)
    db.delete_follows_of(t.conn, user_id)
    for conversation_id in conv_db.group_ids_of(t.conn, user_id):
        conversation_service.leave_in_txn(t, conversation_id, user_id, by_id=user_id)


async def create_user_admin(
    core: Core, *, handle: str, password: str, display_name: str | None
) -> dict[str, Any]:
    """Operator account creation (CLI): like `register`, without opening a session."""
    profile, _token = await register(
        core, handle=handle, password=password, display_name=display_name, device_name="cli"
    )
    handle = profile["handle"]

    def txn(t: WriteTxn) -> None:
        user = db.user_by_handle(t.conn, handle)
        assert user is not None
        db.delete_sessions_except(t.conn, user_id=user["id"], keep_id=None)

    await core.store.write("drop_cli_session", txn)
    return profile


async def list_users(core: Core, *, include_deactivated: bool) -> list[dict[str, Any]]:
    rows = await core.store.read(
        "list_users", lambda t: db.list_users(t.conn, include_deactivated=include_deactivated)
    )
    return [profile_view(row) for row in rows]


def _device(device_name: str) -> str:
    return rules.clean_text_field(
        device_name or "unnamed device", field="device_name", max_length=64, allow_empty=False
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


async def deactivate_by_handle(core: Core, handle: str) -> None:
    """Operator deactivation (CLI)."""
    canonical = rules.normalize_handle(handle)
    user = await core.store.read("user_lookup", lambda t: db.user_by_handle(t.conn, canonical))
    if user is None:
        raise BackchannelError("user_not_found", f"No active user {canonical!r}.")
    await deactivate_user(core, user["id"])
