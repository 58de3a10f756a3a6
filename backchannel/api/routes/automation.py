"""The business inbox's automation: rules (with dry-runs and their run log) and
round-robin assignment (settings, and each teammate's availability)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import json, no_content
from backchannel.services import assignment, automation

router = APIRouter(prefix="/api/v1", tags=["business"])
B = "/businesses/{handle}"


@router.get(B + "/rules", response_model=s.RuleList)
async def rules(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    """The rules in running order (owners and admins)."""
    return json(await automation.list_rules(core, me, handle))


@router.post(B + "/rules", status_code=201, response_model=s.RuleOut)
async def create_rule(handle: str, body: s.RuleIn, core: CoreDep, me: RequesterDep) -> Response:
    """A rule, checked whole now (`invalid_rule` lists every mistake), run last in order."""
    return json(await automation.create_rule(core, me, handle, body.model_dump()), 201)


@router.post(B + "/rules/dry-run", response_model=s.DryRunOut)
async def dry_run_draft(
    handle: str, body: s.DraftDryRunIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Try an unsaved rule on a message: which conditions hold, what would run."""
    return json(
        await automation.dry_run(
            core,
            me,
            handle,
            rule_pid=None,
            rule_body=body.rule,
            text=body.text,
            conversation_pid=body.conversation_id,
            first_message=body.first_message,
        )
    )


@router.patch(B + "/rules/{rule_id}", response_model=s.RuleOut)
async def update_rule(
    handle: str, rule_id: str, body: s.RulePatch, core: CoreDep, me: RequesterDep
) -> Response:
    changes = body.model_dump(include=body.model_fields_set)
    return json(await automation.update_rule(core, me, handle, rule_id, changes))


@router.delete(B + "/rules/{rule_id}", status_code=204)
async def delete_rule(handle: str, rule_id: str, core: CoreDep, me: RequesterDep) -> Response:
    await automation.delete_rule(core, me, handle, rule_id)
    return no_content()


@router.post(B + "/rules/{rule_id}/dry-run", response_model=s.DryRunOut)
async def dry_run(
    handle: str, rule_id: str, body: s.DryRunIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Try a saved rule on a message; nothing is sent, changed or logged."""
    return json(
        await automation.dry_run(
            core,
            me,
            handle,
            rule_pid=rule_id,
            rule_body=None,
            text=body.text,
            conversation_pid=body.conversation_id,
            first_message=body.first_message,
        )
    )


@router.get(B + "/rules/{rule_id}/runs", response_model=s.RuleRunList)
async def rule_runs(
    handle: str,
    rule_id: str,
    core: CoreDep,
    me: RequesterDep,
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=100),
) -> Response:
    """When the rule ran, on which conversation, and what each action did; newest first."""
    return json(await automation.rule_runs(core, me, handle, rule_id, cursor=cursor, limit=limit))


@router.get(B + "/assignment", response_model=s.AssignmentOut)
async def get_assignment(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    """How conversations are assigned, and each teammate's availability and load."""
    return json(await assignment.get_assignment(core, me, handle))


@router.patch(B + "/assignment", response_model=s.AssignmentOut)
async def update_assignment(
    handle: str, body: s.AssignmentPatch, core: CoreDep, me: RequesterDep
) -> Response:
    changes = body.model_dump(include=body.model_fields_set)
    return json(await assignment.update_assignment(core, me, handle, changes))


@router.put(B + "/assignment/availability", response_model=s.AssignmentOut)
async def availability(
    handle: str, body: s.AvailabilityIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Say whether you take conversations from round-robin now (you start away)."""
    return json(await assignment.set_availability(core, me, handle, available=body.available))
