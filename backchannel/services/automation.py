"""Automation: rules, the FAQ bot, approvals, round-robin assignment (filled in by issue 7's
automation work)."""

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


def on_state_changed(
    t: WriteTxn,
    business_id: int,
    conversation_id: int,
    before: Row,
    after: Row,
    *,
    by: int | None,
    reason: str | None,
) -> None:
    pass
