"""The WebSocket gateway at /api/v1/stream: the event log pushed live, and actions.

Protocol (JSON text frames):

- client → `{"op": "auth", "token": "...", "since": "TOKEN"?}` first, within
  `stream_auth_timeout_seconds` (the token never goes in the URL, which ends up in logs);
  server → `{"op": "ready", "position": "TOKEN", "heartbeat_interval_ms": N}`. The client
  sends some frame at least every N ms (`ping` when it has nothing to say); one silent
  for `stream_idle_timeout_seconds` is closed with CLOSE_IDLE.
- server → `{"op": "event", "position", "type", "at", "data"}` for every event after
  `since` (replayed first, then live); `position` is the token to resume from.
- client → `{"op": "send", "id", "conversation_id", "text", "txn_id"?, "reply_to"?}`,
  `{"op": "read", "id", "conversation_id", "up_to"}`,
  `{"op": "typing", "id", "conversation_id", "active"}`, `{"op": "ping", "id"?}`,
  `{"op": "team_presence", "id", "business", "conversation_id", "state"}` (a teammate
  viewing, typing in or leaving a business conversation: services/team_presence.py);
  server → `{"op": "ack", "id", ...}` or `{"op": "error", "id", "error": {code, message}}`
  with the REST error codes. Actions go through the same services as REST.
- server → `{"op": "typing", "conversation_id", "user", "active", "expires_in_ms"}`:
  ephemeral, never stored, only to the other members' sockets; and
  `{"op": "team_presence", "business", "conversation_id", "user", "state", "expires_in_ms"}`
  to the teammates who may see that conversation.

A socket first replays the log from its token, reading the store by position, then
goes live on the node's fan-out (api/fanout.py), so a reconnecting client loses
nothing. Each socket has a bounded outbox; when it is full the socket goes back to
reading the store at its own pace, and one that accepts nothing for
`stream_stall_seconds` is closed with CLOSE_RESYNC (it resumes from its last position).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from backchannel.api.fanout import (
    CLOSE_AUTH_FAILED,
    CLOSE_BAD_ORIGIN,
    CLOSE_PROTOCOL,
    CLOSE_RESYNC,
    CLOSE_SERVICE_RESTART,
    Fanout,
)
from backchannel.errors import BackchannelError
from backchannel.services import (
    accounts,
    conversations,
    messages,
    presence,
    realtime,
    screening,
    sync,
    team_presence,
)
from backchannel.services.core import SESSIONS_CHANGED, Core, Requester

log = logging.getLogger(__name__)
router = APIRouter()


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
    connection = StreamConnection(core, websocket.app.state.fanout, websocket, requester, since)
    core.metrics.connected_clients.inc()
    await presence.connected(core, requester)
    try:
        await connection.run()
    finally:
        core.metrics.connected_clients.dec()
        realtime.stop_typing(core, requester)
        team_presence.leave_all(core, requester)
        await presence.disconnected(core, requester)


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
        current = await sync.current_token(core)
        if since_raw is None:
            since = current
        elif isinstance(since_raw, str):
            since = sync.parse_token(since_raw)
        else:
            raise BackchannelError("invalid_token", "`since` is a token string.")
        if since > current:
            raise BackchannelError(
                "invalid_token", "That sync token is from the future; start again without one."
            )
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
    ready = {
        "op": "ready",
        "position": str(since),
        "heartbeat_interval_ms": int(core.settings.stream_heartbeat_seconds * 1000),
    }
    await websocket.send_text(orjson.dumps(ready).decode())
    return requester, since


# Actions one socket may have in flight at once (pipelined sends share commits).
MAX_ACTIONS_IN_FLIGHT = 32


class StreamConnection:
    """One authenticated socket.

    The ASGI task reads the client's frames: it queues each send to the store's writer
    at once (in arrival order; acked from the commit's callback, so pipelined sends share
    group commits) and runs other actions as tasks. Outgoing frames go to a bounded
    outbox, drained by a writer task that
    exists only while there is something to send. Events come from a catch-up task that
    reads the store, then from the node's fan-out. An idle socket holds no task of its
    own and no queue: at 10,000 sockets that is most of the memory.
    """

    __slots__ = (
        "_actions",
        "_catch_up_task",
        "_drained",
        "_handler",
        "_out",
        "_pending",
        "_stopping",
        "_writing",
        "close_code",
        "core",
        "fanout",
        "last_seen",
        "limit",
        "position",
        "requester",
        "websocket",
    )

    def __init__(
        self, core: Core, fanout: Fanout, websocket: WebSocket, requester: Requester, since: int
    ):
        self.core = core
        self.fanout = fanout
        self.websocket = websocket
        self.requester = requester
        self.position = since
        self.limit = core.settings.stream_queue_size
        self.close_code: int | None = None
        self.last_seen = asyncio.get_running_loop().time()
        self._out: list[str] = []  # frames not yet handed to the writer
        self._pending = 0  # frames queued or being written
        self._writing: asyncio.Task[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._handler: asyncio.Task[Any] | None = None
        self._catch_up_task: asyncio.Task[None] | None = None
        self._actions: set[asyncio.Future[Any]] | None = None
        self._stopping = False

    async def run(self) -> None:
        user_id = self.requester.user_id
        self._handler = asyncio.current_task()
        self.core.broker.subscribe(user_id, self._ephemeral)
        self.fanout.connect(self)
        self.catch_up()
        try:
            await self._read_loop()
        except asyncio.CancelledError:
            # stop() interrupts the read this way; any other cancellation is not ours.
            if not self._stopping or self._handler is None:
                raise
            self._handler.uncancel()
        finally:
            self._stopping = True  # from here on nothing starts: no catch-up, no writer
            self.fanout.disconnect(user_id, self)
            self.core.broker.unsubscribe(user_id, self._ephemeral)
            tasks: list[asyncio.Future[Any]] = [
                t for t in (self._catch_up_task, self._writing) if t is not None
            ]
            # (pending sends still commit; only their acks have no one to go to)
            tasks += self._actions or ()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.close_code is not None:
            self.core.metrics.stream_closes.labels(code=str(self.close_code)).inc()
            with contextlib.suppress(Exception):
                await self.websocket.close(self.close_code)

    def stop(self, code: int) -> None:
        """Close with `code` (idle, shutdown, overflow): the read loop ends, then run()."""
        if self._stopping:
            return
        self._stopping = True
        self.close_code = code
        if self._handler is not None and self._handler is not asyncio.current_task():
            self._handler.cancel()

    # --- the outbox ---------------------------------------------------------

    def _push(self, frame: str) -> bool:
        """Queue a frame for the client; False when the outbox is full. A closing socket
        takes (and drops) everything: it is not "behind", it is going."""
        if self._stopping:
            return True
        if self._pending >= self.limit:
            return False
        self._out.append(frame)
        self._pending += 1
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._write())
        return True

    async def _write(self) -> None:
        try:
            while self._out:
                frames, self._out = self._out, []
                for frame in frames:
                    await self.websocket.send_text(frame)
                    self._pending -= 1
        except Exception:
            # The client went away mid-write: the read loop is about to hear of it.
            self._out, self._pending = [], 0
            self.stop(CLOSE_RESYNC)
        finally:
            self._writing = None
            if self._drained is not None and not self._drained.done():
                self._drained.set_result(None)

    async def _wait_drained(self, timeout: float) -> bool:
        """Wait until every queued frame was written; False after `timeout` seconds."""
        while self._pending:
            self._drained = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._drained, timeout)
            except TimeoutError:
                return False
        return True

    def deliver(self, frame: str) -> bool:
        """An event from the fan-out; False when the outbox is full."""
        return self._push(frame)

    def _queue(self, frame: str) -> bool:
        """Queue a frame; False (and the socket closing for resync) when it is full."""
        if self._push(frame):
            return True
        self.stop(CLOSE_RESYNC)
        return False

    def _ephemeral(self, frame: bytes) -> None:
        """Typing and the like: dropped, not a resync, when the socket is behind."""
        if frame == SESSIONS_CHANGED:
            self.core.spawn(self._check_session())
            return
        self._push(frame.decode())

    async def _check_session(self) -> None:
        """A session of this user's was revoked (or the account closed): if it was this
        socket's, close it now; its token is refused from here on."""
        if not await accounts.session_stands(self.core, self.requester):
            self.stop(CLOSE_AUTH_FAILED)

    # --- events -------------------------------------------------------------

    def catch_up(self) -> None:
        """Read the store from `position` until level with the fan-out, then go live."""
        if self._stopping:
            return
        self._catch_up_task = asyncio.create_task(self._catch_up(), name="stream-catch-up")

    async def _catch_up(self) -> None:
        """Replay the log from `position` until level with the fan-out, then go live.
        A client that takes more than `stream_stall_seconds` to accept the next frames
        is closed with CLOSE_RESYNC."""
        settings = self.core.settings
        limit = max(1, min(settings.sync_batch_limit, settings.stream_queue_size // 2))
        try:
            while True:
                # Room for the next batch first, so a long backlog is not a slow client.
                if not await self._wait_drained(settings.stream_stall_seconds):
                    self.stop(CLOSE_RESYNC)
                    return
                if self.fanout.try_go_live(self.requester.user_id, self):
                    return
                if self.core.shutting_down:
                    self.stop(CLOSE_SERVICE_RESTART)
                    return
                batch = await sync.read_batch(self.core, self.requester, self.position, limit)
                for event in batch.raw:
                    # {"position":…} -> {"op":"event","position":…}, no re-encoding
                    if not self._queue('{"op":"event",' + event[1:].decode()):
                        return  # acks filled it meanwhile: a client that does not read
                self.position = max(self.position, batch.next_position)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("stream catch-up failed")
            self.stop(CLOSE_SERVICE_RESTART)
        finally:
            self._catch_up_task = None

    # --- actions ------------------------------------------------------------

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                raw = await self.websocket.receive_text()
            except WebSocketDisconnect:
                return
            self.last_seen = loop.time()
            try:
                frame = orjson.loads(raw)
                if not isinstance(frame, dict):
                    raise ValueError("not an object")
            except ValueError:
                self.stop(CLOSE_PROTOCOL)
                return
            if frame.get("op") == "ping":  # the heartbeat: answered inline
                pong = {"op": "ack", "id": frame.get("id"), "pong": True}
                self._queue(orjson.dumps(pong).decode())
                continue
            actions = self._actions
            if actions is None:
                actions = self._actions = set()
            while len(actions) >= MAX_ACTIONS_IN_FLIGHT:
                await asyncio.wait(actions, return_when=asyncio.FIRST_COMPLETED)
            action: asyncio.Future[Any]
            if frame.get("op") == "send":
                # The hot path: queued to the writer right here, in arrival order (so
                # one socket's sends commit in the order they were sent), answered from
                # the commit's callback: no task per message. The rate limit is awaited
                # here, in the read loop, so it keeps that order too.
                try:
                    counts = await screening.before_send(
                        self.core, self.requester, _field(frame, "text")
                    )
                    action = self._send_nowait(frame, counts)
                except BackchannelError as exc:
                    self._queue(orjson.dumps(_error(frame.get("id"), exc)).decode())
                    continue
                action.add_done_callback(functools.partial(self._sent, frame.get("id")))
            else:
                action = loop.create_task(self._act_and_reply(frame))
            actions.add(action)
            action.add_done_callback(actions.discard)

    def _send_nowait(
        self, frame: dict[str, Any], counts: screening.Counts
    ) -> asyncio.Future[tuple[dict[str, Any], bool]]:
        text = _field(frame, "text")
        txn_id = _optional(frame, "txn_id")
        if txn_id is not None and not (0 < len(txn_id) <= 64):
            raise BackchannelError("invalid_request", "txn_id: 1-64 characters.")
        return messages.send_message_nowait(
            self.core,
            self.requester,
            _field(frame, "conversation_id"),
            txn_id=txn_id,
            text=text,
            reply_to=_optional(frame, "reply_to"),
            counts=counts,
        )

    def _sent(self, request_id: Any, done: asyncio.Future[tuple[dict[str, Any], bool]]) -> None:
        if done.cancelled():
            return
        exc = done.exception()
        if exc is None:
            message, created = done.result()
            if created:
                self.core.metrics.messages_sent.inc()
            reply = {"op": "ack", "id": request_id, "status": 201 if created else 200,
                     "message": message}  # fmt: skip
        elif isinstance(exc, BackchannelError):
            reply = _error(request_id, exc)
        else:
            log.error("stream send failed", exc_info=exc)
            reply = _error(request_id, BackchannelError("internal_error"))
        self._queue(orjson.dumps(reply).decode())

    async def _act_and_reply(self, frame: dict[str, Any]) -> None:
        self._queue(orjson.dumps(await self._act(frame)).decode())

    async def _act(self, frame: dict[str, Any]) -> dict[str, Any]:
        request_id = frame.get("id")
        try:
            result = await self._dispatch(frame)
        except BackchannelError as exc:
            return _error(request_id, exc)
        except Exception:
            log.exception("stream action failed")
            return _error(request_id, BackchannelError("internal_error"))
        return {"op": "ack", "id": request_id, **result}

    async def _dispatch(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Actions other than `send` and `ping`, which the read loop answers itself."""
        kind = frame.get("op")
        if kind == "typing":
            active = frame.get("active", True)
            if not isinstance(active, bool):
                raise BackchannelError("invalid_request", "`active` is true or false.")
            await realtime.typing(
                self.core, self.requester, _field(frame, "conversation_id"), active
            )
            return {}
        if kind == "team_presence":
            return await team_presence.announce(
                self.core,
                self.requester,
                _field(frame, "business"),
                _field(frame, "conversation_id"),
                _field(frame, "state"),
            )
        if kind == "read":
            position = await conversations.mark_read(
                self.core, self.requester, _field(frame, "conversation_id"), _field(frame, "up_to")
            )
            return {"read_position": position}
        raise BackchannelError("invalid_request", f"Unknown op {kind!r}.")


def _error(request_id: Any, exc: BackchannelError) -> dict[str, Any]:
    return {"op": "error", "id": request_id, **exc.body()}


def _field(frame: dict[str, Any], name: str) -> str:
    value = frame.get(name)
    if not isinstance(value, str) or len(value) > 70000:
        raise BackchannelError("invalid_request", f"`{name}` must be a string.")
    return value


def _optional(frame: dict[str, Any], name: str) -> str | None:
    return None if frame.get(name) is None else _field(frame, name)
