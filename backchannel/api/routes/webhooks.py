"""A business's integrations: webhooks (endpoints, their delivery log) and API tokens.
Owners and admins only; an API token manages neither."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import json, no_content
from backchannel.services import business_tokens, webhooks

router = APIRouter(prefix="/api/v1", tags=["business"])
W = "/businesses/{handle}/webhooks"
T = "/businesses/{handle}/tokens"


@router.post(W, status_code=201, response_model=s.WebhookSecretOut)
async def create(handle: str, body: s.WebhookIn, core: CoreDep, me: RequesterDep) -> Response:
    """A webhook endpoint; its signing secret is in this answer only."""
    view = await webhooks.create_webhook(
        core,
        me,
        handle,
        url=body.url,
        events=body.events,
        description=body.description,
        enabled=body.enabled,
    )
    return json(view, 201)


@router.get(W, response_model=s.WebhookList)
async def listing(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await webhooks.list_webhooks(core, me, handle))


@router.patch(W + "/{webhook_id}", response_model=s.WebhookOut)
async def update(
    handle: str, webhook_id: str, body: s.WebhookPatch, core: CoreDep, me: RequesterDep
) -> Response:
    changes = body.model_dump(include=body.model_fields_set)
    return json(await webhooks.update_webhook(core, me, handle, webhook_id, changes))


@router.delete(W + "/{webhook_id}", status_code=204)
async def delete(handle: str, webhook_id: str, core: CoreDep, me: RequesterDep) -> Response:
    await webhooks.delete_webhook(core, me, handle, webhook_id)
    return no_content()


@router.post(W + "/{webhook_id}/rotate-secret", response_model=s.WebhookSecretOut)
async def rotate(handle: str, webhook_id: str, core: CoreDep, me: RequesterDep) -> Response:
    """A new signing secret, in this answer only; the old one signs nothing more."""
    return json(await webhooks.rotate_secret(core, me, handle, webhook_id))


@router.post(W + "/{webhook_id}/test", status_code=202, response_model=s.WebhookDeliveryOut)
async def test(handle: str, webhook_id: str, core: CoreDep, me: RequesterDep) -> Response:
    """Queue a `webhook.ping` to the endpoint; its outcome shows in the delivery log."""
    return json(await webhooks.ping(core, me, handle, webhook_id), 202)


@router.get(W + "/{webhook_id}/deliveries", response_model=s.WebhookDeliveryList)
async def deliveries(
    handle: str,
    webhook_id: str,
    core: CoreDep,
    me: RequesterDep,
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=100),
) -> Response:
    """The delivery log, newest first, each delivery with its attempts."""
    page = await webhooks.deliveries(core, me, handle, webhook_id, cursor=cursor, limit=limit)
    return json(page)


@router.post(
    W + "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=s.WebhookDeliveryOut,
)
async def redeliver(
    handle: str, webhook_id: str, delivery_id: str, core: CoreDep, me: RequesterDep
) -> Response:
    """Send a delivery again: the same id and body, signed anew."""
    return json(await webhooks.redeliver(core, me, handle, webhook_id, delivery_id), 202)


@router.post(T, status_code=201, response_model=s.ApiTokenCreatedOut)
async def create_token(
    handle: str, body: s.ApiTokenIn, core: CoreDep, me: RequesterDep
) -> Response:
    """An API token acting for the business with `role`; the token is in this answer only."""
    view = await business_tokens.create_token(core, me, handle, name=body.name, role=body.role)
    return json(view, 201)


@router.get(T, response_model=s.ApiTokenList)
async def tokens(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await business_tokens.list_tokens(core, me, handle))


@router.delete(T + "/{token_id}", status_code=204)
async def revoke_token(handle: str, token_id: str, core: CoreDep, me: RequesterDep) -> Response:
    """The token stops working at once."""
    await business_tokens.revoke_token(core, me, handle, token_id)
    return no_content()
