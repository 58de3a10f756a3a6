"""The WebSocket gateway at /api/v1/stream: the event log pushed live, and actions.

Protocol (JSON text frames):

- client → `{"op": "auth", "token": "...", "since": "TOKEN"?}` first, within
  `stream_auth_timeout_seconds` (the token never goes in the URL, which ends up in logs);
  server → `{"op": "ready", "position": "TOKEN"}`.
- server → `{"op": "event", "position", "type", "at", "data"}` for every event after
  `since` (replayed first, then live); `position` is the token to resume from.
- client → `{"op": "send", "id", "conversation_id", "text", "txn_id"?, "reply_to"?}`,
  `{"op": "read", "id", "conversation_id", "up_to"}`,
  `{"op": "typing", "id", "conversation_id", "active"}`, `{"op": "ping", "id"?}`;
  server → `{"op": "ack", "id", ...}` or `{"op": "error", "id", "error": {code, message}}`
  with the REST error codes. Actions go through the same services as REST.
- server → `{"op": "typing", "conversation_id", "user", "active", "expires_in_ms"}`:
  ephemeral, never stored, only to the other members' sockets.

The pump reads the store by position, so a reconnecting client loses nothing. Each
socket has a bounded queue of outgoing frames; a client too slow to drain it is
closed with CLOSE_RESYNC and resumes from its last position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from backchannel.errors import BackchannelError
from backchannel.services import accounts, conversations, messages, realtime, sync
from backchannel.services.core import Core, Requester

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_AUTH_FAILED = 4001  # no valid auth frame in time: do not retry with the same token
CLOSE_BAD_ORIGIN = 4003
CLOSE_RESYNC = 4008  # fell behind: reconnect and resume from your last position
CLOSE_PROTOCOL = 4400  # a frame that is not JSON or not an object
CLOSE_SERVICE_RESTART = 1012  # shutting down: reconnect (to another node) and resume


@router.websocket("/api/v1/stream")
async def stream(websocket: WebSocket) -> None:
    core: Core = websocket.app.state.core
    if not _origin_allowed(websocket, core):
        await websocket.close(CLOSE_BAD_ORIGIN)
        return
    await websocket.accept()
    session = await _authenticate(websocket, core)
    if session is None:
        return
    requester, since = session
    connection = StreamConnection(core, websocket, requester, since)
    core.metrics.connected_clients.inc()
    try:
        await connection.run()
    finally:
        core.metrics.connected_clients.dec()


def _origin_allowed(websocket: WebSocket, core: Core) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser
    host = websocket.headers.get("host", "")
    same = origin.split("://", 1)[-1] == host
    return same or origin in core.settings.allowed_origins


async def _authenticate(websocket: WebSocket, core: Core) -> tuple[Requester, int] | None:
    try:
        raw = await asyncio.wait_for(
            websocket.receive_text(), core.settings.stream_auth_timeout_seconds
        )
        frame = orjson.loads(raw)
        if not isinstance(frame, dict) or frame.get("op") != "auth":
            raise BackchannelError("unauthenticated", "The first frame must be an auth frame.")
        token = frame.get("token")
        if not isinstance(token, str):
            raise BackchannelError("unauthenticated", "The auth frame needs a token.")
        requester = await accounts.authenticate(core, token)
        since_raw = frame.get("since")
        if since_raw is None:
            since = await sync.current_token(core)
        elif isinstance(since_raw, str):
            since = sync.parse_token(since_raw)
        else:
            raise BackchannelError("invalid_token", "`since` is a token string.")
    except (TimeoutError, WebSocketDisconnect):
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_AUTH_FAILED)
        return None
    except (BackchannelError, orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        error = exc if isinstance(exc, BackchannelError) else BackchannelError("invalid_request")
        with contextlib.suppress(Exception):
            await websocket.send_text(orjson.dumps({"op": "error", **error.body()}).decode())
            await websocket.close(CLOSE_AUTH_FAILED)
        return None
    await websocket.send_text(orjson.dumps({"op": "ready", "position": str(since)}).decode())
    return requester, since


class StreamConnection:
    """One authenticated socket: a pump (log → socket), a reader (actions) and a writer."""

    def __init__(self, core: Core, websocket: WebSocket, requester: Requester, since: int):
        self.core = core
        self.websocket = websocket
        self.requester = requester
        self.position = since
        self.outbox: asyncio.Queue[Any] = asyncio.Queue(core.settings.stream_queue_size)
        self.close_code: int | None = None

    async def run(self) -> None:
        self.core.broker.subscribe(self.requester.user_id, self._ephemeral)
        tasks = [
            asyncio.create_task(self._pump(), name="stream-pump"),
            asyncio.create_task(self._reader(), name="stream-reader"),
            asyncio.create_task(self._writer(), name="stream-writer"),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.core.broker.unsubscribe(self.requester.user_id, self._ephemeral)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.close_code is not None:
                with contextlib.suppress(Exception):
                    await self.websocket.close(self.close_code)

    def _queue(self, frame: bytes) -> bool:
        """Queue a frame; False (and the socket marked for resync) when it is full."""
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            self.close_code = CLOSE_RESYNC
            return False
        return True

    def _ephemeral(self, frame: bytes) -> None:
        """Typing and the like: dropped, not a resync, when the socket is behind."""
        with contextlib.suppress(asyncio.QueueFull):
            self.outbox.put_nowait(frame)

    async def _writer(self) -> None:
        while True:
            frame = await self.outbox.get()
            try:
                await self.websocket.send_text(frame.decode())
            finally:
                self.outbox.task_done()

    async def _pump(self) -> None:
        settings = self.core.settings
        limit = max(1, min(settings.sync_batch_limit, settings.stream_queue_size // 2))
        while True:
            if self.core.shutting_down:
                self.close_code = CLOSE_SERVICE_RESTART
                return
            batch = await sync.read_batch(self.core, self.requester, self.position, limit)
            for event in batch.raw:
                # {"position":…} -> {"op":"event","position":…}, no re-encoding
                if not self._queue(b'{"op":"event",' + event[1:]):
                    return
            self.position = batch.next_position
            if batch.limited:
                # Let the writer flush before reading more, so a long backlog does not
                # look like a slow client.
                try:
                    await asyncio.wait_for(
                        self.outbox.join(), self.core.settings.stream_stall_seconds
                    )
                except TimeoutError:
                    self.close_code = CLOSE_RESYNC
                    return
                continue
            poll = 3600.0 if self.core.store.is_sqlite else self.core.settings.sync_poll_seconds
            await self.core.broker.wait_beyond(self.position, poll)

    async def _reader(self) -> None:
        while True:
            try:
                raw = await self.websocket.receive_text()
            except WebSocketDisconnect:
                return
            try:
                frame = orjson.loads(raw)
                if not isinstance(frame, dict):
                    raise ValueError("not an object")
            except ValueError:
                self.close_code = CLOSE_PROTOCOL
                return
            reply = await self._act(frame)
            if not self._queue(orjson.dumps(reply)):
                return

    async def _act(self, frame: dict[str, Any]) -> dict[str, Any]:
        request_id = frame.get("id")
        try:
            result = await self._dispatch(frame)
        except BackchannelError as exc:
            return {"op": "error", "id": request_id, **exc.body()}
        except Exception:
            log.exception("stream action failed")
            return {"op": "error", "id": request_id, **BackchannelError("internal_error").body()}
        return {"op": "ack", "id": request_id, **result}

    async def _dispatch(self, frame: dict[str, Any]) -> dict[str, Any]:
        kind = frame.get("op")
        if kind == "ping":
            return {"pong": True}
        if kind == "send":
            text = _field(frame, "text")
            txn_id = _optional(frame, "txn_id")
            if txn_id is not None and not (0 < len(txn_id) <= 64):
                raise BackchannelError("invalid_request", "txn_id: 1-64 characters.")
            message, created = await messages.send_message(
                self.core,
                self.requester,
                _field(frame, "conversation_id"),
                txn_id=txn_id,
                text=text,
                reply_to=_optional(frame, "reply_to"),
            )
            if created:
                self.core.metrics.messages_sent.inc()
            return {"status": 201 if created else 200, "message": message}
        if kind == "typing":
            active = frame.get("active", True)
            if not isinstance(active, bool):
                raise BackchannelError("invalid_request", "`active` is true or false.")
            await realtime.typing(
                self.core, self.requester, _field(frame, "conversation_id"), active
            )
            return {}
        if kind == "read":
            position = await conversations.mark_read(
                self.core, self.requester, _field(frame, "conversation_id"), _field(frame, "up_to")
            )
            return {"read_position": position}
        raise BackchannelError("invalid_request", f"Unknown op {kind!r}.")


def _field(frame: dict[str, Any], name: str) -> str:
    value = frame.get(name)
    if not isinstance(value, str) or len(value) > 70000:
        raise BackchannelError("invalid_request", f"`{name}` must be a string.")
    return value


def _optional(frame: dict[str, Any], name: str) -> str | None:
    return None if frame.get(name) is None else _field(frame, name)
