"""Media in the business inbox for the team: a teammate is no member of the business's
conversations, so the member media routes (and their links, signed per member) answer them
`media_not_found`. The team asks here instead; the gate is the inbox's, and the links are
signed for the business account, which is the member."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from backchannel.domain.ids import is_public_id
from backchannel.errors import BackchannelError
from backchannel.services import business
from backchannel.services import media as media_service
from backchannel.services.core import Core, Requester
from backchannel.store import business as bdb
from backchannel.store import media as media_db
from backchannel.store import messages as message_db
from backchannel.store.database import WriteTxn


async def media_links(
    core: Core, requester: Requester, handle: str, media_pid: str
) -> dict[str, Any]:
    """Signed links `{url, thumbnail_url, expires_in}` to an attachment of a message in one
    of the business's conversations the requester may see (their scope), sent since it
    entered the inbox and visible to the business. `media_not_found` for anything else,
    alike: other media, outside the scope, unsent, and view-once media (its one opening is
    the business's recipient's, not the team's). Audited as `media.read`."""

    def txn(t: WriteTxn) -> tuple[int, bool]:
        team = business.gate(t, requester, handle, "read")
        business_id = int(team.business["id"])
        row = media_db.media_by_pid(t.conn, media_pid) if is_public_id(media_pid) else None
        message = None
        if row is not None and row["message_id"] is not None:
            message = message_db.messages_by_ids(t.conn, [int(row["message_id"])]).get(
                int(row["message_id"])
            )
        state = None
        if message is not None:
            state = bdb.state_by_ids(t.conn, business_id, int(message["conversation_id"]))
        if (
            row is None
            or message is None
            or state is None
            or not business.in_scope(team, state, requester.user_id)
            or message["position"] < state["start_position"]
            or row["view_once"]
            or not media_db.viewable(t.conn, row, business_id)
        ):
            raise BackchannelError("media_not_found", "No such media.")
        business.audit_in_txn(
            t,
            team,
            requester,
            "media.read",
            conversation_id=int(message["conversation_id"]),
            media=media_pid,
        )
        return business_id, row["thumbnail_key"] is not None and row["erased_at"] is None

    business_id, thumbnail = await core.store.write("business_media_links", txn)
    base = f"/api/v1/media/{media_pid}"
    original = media_service.signed_query(core, media_pid, business_id, "original")
    small = media_service.signed_query(core, media_pid, business_id, "thumbnail")
    return {
        "url": f"{base}?{urlencode(original)}",
        "thumbnail_url": f"{base}/thumbnail?{urlencode(small)}" if thumbnail else None,
        "expires_in": media_service.SIGNED_URL_SECONDS,
    }
