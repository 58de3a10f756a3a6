"""Reports (anyone) and the moderators' queue, actions and audit log (admins)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import json
from backchannel.services import moderation

router = APIRouter(prefix="/api/v1", tags=["moderation"])


@router.post(
    "/reports",
    status_code=201,
    response_model=s.ReportCreatedOut,
    responses={200: {"model": s.ReportCreatedOut, "description": "Already reported: that one."}},
)
async def report(body: s.NewReportIn, core: CoreDep, me: RequesterDep) -> Response:
    """Report a user, a message or a conversation to the moderators."""
    view, created = await moderation.file_report(
        core,
        me,
        kind=body.kind,
        reason=body.reason,
        user=body.user,
        conversation_id=body.conversation_id,
        message_id=body.message_id,
        comment=body.comment,
    )
    return json(view, 201 if created else 200)


@router.get("/moderation/reports", response_model=s.ReportPage)
async def queue(
    core: CoreDep,
    me: RequesterDep,
    status: Literal["open", "closed"] = "open",
    source: Literal["report", "filter"] | None = None,
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=100),
) -> Response:
    """The queue: open reports oldest first (closed ones newest first)."""
    return json(
        await moderation.queue(core, me, status=status, source=source, cursor=cursor, limit=limit)
    )


@router.get("/moderation/reports/{report_id}", response_model=s.ReportDetailOut)
async def get_report(report_id: str, core: CoreDep, me: RequesterDep) -> Response:
    """A report with its evidence and its log entries."""
    return json(await moderation.get_report(core, me, report_id))


@router.post("/moderation/reports/{report_id}/actions", response_model=s.ReportDetailOut)
async def act_on_report(
    report_id: str, body: s.ReportActionIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Resolve an open report with an action; it is closed and logged."""
    return json(await moderation.act_on_report(core, me, report_id, body.action, note=body.note))


@router.post("/moderation/users/{handle}/actions", response_model=s.ModeratedUserOut)
async def act_on_user(
    handle: str, body: s.UserActionIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Warn, suspend or unsuspend someone without a report; logged."""
    return json(
        await moderation.act_on_user(
            core, me, handle, body.action, note=body.note, reason=body.reason
        )
    )


@router.get("/moderation/log", response_model=s.LogPage)
async def audit_log(
    core: CoreDep,
    me: RequesterDep,
    user: str | None = Query(None, max_length=64),
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=100),
) -> Response:
    """The moderation log, newest first; `?user=` for the entries about one person."""
    return json(await moderation.audit_log(core, me, user=user, cursor=cursor, limit=limit))
