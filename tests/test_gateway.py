"""The WebSocket gateway against a real server, with real WebSocket clients."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from backchannel.client import Client
from tests.conftest import PASSWORD
from tests.servers import Servers

pytestmark = pytest.mark.server


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/api/v1/stream"


async def open_stream(
    server_url: str, token: str | None, since: str | None = None
) -> tuple[ClientConnection, dict[str, Any]]:
    assert token is not None, "the client has no token"
    ws = await websockets.connect(ws_url(server_url))
    frame: dict[str, Any] = {"op": "auth", "token": token}
    if since is not None:
        frame["since"] = since
    await ws.send(orjson.dumps(frame).decode())
    ready = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
    return ws, ready


@contextlib.asynccontextmanager
async def alice_and_bob(server_url: str) -> AsyncIterator[tuple[Client, Client, str]]:
    """Two new accounts and the direct conversation alice opened with bob."""
    async with (
        await Client.register(server_url, "alice", PASSWORD) as alice,
        await Client.register(server_url, "bob", PASSWORD) as bob,
    ):
        yield alice, bob, (await alice.open_direct("bob"))["id"]


async def next_frame(ws: ClientConnection, op: str) -> dict[str, Any]:
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame["op"] == op:
            return dict(frame)


async def test_replay_live_events_and_actions(tmp_path: Path, servers: Servers) -> None:
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        start = (await bob.sync())["next"]
        conversation = (await alice.open_direct("bob"))["id"]
        first = await alice.send(conversation, "before bob connected")
        assert bob.token is not None and alice.token is not None

        ws, ready = await open_stream(server.url, bob.token, since=start)
        assert ready["op"] == "ready"
        replayed = [await next_frame(ws, "event") for _ in range(2)]
        assert [e["type"] for e in replayed] == ["conversation.created", "message.created"]
        assert replayed[1]["data"]["message"]["id"] == first["id"]

        await alice.send(conversation, "live")
        live = await next_frame(ws, "event")
        assert live["data"]["message"]["text"] == "live"

        # Bob answers over the socket; a retry of the same txn_id acks the same message.
        send = {"op": "send", "id": "r1", "conversation_id": conversation, "text": "hi alice",
                "txn_id": "ws-1"}  # fmt: skip
        await ws.send(orjson.dumps(send).decode())
        ack = await next_frame(ws, "ack")
        assert ack["id"] == "r1" and ack["status"] == 201
        await ws.send(orjson.dumps({**send, "id": "r2"}).decode())
        again = await next_frame(ws, "ack")
        assert again["status"] == 200 and again["message"]["id"] == ack["message"]["id"]

        # errors carry the REST codes
        await ws.send(orjson.dumps({**send, "id": "r3", "conversation_id": "c_nope"}).decode())
        error = await next_frame(ws, "error")
        assert error["id"] == "r3" and error["error"]["code"] == "conversation_not_found"

        await ws.send(orjson.dumps({"op": "read", "id": "r4", "conversation_id": conversation,
                                    "up_to": live["data"]["message"]["id"]}).decode())  # fmt: skip
        read = await next_frame(ws, "ack")
        assert read["read_position"] == live["position"]
        history = await alice.history(conversation)
        assert [m["text"] for m in history["items"]][-1] == "hi alice"
        await ws.close()


async def test_authentication_is_required(tmp_path: Path, servers: Servers) -> None:
    server = await servers.serve(
        tmp_path / "data", env={"BACKCHANNEL_STREAM_AUTH_TIMEOUT_SECONDS": "0.5"}
    )
    silent = await websockets.connect(ws_url(server.url))
    with pytest.raises(websockets.ConnectionClosed) as info:
        await asyncio.wait_for(silent.recv(), 5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4001

    ws, reply = await open_stream(server.url, "bc_not-a-token")
    assert reply["op"] == "error" and reply["error"]["code"] == "unauthenticated"
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)

    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(ws_url(server.url), origin="https://evil.example")


async def test_a_socket_carries_only_its_users_conversations(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
        await Client.register(server.url, "eve", PASSWORD) as eve,
    ):
        assert eve.token is not None
        ws, _ = await open_stream(server.url, eve.token)
        private = (await alice.open_direct("bob"))["id"]
        for i in range(5):
            await alice.send(private, f"secret {i}")
        await bob.send(private, "shh")
        mine = (await alice.open_direct("eve"))["id"]
        await alice.send(mine, "hello eve")
        frames = [await next_frame(ws, "event") for _ in range(2)]
        assert [f["type"] for f in frames] == ["conversation.created", "message.created"]
        assert all(f["data"].get("conversation", {}).get("id", mine) == mine for f in frames)
        assert frames[1]["data"]["message"]["text"] == "hello eve"
        await ws.close()


def metric(text: str, name: str) -> float:
    """The value of one sample in a Prometheus text exposition."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no metric {name}")


def stalled_socket(port: int, token: str) -> socket.socket:
    """A WebSocket client that authenticates and then never reads, with a tiny receive
    buffer: raw, so no client library buffers on its behalf."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16))
    sock.sendall(
        b"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
        % (port, key)
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0]
    payload = orjson.dumps({"op": "auth", "token": token})
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return sock


def close_code_of(sock: socket.socket) -> int | None:
    """Read everything the server sent; the code of its close frame, if any."""
    data = bytearray()
    while chunk := sock.recv(1 << 16):
        data += chunk
    offset = 0
    while offset + 2 <= len(data):
        opcode, length = data[offset] & 0x0F, data[offset + 1] & 0x7F
        offset += 2
        if length == 126:
            length = int.from_bytes(data[offset : offset + 2], "big")
            offset += 2
        elif length == 127:
            length = int.from_bytes(data[offset : offset + 8], "big")
            offset += 8
        if opcode == 0x8:
            return int.from_bytes(data[offset : offset + 2], "big")
        offset += length
    return None


async def test_a_client_that_does_not_read_is_cut_off_and_others_are_not(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(
        tmp_path / "data",
        env={"BACKCHANNEL_STREAM_QUEUE_SIZE": "8", "BACKCHANNEL_STREAM_STALL_SECONDS": "1"},
    )
    async with alice_and_bob(server.url) as (alice, bob, conversation):
        stalled = await asyncio.to_thread(stalled_socket, server.port, bob.token)
        healthy, _ = await open_stream(server.url, bob.token)
        big = "x" * 4000
        total = 1500  # ~6 MB: more than the kernel buffers between server and client

        async def sender(k: int) -> None:
            for i in range(k, total, 10):
                await alice.send(conversation, f"{i} {big}")

        async def read_all() -> int:
            received = 0
            while received < total:  # the healthy device reads as it goes, and gets all
                frame = await next_frame(healthy, "event")
                if frame["type"] == "message.created":
                    received += 1
            return received

        reader = asyncio.create_task(read_all())
        await asyncio.gather(*(sender(k) for k in range(10)))
        assert await asyncio.wait_for(reader, 60) == total
        await healthy.close()
        # The stalled one was closed with "resync from your last position".
        assert await asyncio.to_thread(close_code_of, stalled) == 4008
        stalled.close()
        # The healthy one fell behind the commits now and then (8 frames of queue), was
        # fed from the store meanwhile, and lost nothing; the stalled one was resynced.
        async with httpx.AsyncClient(base_url=server.url) as http:
            metrics = (await http.get("/metrics")).text
        assert metric(metrics, "backchannel_stream_fell_behind_total") >= 1
        assert metric(metrics, 'backchannel_stream_closes_total{code="4008"}') == 1


async def test_typing_reaches_the_other_members_only(tmp_path: Path, servers: Servers) -> None:
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
        await Client.register(server.url, "eve", PASSWORD) as eve,
    ):
        assert alice.token and bob.token and eve.token
        conversation = (await alice.open_direct("bob"))["id"]
        alice_ws, _ = await open_stream(server.url, alice.token)
        bob_ws, _ = await open_stream(server.url, bob.token)
        eve_ws, _ = await open_stream(server.url, eve.token)
        typing = {"op": "typing", "id": "t1", "conversation_id": conversation, "active": True}
        await alice_ws.send(orjson.dumps(typing).decode())
        assert (await next_frame(alice_ws, "ack"))["id"] == "t1"
        seen = await next_frame(bob_ws, "typing")
        assert seen == {
            "op": "typing",
            "conversation_id": conversation,
            "user": "alice",
            "active": True,
            "expires_in_ms": 5000,
        }
        # a stranger cannot signal into the conversation, and hears nothing of it
        await eve_ws.send(orjson.dumps({**typing, "id": "t2"}).decode())
        refused = await next_frame(eve_ws, "error")
        assert refused["error"]["code"] == "conversation_not_found"
        await alice.send((await alice.open_direct("eve"))["id"], "hi eve")
        first = orjson.loads(await asyncio.wait_for(eve_ws.recv(), 5))
        assert first["op"] == "event"  # no typing frame reached eve before this
        # the typist's own devices do not hear themselves
        await alice_ws.send(orjson.dumps({**typing, "id": "t3", "active": False}).decode())
        stopped = await next_frame(bob_ws, "typing")
        assert stopped["active"] is False and stopped["expires_in_ms"] == 0
        frames = []
        with contextlib.suppress(TimeoutError):
            while True:
                frames.append(orjson.loads(await asyncio.wait_for(alice_ws.recv(), 0.5)))
        assert all(f["op"] != "typing" for f in frames)
        for ws in (alice_ws, bob_ws, eve_ws):
            await ws.close()


async def test_shutdown_closes_sockets_with_the_reconnect_code(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(tmp_path / "data")
    async with await Client.register(server.url, "alice", PASSWORD) as alice:
        assert alice.token is not None
        ws, _ = await open_stream(server.url, alice.token)
        server.proc.terminate()
        with pytest.raises(websockets.ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 10)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1012
        assert await asyncio.wait_for(server.proc.wait(), 15) == 0


async def test_a_dropped_socket_resumes_from_its_last_position(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(tmp_path / "data")
    async with alice_and_bob(server.url) as (alice, bob, conversation):
        ws, ready = await open_stream(server.url, bob.token)
        await alice.send(conversation, "one")
        first = await next_frame(ws, "event")
        assert first["data"]["message"]["text"] == "one"
        await ws.close()  # the connection drops; messages keep coming
        for text in ("two", "three"):
            await alice.send(conversation, text)
        ws, _ = await open_stream(server.url, bob.token, since=str(first["position"]))
        resumed = [await next_frame(ws, "event") for _ in range(2)]
        assert [f["data"]["message"]["text"] for f in resumed] == ["two", "three"]
        await alice.send(conversation, "four")  # and live again, nothing twice
        live = await next_frame(ws, "event")
        assert live["data"]["message"]["text"] == "four"
        assert int(ready["position"]) < first["position"] < live["position"]
        await ws.close()


async def events_until_quiet(ws: ClientConnection, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Every event frame until the socket has been silent for `quiet` seconds."""
    frames = []
    with contextlib.suppress(TimeoutError):
        while True:
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), quiet))
            if frame["op"] == "event":
                frames.append(frame)
    return frames


async def test_every_device_of_every_member_gets_every_event_once_in_one_order(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
        await Client.register(server.url, "carol", PASSWORD) as carol,
    ):
        assert alice.token and bob.token and carol.token
        group = (await alice.create_group(["bob", "carol"], "trio"))["id"]
        start = str((await alice.sync())["next"])
        # two devices each for alice and bob, one for carol: five sockets
        sockets = [
            (await open_stream(server.url, token, since=start))[0]
            for token in (alice.token, alice.token, bob.token, bob.token, carol.token)
        ]
        sends = [alice.send(group, f"a{i}") for i in range(20)]
        sends += [bob.send(group, f"b{i}") for i in range(20)]
        await asyncio.gather(*sends)  # concurrently: they share commits
        # one more over a socket, by carol
        send = {"op": "send", "id": "c", "conversation_id": group, "text": "c0"}
        await sockets[4].send(orjson.dumps(send).decode())
        seen = [await events_until_quiet(ws) for ws in sockets]
        orders = [[f["data"]["message"]["text"] for f in frames] for frames in seen]
        assert len(orders[0]) == 41 and sorted(orders[0]) == sorted(
            [f"a{i}" for i in range(20)] + [f"b{i}" for i in range(20)] + ["c0"]
        )
        assert all(order == orders[0] for order in orders)  # the same order everywhere
        positions = [f["position"] for f in seen[0]]
        assert positions == sorted(set(positions))
        # Reading on one of bob's devices moves his marker on the other one too.
        last = seen[2][-1]["data"]["message"]["id"]
        read = {"op": "read", "id": "r", "conversation_id": group, "up_to": last}
        await sockets[2].send(orjson.dumps(read).decode())
        assert (await next_frame(sockets[2], "ack"))["read_position"] == seen[2][-1]["position"]
        other = await next_frame(sockets[3], "event")
        assert other["type"] == "read.updated"
        assert (await bob.conversation(group))["unread_count"] == 0
        for ws in sockets:
            await ws.close()


async def test_after_leaving_or_being_removed_a_socket_hears_nothing_more(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
        await Client.register(server.url, "carol", PASSWORD) as carol,
    ):
        assert bob.token and carol.token
        group = (await alice.create_group(["bob", "carol"]))["id"]
        bob_ws, _ = await open_stream(server.url, bob.token)
        carol_ws, _ = await open_stream(server.url, carol.token)
        await alice.send(group, "everyone")
        await alice.remove_member(group, "bob")  # removed
        await carol.remove_member(group, "carol")  # left
        await alice.send(group, "after they went")
        await alice.create_group(["carol"], "a new one")  # so carol's socket has news
        bob_types = [(f["type"], f["data"].get("message", {}).get("text")) for f in
                     await events_until_quiet(bob_ws)]  # fmt: skip
        assert bob_types == [("message.created", "everyone"), ("member.left", None)]
        carol_frames = await events_until_quiet(carol_ws)
        carol_texts = [f["data"]["message"]["text"] for f in carol_frames
                       if f["type"] == "message.created"]  # fmt: skip
        assert carol_texts == ["everyone"]
        assert [f["type"] for f in carol_frames][-1] == "conversation.created"
        for ws in (bob_ws, carol_ws):
            await ws.close()


async def test_receipts_reach_sockets_only_between_people_who_share_them(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(tmp_path / "data")
    async with alice_and_bob(server.url) as (alice, bob, conversation):
        alice_ws, _ = await open_stream(server.url, alice.token)
        first = await alice.send(conversation, "seen?")
        await bob.mark_read(conversation, first["id"])
        frames = await events_until_quiet(alice_ws)
        receipts = [f["data"] for f in frames if f["type"] == "receipt.updated"]
        assert [(r["user"], r["message_id"]) for r in receipts] == [("bob", first["id"])]
        await alice.update_settings(read_receipts=False)  # now alice neither sends nor sees
        second = await alice.send(conversation, "and now?")
        await bob.mark_read(conversation, second["id"])
        frames = await events_until_quiet(alice_ws)
        assert [f["type"] for f in frames] == ["message.created"]
        await alice_ws.close()


async def test_a_silent_client_is_closed_as_idle_and_a_pinging_one_is_not(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(
        tmp_path / "data",
        env={"BACKCHANNEL_STREAM_IDLE_TIMEOUT_SECONDS": "1",
             "BACKCHANNEL_STREAM_HEARTBEAT_SECONDS": "0.4"},
    )  # fmt: skip
    async with await Client.register(server.url, "alice", PASSWORD) as alice:
        assert alice.token is not None
        silent, ready = await open_stream(server.url, alice.token)
        assert ready["heartbeat_interval_ms"] == 400
        pinging, _ = await open_stream(server.url, alice.token)
        for i in range(8):  # 3.2 s: well past the idle timeout
            await pinging.send(orjson.dumps({"op": "ping", "id": str(i)}).decode())
            assert (await next_frame(pinging, "ack"))["pong"] is True
            await asyncio.sleep(0.4)
        with pytest.raises(websockets.ConnectionClosed) as info:
            await asyncio.wait_for(silent.recv(), 5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 4009
        await pinging.send(orjson.dumps({"op": "ping", "id": "last"}).decode())
        assert (await next_frame(pinging, "ack"))["id"] == "last"
        await pinging.close()


async def test_revoking_a_device_closes_its_live_stream_at_once(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "alice", PASSWORD, device_name="phone") as phone,
        await Client.login(server.url, "alice", PASSWORD, device_name="laptop") as laptop,
    ):
        assert phone.token and laptop.token
        phone_ws, _ = await open_stream(server.url, phone.token)
        laptop_ws, _ = await open_stream(server.url, laptop.token)
        # From the laptop, log the (lost) phone out: its socket goes, not at its next
        # reconnect but now, with "authentication failed"; the laptop's stays.
        lost = next(s for s in await laptop.sessions() if not s["current"])
        await laptop.revoke_session(lost["id"])
        with pytest.raises(websockets.ConnectionClosed) as info:
            await asyncio.wait_for(phone_ws.recv(), 5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 4001
        await laptop_ws.send(orjson.dumps({"op": "ping", "id": "still"}).decode())
        assert (await next_frame(laptop_ws, "ack"))["id"] == "still"
        # Logging out closes the device's own socket too.
        await laptop.logout()
        with pytest.raises(websockets.ConnectionClosed) as info:
            await asyncio.wait_for(laptop_ws.recv(), 5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 4001


async def test_typing_ends_by_itself_unless_refreshed_and_when_the_typist_goes(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(tmp_path / "data")
    async with alice_and_bob(server.url) as (alice, bob, conversation):
        alice_ws, _ = await open_stream(server.url, alice.token)
        bob_ws, _ = await open_stream(server.url, bob.token)
        typing = {"op": "typing", "id": "t", "conversation_id": conversation, "active": True}
        loop = asyncio.get_running_loop()
        await alice_ws.send(orjson.dumps(typing).decode())
        assert (await next_frame(bob_ws, "typing"))["active"] is True
        started = loop.time()
        await asyncio.sleep(2.5)  # a refresh halfway: the indicator lasts 5 s from here
        await alice_ws.send(orjson.dumps(typing).decode())
        assert (await next_frame(bob_ws, "typing"))["active"] is True
        ended = orjson.loads(await asyncio.wait_for(bob_ws.recv(), 8))
        assert ended["op"] == "typing" and ended["active"] is False
        assert 7.0 <= loop.time() - started <= 9.0  # 2.5 s + the 5 s time to live
        # typing again, then the typist's socket drops: bob hears the end at once
        await alice_ws.send(orjson.dumps(typing).decode())
        assert (await next_frame(bob_ws, "typing"))["active"] is True
        await alice_ws.close()
        gone = await next_frame(bob_ws, "typing")
        assert gone["active"] is False and gone["user"] == "alice"
        await bob_ws.close()


async def test_compression_is_offered_only_when_configured(
    tmp_path: Path, servers: Servers
) -> None:
    plain = await servers.serve(tmp_path / "plain")
    compressed = await servers.serve(
        tmp_path / "compressed", env={"BACKCHANNEL_STREAM_COMPRESSION": "true"}
    )
    for server, expected in ((plain, False), (compressed, True)):
        # a client asking for permessage-deflate, as browsers do
        ws = await websockets.connect(ws_url(server.url), compression="deflate")
        assert ws.response is not None
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
        assert ("permessage-deflate" in extensions) is expected, (server.url, extensions)
        await ws.close()


async def test_sockets_closed_in_the_middle_of_traffic_leave_nothing_behind(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(
        tmp_path / "data",
        env={"BACKCHANNEL_STREAM_QUEUE_SIZE": "4", "BACKCHANNEL_STREAM_IDLE_TIMEOUT_SECONDS": "1"},
    )
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        assert bob.token is not None
        conversation = (await alice.open_direct("bob"))["id"]
        sockets = [(await open_stream(server.url, bob.token))[0] for _ in range(20)]

        async def drain(ws: ClientConnection) -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    await ws.recv()

        readers = [asyncio.create_task(drain(ws)) for ws in sockets]
        sending = asyncio.gather(*(alice.send(conversation, f"m{i}") for i in range(200)))
        await asyncio.sleep(0.05)
        await asyncio.gather(*(ws.close() for ws in sockets[:10]))  # some leave mid-stream
        await sending
        # the others never say a word and are closed as idle, some while behind
        await asyncio.wait_for(asyncio.gather(*readers), 10)
        assert {ws.close_code for ws in sockets[10:]} == {4009}
        await asyncio.sleep(0.3)
        metrics = (await http.get("/metrics")).text
        assert metric(metrics, "backchannel_stream_sockets") == 0
        assert metric(metrics, "backchannel_connected_clients") == 0
