"""Webhooks per business and business API tokens (filled in by issue 7's webhooks work)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]


def on_conversation_created(t: WriteTxn, business_id: int, conversation_id: int) -> None:
    pass


def on_customer_message(
    t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]
) -> None:
    pass


def on_business_message(
    t: WriteTxn,
    business_id: int,
    conversation: Row,
    message: dict[str, Any],
    *,
    agent_id: int | None,
    automation_kind: str | None,
) -> None:
    pass


def on_state_changed(
    t: WriteTxn, business_id: int, conversation_id: int, before: Row, after: Row, *, by: int | None
) -> None:
    pass


def queue(t: WriteTxn, business_id: int, event: str, data: dict[str, Any]) -> None:
    """Deliver `event` with `data` to the business's webhooks subscribed to it, from the
    job queue, once `t` commits (other parts call this: `csat.received`, `rule.webhook`)."""
