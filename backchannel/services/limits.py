"""The per-sender limits, by trust tier (domain/limits.py), enforced before a use case
writes anything: over a limit is `429 rate_limited` with `Retry-After`, and nothing is
done. The counters live in the rate limiter (Redis when configured), so they hold
across nodes; they are keyed by account, so no client address can dodge them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backchannel.config import Settings
from backchannel.domain import limits as rules
from backchannel.errors import BackchannelError
from backchannel.ratelimit import enforce
from backchannel.services.core import Core, Requester

DAY = 86_400.0


def tier_of(settings: Settings, counters: Mapping[Any, Any], now_ms: int) -> rules.Tier:
    """The trust tier of an account from its counters (a row with `created_at`,
    `requests_sent`, `requests_declined`, `reports_received`, `warnings`)."""
    return rules.trust_tier(
        age_seconds=(now_ms - counters["created_at"]) / 1000,
        requests_sent=counters["requests_sent"],
        requests_declined=counters["requests_declined"],
        reports_received=counters["reports_received"],
        warnings=counters["warnings"],
        new_days=settings.trust_new_days,
        trusted_days=settings.trust_trusted_days,
    )


def tier_limits(core: Core, requester: Requester) -> rules.TierLimits:
    return rules.limits_for(requester.tier, core.settings)


async def sending(core: Core, requester: Requester, count: int = 1) -> None:
    """`count` messages (a forward to several conversations counts each) this minute."""
    if not core.settings.rate_limits:
        return
    await enforce(
        core.limiter,
        f"msg:{requester.user_id}",
        limit=tier_limits(core, requester).messages_per_minute,
        window_seconds=60.0,
        cost=count,
        what="messages a minute",
    )


async def starting_conversation(core: Core, requester: Requester) -> None:
    """One more new conversation or message request today."""
    if not core.settings.rate_limits:
        return
    await enforce(
        core.limiter,
        f"conv:{requester.user_id}",
        limit=tier_limits(core, requester).new_conversations_per_day,
        window_seconds=DAY,
        what="new conversations a day",
    )


async def creating_group(core: Core, requester: Requester) -> None:
    """One more group created today (also a new conversation)."""
    if not core.settings.rate_limits:
        return
    await enforce(
        core.limiter,
        f"group:{requester.user_id}",
        limit=tier_limits(core, requester).group_creations_per_day,
        window_seconds=DAY,
        what="groups created a day",
    )
    await starting_conversation(core, requester)


def check_group_size(core: Core, requester: Requester, total: int) -> None:
    """A group this sender creates or grows may have at most their tier's size."""
    maximum = core.settings.max_group_size
    if core.settings.rate_limits:
        maximum = tier_limits(core, requester).max_group_size
    if total > maximum:
        raise BackchannelError(
            "group_too_large", f"Groups may have at most {maximum} members; this makes {total}."
        )


def forward_targets(core: Core, requester: Requester) -> int:
    """How many conversations one forward may reach."""
    if not core.settings.rate_limits:
        return core.settings.max_forward_targets
    return tier_limits(core, requester).forwards_per_action


async def uploading(core: Core, requester: Requester) -> None:
    """One more upload this hour."""
    if not core.settings.rate_limits:
        return
    await enforce(
        core.limiter,
        f"upload:{requester.user_id}",
        limit=core.settings.limit_uploads_per_hour,
        window_seconds=3600.0,
        what="uploads an hour",
    )
