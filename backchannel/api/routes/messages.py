"""Messages in a conversation: send, history, edit, unsend, delete for me, react, forward."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import json, no_content
from backchannel.domain import messages as message_rules
from backchannel.services import messages, previews

router = APIRouter(prefix="/api/v1/conversations/{conversation_id}/messages", tags=["messages"])


@router.post(
    "",
    status_code=201,
    response_model=s.MessageOut,
    responses={200: {"model": s.MessageOut, "description": "A retry: the original message."}},
)
async def send(
    conversation_id: str, body: s.MessageIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Send a message — text, attachments (`media` ids from POST /api/v1/media), a
    `location`, a shared `profile` or `post`. Repeat a `txn_id` to retry safely: 200 with
    the original."""
    content = content_of(body, core.settings.max_message_length)
    view, created = await messages.send_message(
        core,
        me,
        conversation_id,
        txn_id=body.txn_id,
        text=body.text,
        reply_to=body.reply_to,
        content=content,
    )
    if created:
        core.metrics.messages_sent.inc()
    return json(view, 201 if created else 200)


@router.get("", response_model=s.MessagePage)
async def history(
    conversation_id: str,
    core: CoreDep,
    me: RequesterDep,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = Query(None, ge=1, le=100),
) -> Response:
    """History in sending order: the newest page, or the page before/after a cursor."""
    return json(
        await messages.history(core, me, conversation_id, before=before, after=after, limit=limit)
    )


@router.get("/{message_id}", response_model=s.MessageOut)
async def get(conversation_id: str, message_id: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await messages.get_message(core, me, conversation_id, message_id))


@router.patch("/{message_id}", response_model=s.MessageOut)
async def edit(
    conversation_id: str, message_id: str, body: s.MessagePatch, core: CoreDep, me: RequesterDep
) -> Response:
    """Edit your message within the edit window; it is marked edited."""
    return json(await messages.edit_message(core, me, conversation_id, message_id, body.text))


@router.post("/{message_id}/unsend", response_model=s.MessageOut)
async def unsend(
    conversation_id: str, message_id: str, core: CoreDep, me: RequesterDep
) -> Response:
    """Unsend your message: its content is erased for everyone; a tombstone stays."""
    return json(await messages.unsend_message(core, me, conversation_id, message_id))


@router.delete("/{message_id}", status_code=204)
async def delete_for_me(
    conversation_id: str, message_id: str, core: CoreDep, me: RequesterDep
) -> Response:
    """Delete a message for yourself only (on all your devices)."""
    await messages.hide_message(core, me, conversation_id, message_id)
    return no_content()


@router.put("/{message_id}/reactions", response_model=s.MessageOut)
async def react(
    conversation_id: str, message_id: str, body: s.ReactionIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Add your reaction (idempotent)."""
    return json(
        await messages.set_reaction(core, me, conversation_id, message_id, body.emoji, on=True)
    )


@router.delete("/{message_id}/reactions/{emoji}", response_model=s.MessageOut)
async def unreact(
    conversation_id: str, message_id: str, emoji: str, core: CoreDep, me: RequesterDep
) -> Response:
    """Take your reaction back (idempotent)."""
    return json(await messages.set_reaction(core, me, conversation_id, message_id, emoji, on=False))


@router.post("/{message_id}/forward", status_code=201, response_model=s.MessageList)
async def forward(
    conversation_id: str, message_id: str, body: s.ForwardIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Forward a message to up to 5 of your conversations, all or none."""
    items = await messages.forward_message(
        core, me, conversation_id, message_id, body.conversation_ids
    )
    core.metrics.messages_sent.inc(len(items))
    return json({"items": items}, 201)


@router.delete("/{message_id}/preview", status_code=204)
async def remove_preview(
    conversation_id: str, message_id: str, core: CoreDep, me: RequesterDep
) -> Response:
    """Remove your message's link preview (also before it is built)."""
    await previews.remove(core, me, conversation_id, message_id)
    return no_content()


def content_of(body: s.MessageIn, max_length: int) -> message_rules.Content | None:
    """A send's rich content, checked (None for plain text): also a business's reply."""
    if not (body.media or body.location or body.profile or body.post):
        return None
    return message_rules.check_content(
        text=body.text,
        max_length=max_length,
        media=body.media,
        location=None if body.location is None else body.location.model_dump(),
        profile=body.profile,
        post=None if body.post is None else body.post.model_dump(),
    )
