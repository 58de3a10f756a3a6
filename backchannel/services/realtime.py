"""Ephemeral signals: typing indicators. Broadcast through the broker, never stored."""

from __future__ import annotations

import asyncio

import orjson

from backchannel.services import access
from backchannel.services.core import Core, Requester
from backchannel.store import conversations as conv_db
from backchannel.store.database import ReadTxn

# "typing…" lasts this long unless refreshed (send `typing` every ~3 s while typing). The
# server ends it itself when the time is up, when the typist says so, or when their socket
# closes; clients may also drop it after `expires_in_ms` on their own.
TYPING_TTL_MS = 5000


async def typing(core: Core, requester: Requester, conversation_pid: str, active: bool) -> None:
    """Tell the other members (not the typist's own devices) that the requester is typing,
    or stopped. An indicator not refreshed within TYPING_TTL_MS ends by itself.

    Not across a block, and not while either side holds the conversation as an
    unanswered request: a recipient reads a request without the sender knowing."""

    def txn(t: ReadTxn) -> list[int]:
        conversation = access.conversation(t.conn, requester, conversation_pid)
        if conversation["request_state"] is not None:
            return []
        return conv_db.signal_audience(t.conn, conversation["id"], requester.user_id)

    recipients = await core.store.read("typing", txn)
    key = (requester.user_id, conversation_pid)
    previous = core.typing_timers.pop(key, None)
    if previous is not None:
        previous[0].cancel()
    if active:
        timer = asyncio.get_running_loop().call_later(
            TYPING_TTL_MS / 1000, _expire, core, key, requester.handle
        )
        core.typing_timers[key] = (timer, recipients)
    core.broker.publish_ephemeral(recipients, _frame(conversation_pid, requester.handle, active))


def stop_typing(core: Core, requester: Requester) -> None:
    """The requester's socket closed: end every indicator of theirs still showing."""
    for key in [k for k in core.typing_timers if k[0] == requester.user_id]:
        timer, recipients = core.typing_timers.pop(key)
        timer.cancel()
        core.broker.publish_ephemeral(recipients, _frame(key[1], requester.handle, False))


def _expire(core: Core, key: tuple[int, str], handle: str) -> None:
    entry = core.typing_timers.pop(key, None)
    if entry is not None and not core.shutting_down:
        core.broker.publish_ephemeral(entry[1], _frame(key[1], handle, False))


def _frame(conversation_pid: str, handle: str, active: bool) -> bytes:
    return orjson.dumps(
        {
            "op": "typing",
            "conversation_id": conversation_pid,
            "user": handle,
            "active": active,
            "expires_in_ms": TYPING_TTL_MS if active else 0,
        }
    )
