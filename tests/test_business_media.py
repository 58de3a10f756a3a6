"""Photos and files in the business inbox for the team: a teammate is no member of the
business's conversations, so they get signed links from the team route, within their
scope, for messages since the conversation entered the inbox — and nothing else."""

from __future__ import annotations

import httpx

from tests.conftest import Api, User
from tests.media_files import jpeg
from tests.test_business import B, add, become, code, shop_with_team

MEDIA = "/api/v1/media"


async def photo(user: User, cid: str, text: str = "look", **fields: str) -> str:
    r = await user.post(MEDIA, files={"file": ("p.jpg", jpeg(), "image/jpeg")}, data=fields)
    assert r.status_code == 201, r.text
    media_id = str(r.json()["id"])
    await user.send(cid, text, media=[media_id])
    return media_id


async def links(user: User, media_id: str, handle: str = "shop") -> httpx.Response:
    return await user.get(f"{B}/{handle}/media/{media_id}/links")


async def test_a_teammate_sees_a_customers_photo_through_signed_links(api: Api) -> None:
    shop, admin, agent, viewer, customer = await shop_with_team(api)
    cid = await customer.direct(shop)
    media_id = await photo(customer, cid)
    # the member route refuses the teammate: they are not in the conversation
    r = await agent.get(f"{MEDIA}/{media_id}/links")
    assert r.status_code == 404 and code(r) == "media_not_found"
    for teammate in (agent, viewer):
        r = await links(teammate, media_id)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["expires_in"] > 0 and body["thumbnail_url"]
        # the links work with no token at all (an <img src>)
        got = await api.http.get(body["url"])
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        assert got.content[:2] == b"\xff\xd8"
        small = await api.http.get(body["thumbnail_url"])
        assert small.status_code == 200 and small.headers["content-type"] == "image/jpeg"
    # and every such read is in the audit log, with the conversation
    log = (await admin.get(f"{B}/shop/audit", params={"actor": "agnes"})).json()["items"]
    reads = [e for e in log if e["action"] == "media.read"]
    assert len(reads) == 1 and reads[0]["conversation_id"] == cid
    assert reads[0]["detail"]["media"] == media_id


async def test_only_the_inbox_in_scope_and_since_it_began(api: Api) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    stranger, other = await api.register("stan"), await api.register("otto")
    # a conversation from before the account was a business stays the account's own
    friend = await api.register("fran")
    before_shop = await api.register("oldshop")
    personal = await friend.direct(before_shop)
    old_photo = await photo(friend, personal)
    await become(before_shop, timezone="UTC")
    await add(before_shop, before_shop, agent, "agent")
    r = await links(agent, old_photo, "oldshop")
    assert r.status_code == 404 and code(r) == "media_not_found"
    # someone else's conversation, an unattached upload, and a made-up id look alike
    elsewhere = await photo(stranger, await stranger.direct(other))
    r = await stranger.post(MEDIA, files={"file": ("p.jpg", jpeg(), "image/jpeg")})
    loose = str(r.json()["id"])
    for media_id in (elsewhere, loose, "m_nothing", "not an id"):
        r = await links(agent, media_id)
        assert r.status_code == 404 and code(r) == "media_not_found", media_id
    # an agent narrowed to their own assignments sees only those conversations' media
    cid = await customer.direct(shop)
    media_id = await photo(customer, cid)
    await add(shop, shop, agent, "agent", expect=200, scope="assigned")
    r = await links(agent, media_id)
    assert r.status_code == 404 and code(r) == "media_not_found"
    r = await admin.patch(f"{B}/shop/conversations/{cid}", json={"assignee": "agnes"})
    assert r.status_code == 200, r.text
    assert (await links(agent, media_id)).status_code == 200
    # someone not on the team learns nothing, not even that the business exists
    r = await links(stranger, media_id)
    assert r.status_code == 404 and code(r) == "business_not_found"


async def test_view_once_and_unsent_media_are_not_the_teams(api: Api) -> None:
    shop, _admin, agent, viewer, customer = await shop_with_team(api)
    cid = await customer.direct(shop)
    once = await photo(customer, cid, view_once="true")
    for teammate in (agent, viewer):
        r = await links(teammate, once)
        assert r.status_code == 404 and code(r) == "media_not_found"
    kept = await photo(customer, cid, "oops")
    assert (await links(agent, kept)).status_code == 200
    history = (await customer.get(f"/api/v1/conversations/{cid}/messages")).json()["items"]
    sent = next(m for m in history if m["text"] == "oops")
    r = await customer.post(f"/api/v1/conversations/{cid}/messages/{sent['id']}/unsend")
    assert r.status_code == 200, r.text
    r = await links(agent, kept)
    assert r.status_code == 404 and code(r) == "media_not_found"
