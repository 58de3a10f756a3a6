"""The business inbox: a business's team works its conversations, as the business."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import epoch_ms, json, no_content
from backchannel.api.routes.messages import content_of
from backchannel.services import (
    business,
    inbox_views,
    team_inbox,
    team_media,
    team_presence,
    workspace,
)

router = APIRouter(prefix="/api/v1", tags=["business"])
B = "/businesses/{handle}"


@router.post("/me/business", status_code=201, response_model=s.BusinessOut)
async def become(body: s.BecomeBusinessIn, core: CoreDep, me: RequesterDep) -> Response:
    """Make your account a business, with you as its first owner. Conversations from
    before stay yours alone; those started from now on are the team's to work."""
    return json(await business.become_business(core, me, timezone=body.timezone), 201)


@router.get("/me/businesses", response_model=s.MembershipList)
async def mine(core: CoreDep, me: RequesterDep) -> Response:
    """The businesses whose team you are on now."""
    return json(await business.my_businesses(core, me))


@router.get(B, response_model=s.BusinessOut)
async def get(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await business.get_business(core, me, handle))


@router.get(B + "/settings", response_model=s.BusinessSettingsOut)
async def settings(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    """Business hours (open now? next opening), the welcome and the away message."""
    return json(await business.get_settings(core, me, handle))


@router.patch(B + "/settings", response_model=s.BusinessSettingsOut)
async def update_settings(
    handle: str, body: s.BusinessSettingsPatch, core: CoreDep, me: RequesterDep
) -> Response:
    changes = body.model_dump(include=body.model_fields_set)
    return json(await business.update_settings(core, me, handle, changes))


@router.get(B + "/members", response_model=s.TeamMemberList)
async def members(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await business.team_members(core, me, handle))


@router.put(
    B + "/members/{member}",
    response_model=s.TeamMemberOut,
    responses={201: {"model": s.TeamMemberOut, "description": "Added to the team."}},
)
async def put_member(
    handle: str, member: str, body: s.TeamMemberIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Add an account to the team (201) or change its role, scope or expiry (200)."""
    view, added = await business.put_member(
        core,
        me,
        handle,
        member,
        role=body.role,
        scope=body.scope,
        expires_at_ms=epoch_ms(body.expires_at),
    )
    return json(view, 201 if added else 200)


@router.delete(B + "/members/{member}", status_code=204)
async def remove_member(handle: str, member: str, core: CoreDep, me: RequesterDep) -> Response:
    """Take someone off the team, or leave it (your own handle)."""
    await business.remove_member(core, me, handle, member)
    return no_content()


@router.get(B + "/conversations", response_model=s.TeamInboxPage)
async def inbox(
    handle: str,
    core: CoreDep,
    me: RequesterDep,
    status: Literal["open", "pending", "snoozed", "resolved"] | None = None,
    assignee: str | None = Query(None, max_length=40, description="A handle, `me` or `none`."),
    label: str | None = Query(None, max_length=64, description="A label id."),
    priority: Literal["none", "low", "medium", "high", "urgent"] | None = None,
    waiting_minutes: int | None = Query(None, ge=0, le=525600, description="Waiting at least."),
    unread: bool = False,
    view: str | None = Query(None, max_length=64, description="A saved view's id."),
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=100),
) -> Response:
    """The team inbox, newest activity first, with each conversation's working state;
    with `view`, that saved view's filters (those given beside it win)."""
    return json(
        await team_inbox.inbox(
            core,
            me,
            handle,
            status=status,
            assignee=assignee,
            label=label,
            priority=priority,
            waiting_minutes=waiting_minutes,
            unread=unread,
            cursor=cursor,
            limit=limit,
            view=view,
        )
    )


@router.get(B + "/views", response_model=s.ViewList)
async def views(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    """Saved views: the team's shared ones, then your own."""
    return json(await inbox_views.list_views(core, me, handle))


@router.post(B + "/views", status_code=201, response_model=s.ViewOut)
async def create_view(handle: str, body: s.ViewIn, core: CoreDep, me: RequesterDep) -> Response:
    filters = body.filters.model_dump(exclude_none=True)
    view = await inbox_views.create_view(
        core, me, handle, name=body.name, filters=filters, shared=body.shared
    )
    return json(view, 201)


@router.patch(B + "/views/{view_id}", response_model=s.ViewOut)
async def update_view(
    handle: str, view_id: str, body: s.ViewPatch, core: CoreDep, me: RequesterDep
) -> Response:
    changes: dict[str, Any] = {"name": body.name}
    if body.filters is not None:
        changes["filters"] = body.filters.model_dump(exclude_none=True)
    return json(await inbox_views.update_view(core, me, handle, view_id, changes))


@router.delete(B + "/views/{view_id}", status_code=204)
async def delete_view(handle: str, view_id: str, core: CoreDep, me: RequesterDep) -> Response:
    await inbox_views.delete_view(core, me, handle, view_id)
    return no_content()


@router.get(B + "/conversations/{conversation_id}", response_model=s.TeamConversationOut)
async def conversation(
    handle: str, conversation_id: str, core: CoreDep, me: RequesterDep
) -> Response:
    return json(await team_inbox.get_conversation(core, me, handle, conversation_id))


@router.patch(B + "/conversations/{conversation_id}", response_model=s.WorkStateOut)
async def triage(
    handle: str, conversation_id: str, body: s.WorkStatePatch, core: CoreDep, me: RequesterDep
) -> Response:
    """Change status (with `snoozed_until` to snooze), priority, or assignee."""
    changes = body.model_dump(include=body.model_fields_set)
    if "snoozed_until" in changes:
        changes["snoozed_until"] = epoch_ms(changes["snoozed_until"])
    return json(await team_inbox.update_conversation(core, me, handle, conversation_id, changes))


@router.get(B + "/conversations/{conversation_id}/messages", response_model=s.TeamMessagePage)
async def history(
    handle: str,
    conversation_id: str,
    core: CoreDep,
    me: RequesterDep,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = Query(None, ge=1, le=100),
) -> Response:
    """The conversation's messages from when it entered the inbox; `agent` says which
    teammate wrote each of the business's."""
    return json(
        await team_inbox.history(
            core, me, handle, conversation_id, before=before, after=after, limit=limit
        )
    )


@router.post(
    B + "/conversations/{conversation_id}/messages",
    status_code=201,
    response_model=s.TeamMessageOut,
    responses={
        200: {"model": s.TeamMessageOut, "description": "A retry: the original."},
        202: {"model": s.ApprovalOut, "description": "Held for an admin's approval."},
    },
)
async def reply(
    handle: str, conversation_id: str, body: s.MessageIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Reply as the business (the customer sees the business; the team, you). A member
    whose replies need approval gets 202 and the held reply instead."""
    content = content_of(body, core.settings.max_message_length)
    view, outcome = await team_inbox.reply(
        core,
        me,
        handle,
        conversation_id,
        txn_id=body.txn_id,
        text=body.text,
        reply_to=body.reply_to,
        content=content,
    )
    if outcome == "created":
        core.metrics.messages_sent.inc()
    return json(view, {"created": 201, "retry": 200, "held": 202}[outcome])


@router.post(B + "/conversations/{conversation_id}/read", response_model=s.ReadOut)
async def mark_read(
    handle: str, conversation_id: str, body: s.ReadIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Mark it read for the team, up to a message (the customer may see "Seen")."""
    position = await team_inbox.mark_read(core, me, handle, conversation_id, body.up_to)
    return json({"read_position": position})


@router.post(B + "/conversations/{conversation_id}/presence", response_model=s.TeamPresenceOut)
async def presence(
    handle: str, conversation_id: str, body: s.TeamPresenceIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Tell teammates you are viewing, typing in, or left this conversation (ephemeral)."""
    result = await team_presence.announce(core, me, handle, conversation_id, body.state)
    return json(result)


@router.post(
    B + "/conversations/{conversation_id}/notes", status_code=201, response_model=s.NoteOut
)
async def note(
    handle: str, conversation_id: str, body: s.NoteIn, core: CoreDep, me: RequesterDep
) -> Response:
    """A private note for the team; @handles of teammates tell them."""
    return json(await team_inbox.add_note(core, me, handle, conversation_id, body.text), 201)


@router.put(B + "/conversations/{conversation_id}/labels/{label_id}", response_model=s.WorkStateOut)
async def label_on(
    handle: str, conversation_id: str, label_id: str, core: CoreDep, me: RequesterDep
) -> Response:
    return json(await team_inbox.set_label(core, me, handle, conversation_id, label_id, on=True))


@router.delete(
    B + "/conversations/{conversation_id}/labels/{label_id}", response_model=s.WorkStateOut
)
async def label_off(
    handle: str, conversation_id: str, label_id: str, core: CoreDep, me: RequesterDep
) -> Response:
    return json(await team_inbox.set_label(core, me, handle, conversation_id, label_id, on=False))


@router.get(B + "/labels", response_model=s.LabelList)
async def labels(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await team_inbox.labels(core, me, handle))


@router.post(B + "/labels", status_code=201, response_model=s.LabelOut)
async def create_label(handle: str, body: s.LabelIn, core: CoreDep, me: RequesterDep) -> Response:
    return json(
        await team_inbox.create_label(core, me, handle, name=body.name, color=body.color), 201
    )


@router.patch(B + "/labels/{label_id}", response_model=s.LabelOut)
async def update_label(
    handle: str, label_id: str, body: s.LabelPatch, core: CoreDep, me: RequesterDep
) -> Response:
    return json(
        await team_inbox.update_label(core, me, handle, label_id, name=body.name, color=body.color)
    )


@router.delete(B + "/labels/{label_id}", status_code=204)
async def delete_label(handle: str, label_id: str, core: CoreDep, me: RequesterDep) -> Response:
    await team_inbox.delete_label(core, me, handle, label_id)
    return no_content()


@router.get(B + "/audit", response_model=s.AuditPage)
async def audit(
    handle: str,
    core: CoreDep,
    me: RequesterDep,
    actor: str | None = Query(None, max_length=40, description="Only this teammate's."),
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=100),
) -> Response:
    """Every delegated read and write, newest first (owners and admins)."""
    return json(await business.audit_log(core, me, handle, actor=actor, cursor=cursor, limit=limit))


@router.get(B + "/teams", response_model=s.TeamList)
async def teams(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await workspace.teams(core, me, handle))


@router.post(B + "/teams", status_code=201, response_model=s.TeamOut)
async def create_team(handle: str, body: s.TeamIn, core: CoreDep, me: RequesterDep) -> Response:
    """A team within the team (support, sales…), for assignment and an agent's scope."""
    return json(await workspace.create_team(core, me, handle, body.name), 201)


@router.put(B + "/teams/{team_id}/members/{member}", response_model=s.TeamOut)
async def join_team(
    handle: str, team_id: str, member: str, core: CoreDep, me: RequesterDep
) -> Response:
    return json(await workspace.set_team_member(core, me, handle, team_id, member, on=True))


@router.delete(B + "/teams/{team_id}/members/{member}", response_model=s.TeamOut)
async def leave_team(
    handle: str, team_id: str, member: str, core: CoreDep, me: RequesterDep
) -> Response:
    return json(await workspace.set_team_member(core, me, handle, team_id, member, on=False))


@router.delete(B + "/teams/{team_id}", status_code=204)
async def delete_team(handle: str, team_id: str, core: CoreDep, me: RequesterDep) -> Response:
    await workspace.delete_team(core, me, handle, team_id)
    return no_content()


@router.get(B + "/saved-replies", response_model=s.SavedReplyList)
async def saved_replies(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await workspace.saved_replies(core, me, handle))


@router.post(B + "/saved-replies", status_code=201, response_model=s.SavedReplyOut)
async def create_saved_reply(
    handle: str, body: s.SavedReplyIn, core: CoreDep, me: RequesterDep
) -> Response:
    """A saved reply; its variables are checked now (`invalid_template`)."""
    view = await workspace.save_reply(
        core, me, handle, reply_pid=None, shortcut=body.shortcut, title=body.title, text=body.text
    )
    return json(view, 201)


@router.patch(B + "/saved-replies/{reply_id}", response_model=s.SavedReplyOut)
async def update_saved_reply(
    handle: str, reply_id: str, body: s.SavedReplyPatch, core: CoreDep, me: RequesterDep
) -> Response:
    return json(
        await workspace.save_reply(
            core,
            me,
            handle,
            reply_pid=reply_id,
            shortcut=body.shortcut,
            title=body.title,
            text=body.text,
        )
    )


@router.delete(B + "/saved-replies/{reply_id}", status_code=204)
async def delete_saved_reply(
    handle: str, reply_id: str, core: CoreDep, me: RequesterDep
) -> Response:
    await workspace.delete_saved_reply(core, me, handle, reply_id)
    return no_content()


@router.post(B + "/saved-replies/{reply_id}/render", response_model=s.RenderOut)
async def render_saved_reply(
    handle: str, reply_id: str, body: s.RenderIn, core: CoreDep, me: RequesterDep
) -> Response:
    """The saved reply filled in for a conversation (its customer, you, the business)."""
    return json(await workspace.render_reply(core, me, handle, reply_id, body.conversation_id))


@router.get(B + "/contacts/{customer}", response_model=s.ContactOut)
async def contact(handle: str, customer: str, core: CoreDep, me: RequesterDep) -> Response:
    """What the business knows of a customer, and their conversations' states."""
    return json(await workspace.get_contact(core, me, handle, customer))


@router.patch(B + "/contacts/{customer}", response_model=s.ContactOut)
async def update_contact(
    handle: str, customer: str, body: s.ContactPatch, core: CoreDep, me: RequesterDep
) -> Response:
    changes = body.model_dump(include=body.model_fields_set)
    return json(await workspace.update_contact(core, me, handle, customer, changes))


@router.get(B + "/media/{media_id}/links", response_model=s.MediaLinksOut)
async def media_links(handle: str, media_id: str, core: CoreDep, me: RequesterDep) -> Response:
    """Signed links to an attachment in one of the business's conversations you may see."""
    return json(await team_media.media_links(core, me, handle, media_id))
