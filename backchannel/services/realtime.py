"""Ephemeral signals: typing indicators. Broadcast through the broker, never stored."""

from __future__ import annotations

import orjson

from backchannel.services import access
from backchannel.services.core import Core, Requester
from backchannel.store import conversations as conv_db
from backchannel.store.database import ReadTxn

# Clients show "typing…" for this long unless refreshed (send `typing` every ~3 s while
# typing), so a client that vanishes mid-word stops "typing" on its own.
TYPING_TTL_MS = 5000


async def typing(core: Core, requester: Requester, conversation_pid: str, active: bool) -> None:
    """Tell the other members (not the typist's own devices) that the requester is typing."""

    def txn(t: ReadTxn) -> list[int]:
        conversation = access.conversation(t.conn, requester, conversation_pid)
        return [
            uid
            for uid in conv_db.member_ids(t.conn, conversation["id"])
            if uid != requester.user_id
        ]

    recipients = await core.store.read("typing", txn)
    frame = orjson.dumps(
        {
            "op": "typing",
            "conversation_id": conversation_pid,
            "user": requester.handle,
            "active": active,
            "expires_in_ms": TYPING_TTL_MS if active else 0,
        }
    )
    core.broker.publish_ephemeral(recipients, frame)
