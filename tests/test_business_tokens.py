"""Business API tokens: made by owners and admins, shown once, stored hashed; they act for
the business with their role on its own routes only (every other route of the app refuses
them), are audited under their name, and stop working the moment they are revoked."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from backchannel.domain.ids import token_hash
from backchannel.errors import BackchannelError
from backchannel.services import accounts
from backchannel.services.core import Core
from backchannel.store.tables import business_api_tokens
from tests.conftest import Api, User
from tests.test_authorization import PUBLIC_ROUTES, _fill, app_routes
from tests.test_business import B, become, code, shop_with_team

REFUSED = {(403, "token_scope"), (401, "unauthenticated")}


class Bot(User):
    """An API token with the test client's conveniences (it has no profile of its own)."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        super().__init__(http, token, {"handle": "", "id": ""})


async def make_token(api: Api, by: User, shop: str, name: str = "CRM", **extra: Any) -> Bot:
    r = await by.post(f"{B}/{shop}/tokens", json={"name": name, **extra})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["token"].startswith("bcb_") and body["name"] == " ".join(name.split())
    return Bot(api.http, body["token"])


async def test_tokens_are_made_by_owners_and_admins_shown_once_and_stored_hashed(
    api: Api, core: Core
) -> None:
    _shop, admin, agent, viewer, _customer = await shop_with_team(api)
    stranger = await api.register("stranger")
    for user, status, error in (
        (agent, 403, "business_forbidden"),
        (viewer, 403, "business_forbidden"),
        (stranger, 404, "business_not_found"),
    ):
        r = await user.post(f"{B}/shop/tokens", json={"name": "x"})
        assert (r.status_code, code(r)) == (status, error), user.handle
        r = await user.get(f"{B}/shop/tokens")
        assert (r.status_code, code(r)) == (status, error), user.handle
    for body in ({"name": "x", "role": "owner"}, {"name": "   "}, {"name": "x" * 65}):
        r = await admin.post(f"{B}/shop/tokens", json=body)
        assert r.status_code == 400 and code(r) == "invalid_request", body
    bot = await make_token(api, admin, "shop", "Zendesk  sync")
    r = await admin.get(f"{B}/shop/tokens")
    (listed,) = r.json()["items"]
    assert listed["name"] == "Zendesk sync" and listed["role"] == "agent"
    assert "token" not in listed and bot.token not in r.text

    def stored(t: Any) -> list[str]:
        return [row.token_hash for row in t.conn.execute(business_api_tokens.select())]

    hashes = await core.store.read("test_tokens", stored)
    assert hashes == [token_hash(bot.token)]  # the hash, never the token


async def test_a_token_acts_for_the_business_with_its_role_and_is_audited(api: Api) -> None:
    shop, admin, _agent, _viewer, customer = await shop_with_team(api)
    cid = await customer.direct(shop)
    await customer.send(cid, "Hello?")
    bot = await make_token(api, admin, "shop", "Helpdesk")
    items = (await bot.get(f"{B}/shop/conversations")).json()["items"]
    assert [i["conversation"]["id"] for i in items] == [cid]
    r = await bot.post(f"{B}/SHOP/conversations/{cid}/messages", json={"text": "Hi from the bot"})
    assert r.status_code == 201, r.text
    assert r.json()["sender"]["handle"] == "shop" and r.json().get("agent") is None
    history = (await customer.get(f"/api/v1/conversations/{cid}/messages")).json()["items"]
    assert history[-1]["text"] == "Hi from the bot"
    r = await bot.patch(f"{B}/shop/conversations/{cid}", json={"status": "resolved"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    audit = (await admin.get(f"{B}/shop/audit")).json()["items"]
    by_token = [e for e in audit if e["detail"].get("token") == "Helpdesk"]
    assert {e["action"] for e in by_token} == {
        "inbox.listed",
        "message.sent",
        "conversation.updated",
    }
    assert all(e["actor"]["handle"] == "shop" for e in by_token)
    assert not [e for e in audit if e["actor"]["handle"] == "ada" and "token" in e["detail"]]

    # roles: a viewer token reads but does not reply; no token manages team or integrations
    viewer_bot = await make_token(api, admin, "shop", "Dashboard", role="viewer")
    assert (await viewer_bot.get(f"{B}/shop/conversations")).status_code == 200
    r = await viewer_bot.post(f"{B}/shop/conversations/{cid}/messages", json={"text": "x"})
    assert r.status_code == 403 and code(r) == "business_forbidden"
    admin_bot = await make_token(api, admin, "shop", "Ops", role="admin")
    stranger = await api.register("newbie")
    for method, path, body in (
        ("PUT", f"{B}/shop/members/{stranger.handle}", {"role": "admin"}),
        ("POST", f"{B}/shop/tokens", {"name": "more"}),
        ("GET", f"{B}/shop/tokens", None),
        ("POST", f"{B}/shop/webhooks", {"url": "https://x.example/", "events": ["message.sent"]}),
        ("GET", f"{B}/shop/webhooks", None),
    ):
        r = await admin_bot.request(method, path, json=body)
        assert r.status_code == 403 and code(r) == "business_forbidden", (method, path)
    members = (await admin.get(f"{B}/shop/members")).json()["items"]
    assert stranger.handle not in [m["user"]["handle"] for m in members]


async def test_a_token_works_on_its_business_routes_only(api: Api, core: Core) -> None:
    _shop, admin, _agent, _viewer, _customer = await shop_with_team(api)
    other = await api.register("othershop")
    await become(other)
    bot = await make_token(api, admin, "shop")
    assert (await bot.get(f"{B}/shop")).status_code == 200  # used: in the auth cache now
    routes = app_routes(api.app)
    failures = []
    for method, template in sorted(routes - PUBLIC_ROUTES):
        if template.startswith("/api/v1/businesses/{handle}"):
            # another business's routes, existing or not, are out of scope alike
            paths = [template.replace("{handle}", h) for h in ("othershop", "nosuchshop")]
        else:
            paths = [template]
        for path in paths:
            r = await bot.request(method, _fill(path))
            # 403 token_scope; 401 from the routes that authenticate for themselves
            # (media downloads, which also take signed links)
            if (r.status_code, code(r)) not in REFUSED:
                failures.append(f"{method} {path}: {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)
    # the stream refuses it too (the gateway authenticates sessions only)
    with pytest.raises(BackchannelError) as refused:
        await accounts.authenticate(core, bot.token)
    assert refused.value.code == "unauthenticated"
    # and an unknown token of the business kind is unauthenticated, as any unknown token
    r = await api.http.get(f"{B}/shop", headers={"Authorization": "Bearer bcb_not-a-token"})
    assert r.status_code == 401 and code(r) == "unauthenticated"
    # its own business's routes are within reach
    r = await bot.get(f"{B}/shop")
    assert r.status_code == 200 and r.json()["business"]["handle"] == "shop"


async def test_a_revoked_token_stops_at_once(api: Api, core: Core) -> None:
    shop, admin, agent, _viewer, _customer = await shop_with_team(api)
    bot = await make_token(api, admin, "shop", "Temp")
    keep = await make_token(api, shop, "shop", "Keep")
    tokens = (await admin.get(f"{B}/shop/tokens")).json()["items"]
    assert [t["last_used_at"] for t in tokens] == [None, None]
    assert (await bot.get(f"{B}/shop/conversations")).status_code == 200  # now cached
    await asyncio.gather(*core.background)  # "last used" is written in the background
    tokens = (await admin.get(f"{B}/shop/tokens")).json()["items"]
    temp = next(t for t in tokens if t["name"] == "Temp")
    assert temp["last_used_at"] is not None
    r = await agent.delete(f"{B}/shop/tokens/{temp['id']}")
    assert r.status_code == 403 and code(r) == "business_forbidden"
    r = await admin.delete(f"{B}/shop/tokens/{temp['id']}")
    assert r.status_code == 204
    r = await bot.get(f"{B}/shop/conversations")
    assert r.status_code == 401 and code(r) == "unauthenticated"
    r = await admin.delete(f"{B}/shop/tokens/{temp['id']}")
    assert r.status_code == 404 and code(r) == "api_token_not_found"
    assert (await keep.get(f"{B}/shop/conversations")).status_code == 200
    names = [t["name"] for t in (await admin.get(f"{B}/shop/tokens")).json()["items"]]
    assert names == ["Keep"]
    actions = [e["action"] for e in (await admin.get(f"{B}/shop/audit")).json()["items"]]
    assert "api_token.revoked" in actions and "api_token.created" in actions
