"""The FAQ bot (quick replies, hand-off) and approvals (filled in by issue 7's bot work)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]


def take_answer(t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]) -> bool:
    """Whether the customer's `message` answers this part (see inbox_hooks.customer_answer)."""
    return False


def on_customer_message(
    t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]
) -> None:
    pass
