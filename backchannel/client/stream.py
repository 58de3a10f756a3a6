"""The SDK's WebSocket transport: `/api/v1/stream`, resumed and retried for you.

    async with client.stream() as stream:
        message = await stream.send(conversation_id, "hi")   # returns once acknowledged
        async for frame in stream:                           # events, typing, presence
            ...

Contracts:

- It authenticates with its first frame (the token never goes in the URL) and
  resumes from `client.position`, the token after the last event delivered —
  shared with the long-poll `Client.events()` — or, when that is unset, from now.
- Every event is delivered exactly once, in order. After a network error or a
  close with 4008 (resync), 4009 (idle) or 1012 (service restart) it reconnects
  with jittered exponential backoff, resumes from the last event it received and
  drops any event at or below that position.
- Actions (`send`, `read`, `typing`, `ping`) return once acknowledged and raise
  `ApiError` with the REST status and code on an error frame. An action in flight
  when the connection drops is sent again on the next connection; a send keeps its
  `txn_id`, so a retry returns the original message and never duplicates it.
- Not retried: a refused token (close 4001 or an error frame instead of `ready`)
  raises `ApiError`; a protocol error (4400) or a refused origin (4003) raises
  `StreamError`. Both end the iteration and fail the actions waiting.
- It sends `{"op": "ping"}` whenever it has sent nothing for half the
  `heartbeat_interval_ms` the server announced in `ready` (30 s if it did not),
  so the server does not close it as idle.
- At most `buffer` frames wait for the program to read them. When more arrive,
  ephemeral frames are dropped and events are fetched again later: once the
  program has caught up, the stream reconnects and resumes from the last event
  it kept. Reading slowly therefore never blocks acks or costs memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection, connect

from backchannel.client.errors import ApiError, StreamError
from backchannel.errors import CODES

if TYPE_CHECKING:
    from backchannel.client import Client

__all__ = ["Frame", "Stream"]

Frame = dict[str, Any]

CLOSE_AUTH_FAILED = 4001  # do not retry with the same token
CLOSE_BAD_ORIGIN = 4003
CLOSE_RESYNC = 4008  # reconnect, resume from the last position
CLOSE_IDLE = 4009  # reconnect, resume (we were too quiet)
CLOSE_PROTOCOL = 4400  # a bug on one side: retrying would repeat it
CLOSE_SERVICE_RESTART = 1012  # reconnect, maybe to another node
FATAL_CLOSE_CODES = frozenset({CLOSE_AUTH_FAILED, CLOSE_BAD_ORIGIN, CLOSE_PROTOCOL})

DEFAULT_HEARTBEAT_MS = 30_000
STABLE_AFTER_S = 10.0  # a connection that lived this long resets the backoff


@dataclass(slots=True)
class _Pending:
    data: str  # the frame as sent, so a resend is byte-identical (same id, same txn_id)
    future: asyncio.Future[Frame]


class _Retryable(Exception):
    """The server answered the handshake but cannot serve now (e.g. 503 not_ready)."""


class Stream:
    """One WebSocket of one client; reconnects until closed. Use `Client.stream()`."""

    def __init__(
        self,
        client: Client,
        *,
        buffer: int = 10_000,
        max_backoff: float = 10.0,
        open_timeout: float = 10.0,
        compression: bool = False,
    ) -> None:
        self.client = client
        self.url = _ws_url(client.base_url)
        self.connections = 0  # successful handshakes so far (1 + the reconnects)
        self.heartbeat_interval = DEFAULT_HEARTBEAT_MS / 1000
        self._buffer = buffer
        self._max_backoff = max_backoff
        self._open_timeout = open_timeout
        self._compression = "deflate" if compression else None
        # None in the queue: the stream ended (see `_failure`)
        self._frames: asyncio.Queue[Frame | None] = asyncio.Queue()
        self._overflowed = False
        self._last: int | None = None if client.position is None else int(client.position)
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._ws: ClientConnection | None = None
        self._last_sent = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._opened: asyncio.Future[None] | None = None
        self._failure: BaseException | None = None
        self._closed = False
        self._resyncing = False  # we closed the connection to read dropped events again
        self._background: set[asyncio.Task[None]] = set()

    # --- lifecycle ------------------------------------------------------------

    async def __aenter__(self) -> Stream:
        """Connect and authenticate; raises when the first connection cannot be made
        (after `client.retries` retries) or the token is refused."""
        self._opened = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name="backchannel-stream")
        try:
            await asyncio.shield(self._opened)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the socket; actions still waiting raise `StreamError`."""
        if self._closed:
            return
        self._closed = True
        ws = self._ws
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if ws is not None:
            await ws.close()
        self._end(StreamError(None, "the stream was closed"))

    @property
    def connected(self) -> bool:
        return self._ws is not None

    # --- receiving ------------------------------------------------------------

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> Frame:
        """The next frame: `event` (from the log, exactly once) or ephemeral (`typing`,
        `presence`, ...). Updates `client.position` as events are handed over."""
        if self._frames.empty() and self._overflowed and self._ws is not None:
            # Events were dropped while the program was busy: reconnect to read them
            # again. Until the new connection, `_overflowed` keeps dropping.
            ws, self._ws = self._ws, None
            self._resyncing = True
            task = asyncio.create_task(ws.close())
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        frame = await self._frames.get()
        if frame is None:
            self._frames.put_nowait(None)  # every later call ends too
            if isinstance(self._failure, StreamError) and self._failure.code is None:
                raise StopAsyncIteration
            raise self._failure or StopAsyncIteration
        if frame.get("op") == "event":
            self.client.position = str(frame["position"])
        return frame

    async def events(self) -> AsyncIterator[Frame]:
        """Only the events of the log (ephemeral frames are skipped)."""
        async for frame in self:
            if frame.get("op") == "event":
                yield frame

    # --- actions ----------------------------------------------------------------

    async def send(
        self,
        conversation_id: str,
        text: str,
        *,
        reply_to: str | None = None,
        txn_id: str | None = None,
    ) -> dict[str, Any]:
        """Send a message and return it once the server has stored it. Safe across
        reconnects: the txn_id (automatic unless given) makes the resend idempotent."""
        frame: Frame = {
            "op": "send",
            "conversation_id": conversation_id,
            "text": text,
            "txn_id": txn_id or uuid.uuid4().hex,
        }
        if reply_to is not None:
            frame["reply_to"] = reply_to
        ack = await self.request(frame)
        return dict(ack["message"])

    async def read(self, conversation_id: str, up_to: str) -> int:
        """Mark the conversation read up to message `up_to`; the new read position."""
        frame = {"op": "read", "conversation_id": conversation_id, "up_to": up_to}
        return int((await self.request(frame))["read_position"])

    async def typing(self, conversation_id: str, active: bool = True) -> None:
        """Tell the other members you are (or stopped) typing; ephemeral."""
        frame = {"op": "typing", "conversation_id": conversation_id, "active": active}
        await self.request(frame)

    async def ping(self) -> None:
        """A round trip to the server (the heartbeat does this by itself when idle)."""
        await self.request({"op": "ping"})

    async def request(self, frame: Frame) -> Frame:
        """Send an action frame (an `id` is added) and wait for its ack; the ack frame.

        While disconnected the frame waits and goes out on the next connection.
        """
        if self._failure is not None:
            raise self._failure
        request_id = str(next(self._ids))
        data = orjson.dumps({**frame, "id": request_id}).decode()
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = _Pending(data, future)
        try:
            ws = self._ws
            if ws is not None:
                # A failure here is handled by the reconnect, which sends it again.
                with contextlib.suppress(websockets.ConnectionClosed):
                    await self._transmit(ws, data)
            return await future
        finally:
            self._pending.pop(request_id, None)

    # --- the connection loop ----------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        try:
            while True:
                try:
                    ws = await self._open()
                except (OSError, TimeoutError, websockets.WebSocketException, _Retryable):
                    failures += 1
                    if self.connections == 0 and failures > self.client.retries:
                        raise
                    await asyncio.sleep(self._backoff(failures))
                    continue
                started = time.monotonic()
                code, reason = await self._serve(ws)
                if code in FATAL_CLOSE_CODES:
                    raise _close_error(code, reason)
                if self._resyncing:
                    self._resyncing = False
                    continue
                failures = 1 if time.monotonic() - started > STABLE_AFTER_S else failures + 1
                await asyncio.sleep(self._backoff(failures))
        except Exception as exc:
            self._end(exc)

    def _backoff(self, failures: int) -> float:
        """Exponential, capped, with ±50 % jitter so a restarted node is not stampeded."""
        return min(self._max_backoff, 0.1 * 2.0 ** (failures - 1)) * (0.5 + random.random())

    async def _open(self) -> ClientConnection:
        """Connect, authenticate, and take the `ready` frame."""
        ws = await connect(
            self.url,
            open_timeout=self._open_timeout,
            compression=self._compression,
            max_size=None,
        )
        try:
            auth: Frame = {"op": "auth", "token": self.client.token}
            if self._last is not None:
                auth["since"] = str(self._last)
            await self._transmit(ws, orjson.dumps(auth).decode())
            ready = orjson.loads(await asyncio.wait_for(ws.recv(), self._open_timeout))
        except websockets.ConnectionClosed:
            await ws.close()
            if ws.close_code == CLOSE_AUTH_FAILED:
                raise ApiError(401, "unauthenticated", "The server refused the token.") from None
            raise
        except BaseException:
            await ws.close()
            raise
        if not isinstance(ready, dict) or ready.get("op") != "ready":
            await ws.close()
            if isinstance(ready, dict) and ready.get("op") == "error":
                error = _api_error(ready)
                if error.status >= 500:
                    raise _Retryable(str(error))
                raise error
            raise StreamError(CLOSE_PROTOCOL, f"Expected a ready frame, got {ready!r:.100}.")
        interval_ms = ready.get("heartbeat_interval_ms")
        if isinstance(interval_ms, int | float) and interval_ms > 0:
            self.heartbeat_interval = interval_ms / 1000
        if self._last is None:
            self._last = int(ready["position"])
        if self.client.position is None:
            self.client.position = str(ready["position"])
        self.connections += 1
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)
        return ws

    async def _serve(self, ws: ClientConnection) -> tuple[int | None, str]:
        """Receive until the connection ends; its close code and reason."""
        self._ws = ws
        self._overflowed = False  # the server resumes from `_last`: nothing is missing
        # Snapshot, before any await: later actions see `self._ws` and send themselves.
        resend = [pending.data for pending in self._pending.values()]
        helpers = [
            asyncio.create_task(self._resend(ws, resend)),
            asyncio.create_task(self._heartbeat(ws)),
        ]
        try:
            async for raw in ws:
                self._receive(orjson.loads(raw))
        except websockets.ConnectionClosed:
            pass
        finally:
            self._ws = None
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
        return ws.close_code, ws.close_reason or ""

    async def _resend(self, ws: ClientConnection, frames: list[str]) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            for data in frames:
                await self._transmit(ws, data)

    async def _heartbeat(self, ws: ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                half = self.heartbeat_interval / 2
                quiet = time.monotonic() - self._last_sent
                if quiet >= half:
                    await self._transmit(ws, '{"op":"ping","id":"heartbeat"}')
                    quiet = 0.0
                await asyncio.sleep(half - quiet)

    async def _transmit(self, ws: ClientConnection, data: str) -> None:
        self._last_sent = time.monotonic()
        await ws.send(data)

    def _receive(self, frame: Any) -> None:
        if not isinstance(frame, dict):
            return
        op = frame.get("op")
        if op == "ack" or op == "error":
            pending = self._pending.get(str(frame.get("id")))
            if pending is not None and not pending.future.done():
                if op == "ack":
                    pending.future.set_result(frame)
                else:
                    pending.future.set_exception(_api_error(frame))
            return
        if op == "event":
            position = int(frame["position"])
            if self._last is not None and position <= self._last:
                return  # delivered before a reconnect
            if self._overflowed or self._frames.qsize() >= self._buffer:
                self._overflowed = True  # dropped; read again after a reconnect
                return
            self._last = position
        elif self._frames.qsize() >= self._buffer:
            return  # ephemeral frames are not worth waiting for
        self._frames.put_nowait(frame)

    def _end(self, failure: BaseException) -> None:
        """No more frames or acks: fail the waiting actions and end the iteration."""
        if self._failure is not None:
            return
        self._failure = failure
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(failure)
        self._frames.put_nowait(None)
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(failure)


def _ws_url(base_url: str) -> str:
    scheme, rest = base_url.split("://", 1)
    ws_scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    return f"{ws_scheme}://{rest.rstrip('/')}/api/v1/stream"


def _api_error(frame: Frame) -> ApiError:
    error = frame.get("error")
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code", "internal_error"))
    status = CODES.get(code, (500, ""))[0]
    return ApiError(status, code, str(error.get("message", "")))


def _close_error(code: int, reason: str) -> Exception:
    if code == CLOSE_AUTH_FAILED:
        return ApiError(401, "unauthenticated", reason or "The server refused the token.")
    return StreamError(code, reason or "closed by the server")
