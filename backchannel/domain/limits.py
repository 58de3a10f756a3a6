"""Trust tiers and the per-sender limits that come with them. Pure functions, no I/O.

An account's tier is a function of its age and its record (requests declined, reports
received, moderator warnings); the tier selects the limits in `TierLimits`, whose values
are settings (`limit_*` in backchannel/config.py). Counting is not done here: services
pass the limits to a `backchannel.ratelimit.RateLimiter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from backchannel.config import Settings

Tier = Literal["new", "regular", "trusted"]
TIERS: tuple[Tier, Tier, Tier] = ("new", "regular", "trusted")

DAY_SECONDS = 86_400.0
# What counts as a poor record (see `trust_tier`).
DECLINED_MIN_SENT = 5  # requests sent before the declined ratio means anything
DECLINED_RATIO = 0.5
REPORTS_ABSOLUTE = 3
REPORTS_RATIO_MIN = 2  # reports needed before the ratio rule applies
REPORTS_RATIO = 0.1  # reports received per request sent


def trust_tier(
    *,
    age_seconds: float,
    requests_sent: int,
    requests_declined: int,
    reports_received: int,
    warnings: int,
    new_days: float = 7,
    trusted_days: float = 90,
) -> Tier:
    """The account's trust tier: one of `TIERS`.

    By age first: `new` while `age_seconds < new_days` days, `trusted` once
    `age_seconds >= trusted_days` days, `regular` in between (both bounds in days of
    86 400 s; `new_days <= trusted_days`).

    Then a poor record drops the account one tier (trusted → regular, regular → new;
    new stays new). The record is poor when any of these holds:

    - declined: `requests_sent >= 5` and `requests_declined >= 50 %` of them;
    - reported: `reports_received >= 3`, or `reports_received >= 2` and at least one
      report per 10 requests sent (`reports_received >= 0.1 * requests_sent`);
    - warned: `warnings >= 1` (any moderator warning on record).

    So `trusted` means old enough *and* a clean record. Counts are over the account's
    lifetime and must be non-negative (ValueError otherwise).
    """
    if min(requests_sent, requests_declined, reports_received, warnings) < 0:
        raise ValueError("trust_tier: counts must be non-negative")
    if age_seconds < new_days * DAY_SECONDS:
        tier = 0
    elif age_seconds >= trusted_days * DAY_SECONDS:
        tier = 2
    else:
        tier = 1
    if _poor_record(requests_sent, requests_declined, reports_received, warnings):
        tier = max(0, tier - 1)
    return TIERS[tier]


def _poor_record(sent: int, declined: int, reports: int, warnings: int) -> bool:
    if sent >= DECLINED_MIN_SENT and declined >= DECLINED_RATIO * sent:
        return True
    if reports >= REPORTS_ABSOLUTE:
        return True
    if reports >= REPORTS_RATIO_MIN and reports >= REPORTS_RATIO * sent:
        return True
    return warnings >= 1


@dataclass(frozen=True, slots=True)
class TierLimits:
    """What one sender of a tier may do. Counts are per rolling day or minute, as named."""

    new_conversations_per_day: int  # new conversations and message requests started
    messages_per_minute: int
    forwards_per_action: int  # conversations one forward may send to
    max_group_size: int  # members of a group this sender creates or grows, creator included
    group_creations_per_day: int


def limits_for(tier: str, settings: Settings) -> TierLimits:
    """The limits of `tier` (one of `TIERS`, else ValueError) under `settings`.

    The group size never exceeds `settings.max_group_size`, nor the forward fan-out
    `settings.max_forward_targets`: the tiers only ever tighten the global bounds.
    """
    if tier not in TIERS:
        raise ValueError(f"unknown trust tier {tier!r}; expected one of {', '.join(TIERS)}")
    return TierLimits(
        new_conversations_per_day=settings.limit_new_conversations_per_day[tier],
        messages_per_minute=settings.limit_messages_per_minute[tier],
        forwards_per_action=min(
            settings.limit_forwards_per_action[tier], settings.max_forward_targets
        ),
        max_group_size=min(settings.limit_group_size[tier], settings.max_group_size),
        group_creations_per_day=settings.limit_group_creations_per_day[tier],
    )
