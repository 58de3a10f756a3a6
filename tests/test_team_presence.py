"""Who else on the team is viewing or answering a business conversation: relayed live to
the teammates who may see it, never to the customer, a narrowed agent or an outsider, and
ended by itself or when the socket goes."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection

from backchannel.client import Client
from backchannel.client.errors import ApiError
from backchannel.services.team_presence import TYPING_TTL_MS, VIEWING_TTL_MS
from tests.conftest import PASSWORD
from tests.servers import Servers
from tests.test_gateway import next_frame, open_stream

B = "/api/v1/businesses"


async def call(client: Client, method: str, path: str, **kwargs: Any) -> Any:
    """A raw API call: the reply's body, or the error body for an error."""
    try:
        return await client._request(method, path, **kwargs)
    except ApiError as exc:
        return {"error": {"code": exc.code}, "status": exc.status}


async def quiet(ws: ClientConnection, op: str, seconds: float = 0.6) -> None:
    """Nothing of `op` arrives within `seconds` (other frames are skipped)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            return
        assert frame["op"] != op, frame


async def test_teammates_see_who_is_viewing_and_typing(tmp_path: Path, servers: Servers) -> None:
    server = await servers.serve(tmp_path / "data")
    handles = ("shop", "agnes", "otto", "nora", "cyd", "eve")
    clients = [await Client.register(server.url, h, PASSWORD) for h in handles]
    shop, _agnes, otto, _nora, cyd, _eve = clients
    by_handle = dict(zip(handles, clients, strict=True))
    try:
        await call(shop, "POST", "/api/v1/me/business", json={"timezone": "UTC"})
        for member, scope in (("agnes", "all"), ("otto", "all"), ("nora", "assigned")):
            await call(
                shop,
                "PUT",
                f"{B}/shop/members/{member}",
                json={"role": "agent", "scope": scope},
            )
        conversation = (await cyd.open_direct("shop"))["id"]
        await cyd.send(conversation, "Is my order on its way?")
        sockets = {h: (await open_stream(server.url, c.token))[0] for h, c in by_handle.items()}

        viewing = {
            "op": "team_presence",
            "id": "p1",
            "business": "shop",
            "conversation_id": conversation,
            "state": "viewing",
        }
        await sockets["agnes"].send(orjson.dumps(viewing).decode())
        ack = await next_frame(sockets["agnes"], "ack")
        assert ack == {"op": "ack", "id": "p1", "told": 2}  # otto and the shop itself
        heard = await next_frame(sockets["otto"], "team_presence")
        assert heard == {
            "op": "team_presence",
            "business": "shop",
            "conversation_id": conversation,
            "user": {"handle": "agnes", "display_name": "agnes"},
            "state": "viewing",
            "expires_in_ms": VIEWING_TTL_MS,
        }
        assert (await next_frame(sockets["shop"], "team_presence"))["user"]["handle"] == "agnes"
        # over REST too: otto starts typing
        told = await call(
            otto,
            "POST",
            f"{B}/shop/conversations/{conversation}/presence",
            json={"state": "typing"},
        )
        assert told == {"told": 2}
        typing = await next_frame(sockets["agnes"], "team_presence")
        assert (typing["user"]["handle"], typing["state"]) == ("otto", "typing")
        assert typing["expires_in_ms"] == TYPING_TTL_MS
        # not the customer, not an agent narrowed to their own conversations, not outsiders
        for handle in ("cyd", "nora", "eve"):
            await quiet(sockets[handle], "team_presence")
        # an outsider and the customer cannot announce: the same 404s as for everything
        for who in ("eve", "cyd"):
            await sockets[who].send(orjson.dumps({**viewing, "id": "x"}).decode())
            refused = await next_frame(sockets[who], "error")
            assert refused["error"]["code"] == "business_not_found"
        await sockets["nora"].send(orjson.dumps({**viewing, "id": "n"}).decode())
        assert (await next_frame(sockets["nora"], "error"))["error"]["code"] == (
            "conversation_not_found"
        )
        bad = await call(
            otto, "POST", f"{B}/shop/conversations/{conversation}/presence", json={"state": "x"}
        )
        assert bad["error"]["code"] == "invalid_request"
        # assigned to nora, she hears it (her scope now covers it)
        await call(
            shop, "PATCH", f"{B}/shop/conversations/{conversation}", json={"assignee": "nora"}
        )
        await sockets["agnes"].send(orjson.dumps({**viewing, "id": "p2"}).decode())
        assert (await next_frame(sockets["agnes"], "ack"))["told"] == 3
        assert (await next_frame(sockets["nora"], "team_presence"))["state"] == "viewing"
        assert (await next_frame(sockets["otto"], "team_presence"))["state"] == "viewing"
        # agnes's socket goes: everyone who was told hears she left, at once
        await sockets["agnes"].close()
        left = await next_frame(sockets["otto"], "team_presence")
        assert (left["user"]["handle"], left["state"], left["expires_in_ms"]) == (
            "agnes",
            "left",
            0,
        )
        # otto's typing was not refreshed: it ends by itself for those told of it (the
        # shop; not nora, for whom the conversation was out of scope then)
        while True:
            frame = orjson.loads(await asyncio.wait_for(sockets["shop"].recv(), 10))
            otto = frame["op"] == "team_presence" and frame["user"]["handle"] == "otto"
            if otto and frame["state"] == "left":
                break
        heard_by_nora = []
        with contextlib.suppress(TimeoutError):
            while True:
                heard_by_nora.append(
                    orjson.loads(await asyncio.wait_for(sockets["nora"].recv(), 0.3))
                )
        assert [f["user"]["handle"] for f in heard_by_nora if f["op"] == "team_presence"] == [
            "agnes"  # her leaving, of which nora had been told
        ]
        for handle, ws in sockets.items():
            if handle != "agnes":
                await ws.close()
    finally:
        for client in clients:
            await client.close()


@pytest.mark.parametrize("state", ["viewing", "left"])
async def test_presence_is_not_for_viewers_of_nothing(
    tmp_path: Path, servers: Servers, state: str
) -> None:
    """A former teammate cannot announce; a business's own conversations from before it
    became one are not in its inbox."""
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "shop", PASSWORD) as shop,
        await Client.register(server.url, "agnes", PASSWORD) as agnes,
        await Client.register(server.url, "cyd", PASSWORD) as cyd,
    ):
        before = (await cyd.open_direct("shop"))["id"]
        await call(shop, "POST", "/api/v1/me/business", json={"timezone": "UTC"})
        await call(shop, "PUT", f"{B}/shop/members/agnes", json={"role": "agent"})
        path = f"{B}/shop/conversations/{before}/presence"
        r = await call(agnes, "POST", path, json={"state": state})
        assert r["error"]["code"] == "conversation_not_found"
        after = (await cyd.open_direct("shop"))["id"]
        assert after == before  # the same direct conversation: still the account's own
        await call(shop, "DELETE", f"{B}/shop/members/agnes")
        r = await call(agnes, "POST", path, json={"state": state})
        assert r["error"]["code"] == "business_not_found"
