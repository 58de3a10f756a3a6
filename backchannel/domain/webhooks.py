"""A business's webhooks and API tokens, without I/O: the event types a webhook may
subscribe to, the payload's shape, the signature, and what a token may be.

The signature (documented in docs/api.md, "Webhooks and API tokens"): for a delivery
with id `I` (the `Webhook-Id` header), Unix time in seconds `T` (`Webhook-Timestamp`)
and the exact body bytes `B`,

    Webhook-Signature: v1=<hex HMAC-SHA256(key=secret as UTF-8, msg=f"{I}.{T}.".encode() + B)>

The id and timestamp are signed with the body so that a captured request cannot be
replayed later (receivers refuse old timestamps) or under another id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import orjson

from backchannel.errors import BackchannelError

# Event type -> when it is sent. `csat.received` comes from the reports, `rule.webhook`
# from an automation rule's "call the webhook" action.
EVENTS: dict[str, str] = {
    "conversation.created": "A conversation entered the business's inbox.",
    "message.received": "The customer sent a message.",
    "message.sent": "The business sent a message: a teammate, an API token or an automation.",
    "conversation.status_changed": "A conversation's status changed (open, pending, …).",
    "conversation.assigned": "A conversation's assignee changed (or it was unassigned).",
    "csat.received": "A customer rated the conversation (customer satisfaction).",
    "rule.webhook": "An automation rule called the webhooks.",
}
# Sent only by `POST …/webhooks/{id}/test`, to that endpoint, whatever it subscribes to.
PING = "webhook.ping"

SECRET_PREFIX = "whsec_"
TOKEN_PREFIX = "bcb_"  # business API tokens; session tokens start with "bc_"
TOKEN_ROLES = ("admin", "agent", "viewer")  # never owner
# What a token may never do, whatever its role: change the team, or make more tokens
# and webhooks (a leaked token must not be able to entrench itself).
TOKEN_DENIED_ACTIONS = frozenset({"manage_team", "manage_integrations"})
TOKEN_NAME_MAX = 64
DESCRIPTION_MAX = 200
MAX_WEBHOOKS = 20  # per business
RESPONSE_ERROR_MAX = 300  # characters of an error kept in the delivery log


BUSINESS_ROUTES = "/api/v1/businesses/{handle}"


def token_may_use(route: str | None, handle: str | None, business_handle: str) -> bool:
    """Whether an API token of the business `business_handle` may call the route whose
    path template is `route` with the path's `handle`: only the business's own routes,
    `/api/v1/businesses/{handle}` and below."""
    if route is None or handle is None:
        return False
    if route != BUSINESS_ROUTES and not route.startswith(BUSINESS_ROUTES + "/"):
        return False
    return handle.strip().lower() == business_handle


def check_events(raw: list[str]) -> list[str]:
    """A webhook's subscriptions: known event types, at least one, each once (in the
    order of EVENTS)."""
    unknown = sorted(set(raw) - EVENTS.keys())
    if unknown:
        raise BackchannelError(
            "invalid_request",
            f"Unknown webhook event types {unknown}; expected some of {', '.join(EVENTS)}.",
        )
    if not raw:
        raise BackchannelError("invalid_request", "A webhook subscribes to at least one event.")
    return [event for event in EVENTS if event in raw]


def check_token_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > TOKEN_NAME_MAX:
        raise BackchannelError(
            "invalid_request", f"A token's name has 1 to {TOKEN_NAME_MAX} characters."
        )
    return name


def check_token_role(raw: str) -> str:
    if raw not in TOKEN_ROLES:
        raise BackchannelError(
            "invalid_request", f"A token's role is one of {', '.join(TOKEN_ROLES)} (never owner)."
        )
    return raw


def new_secret() -> str:
    """A webhook's signing secret: 256 random bits."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def new_token() -> str:
    """A business API token (256 random bits). Only its hash is stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def body(
    delivery_id: str, event: str, created_at: str, business: dict[str, Any], data: dict[str, Any]
) -> bytes:
    """The JSON body of a delivery: `{id, type, created_at, business, data}`."""
    return orjson.dumps(
        {
            "id": delivery_id,
            "type": event,
            "created_at": created_at,
            "business": business,
            "data": data,
        }
    )


def signature(secret: str, delivery_id: str, timestamp: int, payload: bytes) -> str:
    """The `Webhook-Signature` header's value (see the module docstring)."""
    signed = f"{delivery_id}.{timestamp}.".encode() + payload
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def headers(secret: str, delivery_id: str, timestamp: int, payload: bytes) -> dict[str, str]:
    """The headers of one attempt of a delivery."""
    return {
        "Content-Type": "application/json",
        "Webhook-Id": delivery_id,
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": signature(secret, delivery_id, timestamp, payload),
    }


def retry_after_seconds(raw: str | None, *, cap: float) -> float | None:
    """A `Retry-After` header given in seconds, bounded to [1, cap]; None when absent or
    not a number of seconds (an HTTP date is ignored: the backoff applies)."""
    if raw is None or not raw.strip().isdigit():
        return None
    return min(cap, max(1.0, float(raw.strip())))
