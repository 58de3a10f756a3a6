"""The Python SDK: an async client for Backchannel's HTTP API and WebSocket stream.

    async with await Client.login("http://127.0.0.1:8000", "alice", "secret") as bc:
        conversation = await bc.open_direct("bob")
        await bc.send(conversation["id"], "hi")            # REST
        async with bc.stream() as stream:                   # WebSocket
            await stream.send(conversation["id"], "hi again")
            async for frame in stream:                      # events, typing, presence
                ...

Sends carry an automatic `txn_id` and are retried with it after network
errors and 5xx replies (REST) or dropped connections (WebSocket), so a retry can
never duplicate a message. Both `events()` (a long-poll of `/api/v1/sync`) and
`stream()` resume from `position`, the token after the last event they
delivered, and so deliver every event exactly once across errors and restarts;
see `backchannel.client.stream` for the WebSocket's contracts.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from backchannel.client.errors import ApiError, StreamError
from backchannel.client.stream import Stream

__all__ = ["ApiError", "Client", "Stream", "StreamError"]

RETRYABLE_STATUS = {502, 503, 504}


class Client:
    """One device of one user. Use `register` or `login` to get one with a token."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        retries: int = 4,
        timeout: float = 40.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.token = token
        self.retries = retries
        self.profile: dict[str, Any] | None = None
        # the token after the last event delivered by `events()` or a `stream()`
        self.position: str | None = None
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        self.base_url = str(self._http.base_url).rstrip("/")

    # --- lifecycle ------------------------------------------------------------

    @classmethod
    async def register(
        cls,
        base_url: str,
        handle: str,
        password: str,
        *,
        display_name: str | None = None,
        device_name: str = "python sdk",
        **options: Any,
    ) -> Client:
        client = cls(base_url, **options)
        body = {"handle": handle, "password": password, "device_name": device_name}
        if display_name is not None:
            body["display_name"] = display_name
        reply = await client._request("POST", "/api/v1/accounts", json=body, auth=False)
        client.token, client.profile = reply["token"], reply["user"]
        return client

    @classmethod
    async def login(
        cls,
        base_url: str,
        handle: str,
        password: str,
        *,
        device_name: str = "python sdk",
        **options: Any,
    ) -> Client:
        client = cls(base_url, **options)
        body = {"handle": handle, "password": password, "device_name": device_name}
        reply = await client._request("POST", "/api/v1/sessions", json=body, auth=False)
        client.token, client.profile = reply["token"], reply["user"]
        return client

    async def logout(self) -> None:
        await self._request("DELETE", "/api/v1/sessions/current")
        self.token = None

    async def sessions(self) -> list[dict[str, Any]]:
        """This account's devices (`current`: this one)."""
        return list((await self._request("GET", "/api/v1/sessions", retry=True))["items"])

    async def revoke_session(self, session_id: str) -> None:
        """Log another device out: its token stops working and its live stream is closed."""
        await self._request("DELETE", f"/api/v1/sessions/{session_id}")

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # --- requests -------------------------------------------------------------

    async def _request(
        self, method: str, path: str, *, auth: bool = True, retry: bool = False, **kwargs: Any
    ) -> Any:
        """One API call. With `retry`, network errors and 502-504 are retried with
        exponential backoff; only idempotent requests may ask for that."""
        headers = {"Authorization": f"Bearer {self.token}"} if auth and self.token else {}
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            try:
                response = await self._http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError:
                if attempt + 1 == attempts:
                    raise
            else:
                if response.status_code not in RETRYABLE_STATUS or attempt + 1 == attempts:
                    return _decode(response)
            await asyncio.sleep(min(8.0, 0.2 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    # --- profile and graph ------------------------------------------------------

    async def me(self) -> dict[str, Any]:
        return dict(await self._request("GET", "/api/v1/me", retry=True))

    async def update_me(self, *, display_name: str | None = None, bio: str | None = None) -> Any:
        body = {k: v for k, v in {"display_name": display_name, "bio": bio}.items() if v}
        return await self._request("PATCH", "/api/v1/me", json=body, retry=True)

    async def user(self, handle: str) -> dict[str, Any]:
        return dict(await self._request("GET", f"/api/v1/users/{handle}", retry=True))

    async def presence(self, handles: list[str]) -> list[dict[str, Any]]:
        """`{user, active, last_active_at}` for each handle, as you may see it."""
        params = {"users": ",".join(handles)}
        return list(
            (await self._request("GET", "/api/v1/presence", params=params, retry=True))["items"]
        )

    async def follow(self, handle: str) -> None:
        await self._request("PUT", f"/api/v1/users/{handle}/follow", retry=True)

    async def unfollow(self, handle: str) -> None:
        await self._request("DELETE", f"/api/v1/users/{handle}/follow", retry=True)

    # --- who may reach me ----------------------------------------------------------

    async def can_message(self, handle: str) -> dict[str, Any]:
        """`{can_message: direct|request|none, conversation_id, remaining_messages}`."""
        path = f"/api/v1/users/{handle}/can-message"
        return dict(await self._request("GET", path, retry=True))

    async def block(self, handle: str) -> None:
        await self._request("PUT", f"/api/v1/users/{handle}/block", retry=True)

    async def unblock(self, handle: str) -> None:
        await self._request("DELETE", f"/api/v1/users/{handle}/block", retry=True)

    async def blocked(self, *, cursor: str | None = None, limit: int | None = None) -> Any:
        params = _params(cursor=cursor, limit=limit)
        return await self._request("GET", "/api/v1/me/blocks", params=params, retry=True)

    async def set_hidden_words(self, words: list[str]) -> list[str]:
        reply = await self._request("PUT", "/api/v1/me/hidden-words", json={"words": words})
        return list(reply["words"])

    async def report(
        self,
        kind: str,
        reason: str,
        *,
        user: str | None = None,
        conversation_id: str | None = None,
        message_id: str | None = None,
        comment: str = "",
    ) -> dict[str, Any]:
        """Report a `user`, a `message` or a `conversation` to the moderators (idempotent
        while your report is open)."""
        body = {"kind": kind, "reason": reason, "comment": comment}
        body |= _params(user=user, conversation_id=conversation_id, message_id=message_id)
        return dict(await self._request("POST", "/api/v1/reports", json=body, retry=True))

    async def accept_request(self, conversation_id: str) -> dict[str, Any]:
        path = f"/api/v1/conversations/{conversation_id}/accept"
        return dict(await self._request("POST", path, retry=True))

    async def decline_request(
        self, conversation_id: str, *, block: bool = False, report_reason: str | None = None
    ) -> None:
        """Delete a request; optionally block and report its sender in the same action."""
        body: dict[str, Any] = {"block": block}
        if report_reason is not None:
            body["report"] = {"reason": report_reason}
        path = f"/api/v1/conversations/{conversation_id}/decline"
        await self._request("POST", path, json=body)

    async def update_membership(self, conversation_id: str, **changes: Any) -> dict[str, Any]:
        """Your own view: `folder=`, `archived=`, `hidden=`, `pinned=`, `muted=`,
        `muted_until=` (ISO 8601)."""
        path = f"/api/v1/conversations/{conversation_id}/membership"
        return dict(await self._request("PATCH", path, json=changes, retry=True))

    # --- conversations ----------------------------------------------------------

    async def open_direct(self, handle: str) -> dict[str, Any]:
        body = {"kind": "direct", "members": [handle]}
        return dict(await self._request("POST", "/api/v1/conversations", json=body, retry=True))

    async def create_group(self, handles: list[str], title: str | None = None) -> dict[str, Any]:
        body = {"kind": "group", "members": handles, "title": title}
        return dict(await self._request("POST", "/api/v1/conversations", json=body))

    async def add_members(self, conversation_id: str, handles: list[str]) -> dict[str, Any]:
        path = f"/api/v1/conversations/{conversation_id}/members"
        return dict(await self._request("POST", path, json={"members": handles}))

    async def remove_member(self, conversation_id: str, handle: str) -> None:
        """Remove someone from a group (admins), or leave it (your own handle)."""
        path = f"/api/v1/conversations/{conversation_id}/members/{handle}"
        await self._request("DELETE", path)

    async def update_settings(self, **settings: Any) -> dict[str, Any]:
        """`PATCH /api/v1/me/settings`, e.g. `read_receipts=False`."""
        return dict(await self._request("PATCH", "/api/v1/me/settings", json=settings))

    async def inbox(
        self, *, cursor: str | None = None, limit: int | None = None, folder: str | None = None
    ) -> Any:
        """A folder of conversations (primary, general, requests, hidden, archived); none:
        primary and general."""
        params = _params(cursor=cursor, limit=limit, folder=folder)
        return await self._request("GET", "/api/v1/conversations", params=params, retry=True)

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        path = f"/api/v1/conversations/{conversation_id}"
        return dict(await self._request("GET", path, retry=True))

    async def mark_read(self, conversation_id: str, message_id: str) -> int:
        path = f"/api/v1/conversations/{conversation_id}/read"
        reply = await self._request("POST", path, json={"up_to": message_id}, retry=True)
        return int(reply["read_position"])

    # --- messages ------------------------------------------------------------

    async def send(
        self,
        conversation_id: str,
        text: str,
        *,
        reply_to: str | None = None,
        txn_id: str | None = None,
    ) -> dict[str, Any]:
        """Send a message; safe to retry (the txn_id makes it idempotent)."""
        body: dict[str, Any] = {"txn_id": txn_id or uuid.uuid4().hex, "text": text}
        if reply_to is not None:
            body["reply_to"] = reply_to
        path = f"/api/v1/conversations/{conversation_id}/messages"
        return dict(await self._request("POST", path, json=body, retry=True))

    async def history(
        self,
        conversation_id: str,
        *,
        before: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> Any:
        path = f"/api/v1/conversations/{conversation_id}/messages"
        params = _params(before=before, after=after, limit=limit)
        return await self._request("GET", path, params=params, retry=True)

    async def edit(self, conversation_id: str, message_id: str, text: str) -> Any:
        path = f"/api/v1/conversations/{conversation_id}/messages/{message_id}"
        return await self._request("PATCH", path, json={"text": text}, retry=True)

    async def unsend(self, conversation_id: str, message_id: str) -> Any:
        path = f"/api/v1/conversations/{conversation_id}/messages/{message_id}/unsend"
        return await self._request("POST", path, retry=True)

    async def delete_for_me(self, conversation_id: str, message_id: str) -> None:
        path = f"/api/v1/conversations/{conversation_id}/messages/{message_id}"
        await self._request("DELETE", path, retry=True)

    async def react(self, conversation_id: str, message_id: str, emoji: str) -> Any:
        path = f"/api/v1/conversations/{conversation_id}/messages/{message_id}/reactions"
        return await self._request("PUT", path, json={"emoji": emoji}, retry=True)

    async def unreact(self, conversation_id: str, message_id: str, emoji: str) -> Any:
        path = f"/api/v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}"
        return await self._request("DELETE", path, retry=True)

    async def forward(self, conversation_id: str, message_id: str, targets: list[str]) -> Any:
        path = f"/api/v1/conversations/{conversation_id}/messages/{message_id}/forward"
        return await self._request("POST", path, json={"conversation_ids": targets})

    # --- events ----------------------------------------------------------------

    def stream(
        self,
        *,
        buffer: int = 10_000,
        max_backoff: float = 10.0,
        open_timeout: float = 10.0,
        compression: bool = False,
    ) -> Stream:
        """The WebSocket stream, as an async context manager (`async with
        client.stream() as stream`): it connects on entry and closes on exit.

        `buffer` bounds the frames waiting to be read, `max_backoff` the wait
        between reconnects (seconds); `compression` negotiates permessage-deflate
        (less bandwidth, more CPU and memory on both sides).
        """
        return Stream(
            self,
            buffer=buffer,
            max_backoff=max_backoff,
            open_timeout=open_timeout,
            compression=compression,
        )

    async def sync(self, since: str | None = None, *, timeout_ms: int = 0) -> dict[str, Any]:
        params = _params(since=since, timeout=timeout_ms if since is not None else None)
        return dict(await self._request("GET", "/api/v1/sync", params=params, retry=True))

    async def events(
        self, since: str | None = None, *, timeout_ms: int = 25000
    ) -> AsyncIterator[dict[str, Any]]:
        """Every event after `since` (default: from now on), forever, exactly once.

        Survives dropped connections and server restarts: it backs off and
        resumes from `self.position`, the token after the last event yielded.
        """
        if since is None:
            since = self.position or (await self.sync())["next"]
        self.position = since
        failures = 0
        while True:
            try:
                batch = await self.sync(self.position, timeout_ms=timeout_ms)
            except (httpx.TransportError, ApiError) as exc:
                if isinstance(exc, ApiError) and exc.status < 500:
                    raise
                failures += 1
                await asyncio.sleep(min(10.0, 0.2 * 2**failures) * (0.5 + random.random()))
                continue
            failures = 0
            for event in batch["events"]:
                self.position = str(event["position"])
                yield event
            self.position = batch["next"]


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _decode(response: httpx.Response) -> Any:
    if response.status_code == 204:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        return body
    error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
    raise ApiError(
        response.status_code,
        str(error.get("code", "http_error")),
        str(error.get("message", response.text[:200])),
    )
