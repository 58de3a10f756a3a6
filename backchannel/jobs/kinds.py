"""Every kind of job and its handler: `async handler(core, job)`. A kind is API between
nodes of different versions during a rolling upgrade: keep a kind's payload readable."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from backchannel.jobs import Job
from backchannel.services import (
    automation,
    broadcasts,
    disappearing,
    erasure,
    exports,
    inbox_state,
    outbound,
    scheduled,
    search_index,
    webhooks,
)
from backchannel.services.core import Core

Handler = Callable[[Core, Job], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "messages.expire": disappearing.expire,
    "messages.scheduled_send": scheduled.send_due,
    "business.snooze_end": inbox_state.end_snooze,
    "webhook.deliver": webhooks.deliver,
    "business.rule_idle": automation.run_idle,
    "business.scheduled_send": outbound.send_scheduled,
    "business.broadcast_send": broadcasts.send_broadcast,
    "accounts.erase": erasure.erase,
    "messages.retention": erasure.retain,
    "exports.build": exports.build_job,
    "exports.expire": exports.expire_job,
    "search.compact": search_index.compact,
}
