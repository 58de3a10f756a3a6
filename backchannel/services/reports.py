"""Reports: open→resolved cycles, response times, CSAT (filled in by issue 7's reports work)."""

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


def take_answer(t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]) -> bool:
    """Whether the customer's `message` answers this part (see inbox_hooks.customer_answer)."""
    return False
