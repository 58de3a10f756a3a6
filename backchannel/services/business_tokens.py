"""A business's API tokens (bots, CRM integrations): made and revoked by its owners and
admins, stored hashed like session tokens, acting for the business with a role (never
owner) on its own routes only.

api/deps.py sends a `bcb_` bearer token here (`authenticate_token`) and checks the route
is the token's business's; services/business.py `gate` gives the request the token's role
while the token stands (checked on every use, so a revocation holds on every node at once)
and refuses it the team's and integrations' management; the audit log names the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backchannel.domain import webhooks as rules
from backchannel.domain.ids import new_id, token_hash
from backchannel.errors import BackchannelError
from backchannel.services import business
from backchannel.services.core import Core, Requester
from backchannel.services.views import iso
from backchannel.store import webhooks as db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]
TOKEN_TOUCH_INTERVAL_MS = 10 * 60 * 1000  # "last used" is advisory, as for sessions


def token_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["pid"],
        "name": row["name"],
        "role": row["role"],
        "created_at": iso(row["created_at"]),
        "last_used_at": iso(row["last_used_at"]),
    }


async def create_token(
    core: Core, requester: Requester, handle: str, *, name: str, role: str
) -> dict[str, Any]:
    """A new API token for the business; the token itself is in this answer only."""
    shown = rules.check_token_name(name)
    token_role = rules.check_token_role(role)
    token = rules.new_token()

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_integrations")
        business_id = int(team.business["id"])
        pid = new_id("tok")
        db.insert_token(
            t.conn,
            pid=pid,
            business_id=business_id,
            name=shown,
            role=token_role,
            token_hash=token_hash(token),
            created_by=requester.user_id,
            now=t.now_ms,
        )
        business.audit_in_txn(t, team, requester, "api_token.created", name=shown, role=token_role)
        row = db.token_by_pid(t.conn, business_id, pid)
        assert row is not None
        return {**token_view(row), "token": token}

    return await core.store.write("api_token_create", txn)


async def list_tokens(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_integrations")
        return {"items": [token_view(r) for r in db.tokens_of(t.conn, team.business["id"])]}

    return await core.store.write("api_token_list", txn)


async def revoke_token(core: Core, requester: Requester, handle: str, pid: str) -> None:
    """The token stops working at once, on every node (`gate` checks it still stands)."""

    def txn(t: WriteTxn) -> int:
        team = business.gate(t, requester, handle, "manage_integrations")
        row = db.token_by_pid(t.conn, int(team.business["id"]), pid)
        if row is None:
            raise BackchannelError("api_token_not_found", "No such API token.")
        db.delete_token(t.conn, int(row["id"]))
        business.audit_in_txn(t, team, requester, "api_token.revoked", name=row["name"])
        return int(row["id"])

    token_id = await core.store.write("api_token_revoke", txn)
    for hashed, (cached, _) in list(core.auth_cache.items()):
        if isinstance(cached, business.TokenRequester) and cached.token_id == token_id:
            core.auth_cache.pop(hashed, None)


async def authenticate_token(core: Core, token: str) -> business.TokenRequester:
    """The business a `bcb_` API token acts for, or `unauthenticated`. Cached like a
    session's token; `gate` checks on every use that it was not revoked since."""
    hashed = token_hash(token)
    cached = core.cached_requester(hashed)
    if isinstance(cached, business.TokenRequester):
        return cached
    row = await core.store.read(
        "authenticate_api_token", lambda t: db.token_with_business(t.conn, hashed)
    )
    if row is None:
        raise BackchannelError("unauthenticated", "The bearer token is unknown or revoked.")
    requester = business.TokenRequester(
        int(row["id"]),
        str(row["pid"]),
        str(row["handle"]),
        None,
        str(row["display_name"]),
        created_at=int(row["created_at"]),
        token_id=int(row["token_id"]),
        token_name=str(row["token_name"]),
    )
    now = core.store.now_ms()
    if row["last_used_at"] is None or now - row["last_used_at"] > TOKEN_TOUCH_INTERVAL_MS:
        token_id = requester.token_id
        # Best effort and not awaited on the request path: "last used" is advisory.
        core.spawn(
            core.store.write(
                "touch_api_token", lambda t: db.touch_token(t.conn, token_id, t.now_ms)
            )
        )
    core.remember_token(hashed, requester)
    return requester
