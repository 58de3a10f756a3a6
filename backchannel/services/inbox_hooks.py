"""What happens in a business's inbox, told to the parts that act on it — reports (cycles,
response times, CSAT), webhooks, automation (rules, the bot, assignment) and outbound
(scheduled messages, broadcast opt-ins) — inside the transaction of what happened, so each
part's rows commit with it or not at all.

services/inbox_state.py calls these; nothing else does. Each call runs the parts in a fixed
order: automation first (it may change the state or answer, which comes back here as its
own call), then outbound, reports and webhooks, which only record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backchannel.services import automation, bot, outbound, reports, webhooks
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]


def conversation_created(t: WriteTxn, business_id: int, conversation_id: int) -> None:
    """A conversation entered the business's inbox (open, unassigned)."""
    automation.on_conversation_created(t, business_id, conversation_id)
    reports.on_conversation_created(t, business_id, conversation_id)
    webhooks.on_conversation_created(t, business_id, conversation_id)


def customer_answer(
    t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]
) -> bool:
    """The customer sent `message`: is it an answer to one of the business's automations —
    a CSAT rating, an opt-in or opt-out keyword, a bot's quick reply — taken by it? Asked
    before anything else: an answer taken does not reopen the conversation, does not start
    the customer's wait, gets no welcome or away message and goes to no other part
    (`customer_message` is not called for it)."""
    return (
        reports.take_answer(t, business_id, conversation, message)
        or outbound.take_answer(t, business_id, conversation, message)
        or bot.take_answer(t, business_id, conversation, message)
    )


def customer_message(
    t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]
) -> None:
    """The customer sent `message` (its view) in `conversation` (the conversation row);
    the working state is already updated (waiting, reopened)."""
    outbound.on_customer_message(t, business_id, conversation, message)
    reports.on_customer_message(t, business_id, conversation, message)
    webhooks.on_customer_message(t, business_id, conversation, message)
    bot.on_customer_message(t, business_id, conversation, message)
    automation.on_customer_message(t, business_id, conversation, message)


def business_message(
    t: WriteTxn,
    business_id: int,
    conversation: Row,
    message: dict[str, Any],
    *,
    agent_id: int | None,
    automation_kind: str | None,
) -> None:
    """The business sent `message`: written by the agent `agent_id` (None: by the account
    itself or by an automation), or by the automation `automation_kind` (`welcome`,
    `away`, `bot`, `rule`, `csat`, `scheduled`, `broadcast`…)."""
    reports.on_business_message(
        t, business_id, conversation, message, agent_id=agent_id, automation_kind=automation_kind
    )
    webhooks.on_business_message(
        t, business_id, conversation, message, agent_id=agent_id, automation_kind=automation_kind
    )
    bot.on_business_message(
        t, business_id, conversation, message, agent_id=agent_id, automation_kind=automation_kind
    )


def state_changed(
    t: WriteTxn,
    business_id: int,
    conversation_id: int,
    before: Row,
    after: Row,
    *,
    by: int | None,
    reason: str | None,
) -> None:
    """The working state changed from `before` to `after` (state rows): by the teammate
    `by`, or by itself (`by` None: `reason` says why — `customer_replied`, `snooze_ended`,
    `rule`, `bot`…)."""
    reports.on_state_changed(t, business_id, conversation_id, before, after, by=by)
    webhooks.on_state_changed(t, business_id, conversation_id, before, after, by=by)
    automation.on_state_changed(
        t, business_id, conversation_id, before, after, by=by, reason=reason
    )
    bot.on_state_changed(t, business_id, conversation_id, before, after, by=by, reason=reason)
