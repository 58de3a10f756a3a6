"""The business inbox's report metrics, without I/O: durations (wall-clock or within business
hours), medians and 90th percentiles, rates, CSAT ratings and the summary of one group.

Percentiles interpolate linearly between the closest ranks (Hyndman & Fan's type 7, the
default of numpy, R and `statistics.quantiles(method="inclusive")`): for sorted values
x[0..n-1], the p-quantile sits at h = (n - 1) * p and is x[⌊h⌋] + (h - ⌊h⌋) * (x[⌊h⌋+1] - x[⌊h⌋]).
So the median of [60, 120, 300, 600] is 210 and its p90 is 510; one value is its own median
and p90; no values give None.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backchannel.domain import hours

RATINGS = (1, 2, 3, 4, 5)
SATISFIED = 4  # a rating of 4 or 5 is a satisfied customer


def quantile(values: Sequence[float], p: float) -> float | None:
    """The p-quantile (0 <= p <= 1) of `values`, type 7 (see the module's docstring)."""
    if not 0 <= p <= 1:
        raise ValueError(f"p is between 0 and 1, got {p}")
    if not values:
        return None
    ordered = sorted(values)
    h = (len(ordered) - 1) * p
    low = math.floor(h)
    if low + 1 >= len(ordered):
        return float(ordered[-1])
    return float(ordered[low] + (h - low) * (ordered[low + 1] - ordered[low]))


def distribution(values: Sequence[float]) -> dict[str, Any]:
    """`{count, median_s, p90_s, mean_s}` of durations in seconds (None when there are none)."""
    return {
        "count": len(values),
        "median_s": _round(quantile(values, 0.5)),
        "p90_s": _round(quantile(values, 0.9)),
        "mean_s": _round(statistics.fmean(values)) if values else None,
    }


def rate(part: int, whole: int) -> float | None:
    """part / whole, rounded to four places; None when there is no whole."""
    return None if whole == 0 else round(part / whole, 4)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


Duration = Callable[[int, int], float]  # (start ms, end ms) -> seconds


def wall_seconds(start_ms: int, end_ms: int) -> float:
    return max(0, end_ms - start_ms) / 1000


def open_seconds(schedule: hours.Schedule | None) -> Duration:
    """A duration that counts only the seconds within `schedule`'s hours (None: always open,
    the same as the wall clock)."""

    def duration(start_ms: int, end_ms: int) -> float:
        if end_ms <= start_ms:
            return 0.0
        return hours.open_seconds(schedule, _instant(start_ms), _instant(end_ms))

    return duration


def _instant(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


# --- CSAT ---------------------------------------------------------------------------------

_SCORE = re.compile(r"^([1-5])(?:\s*/\s*5)?[.!]?$")
_STARS = re.compile(r"^(?:[⭐★]\ufe0f?){1,5}$")


def parse_rating(text: str | None) -> int | None:
    """A CSAT answer's rating 1-5: "4", " 4 ", "4/5", "4.", or one to five stars ("⭐⭐⭐⭐",
    "★★★★"); None for anything else ("45", "hello", "0", "6")."""
    body = (text or "").strip()
    match = _SCORE.match(body)
    if match:
        return int(match.group(1))
    if _STARS.match(body):
        return len(body.replace("\ufe0f", ""))
    return None


def csat(scores: Sequence[int]) -> dict[str, Any]:
    """`{count, mean, distribution: {"1": n, …, "5": n}, satisfied_rate}` (4 and 5 satisfy)."""
    return {
        "count": len(scores),
        "mean": round(statistics.fmean(scores), 3) if scores else None,
        "distribution": {str(r): sum(1 for s in scores if s == r) for r in RATINGS},
        "satisfied_rate": rate(sum(1 for s in scores if s >= SATISFIED), len(scores)),
    }


# --- a group's summary --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cycle:
    """One open→resolved cycle of a conversation (ms timestamps; `resolved_at` None: open)."""

    opened_at: int
    resolved_at: int | None = None
    customer_messages: int = 0
    agent_messages: int = 0  # written by a person for the business
    bot_messages: int = 0  # written by the bot (automation `bot`)
    handoff: bool = False  # a person answered after the bot had

    @property
    def messages(self) -> int:
        return self.customer_messages + self.agent_messages + self.bot_messages

    @property
    def bot_involved(self) -> bool:
        return self.bot_messages > 0

    @property
    def bot_resolved(self) -> bool:
        """Resolved with the bot's answers alone: it replied, and no person did."""
        return self.resolved_at is not None and self.bot_messages > 0 and self.agent_messages == 0


@dataclass(slots=True)
class Facts:
    """What one group (an agent, a team, a label, a day…) did in a date range: the cycles
    opened in it, the cycles resolved in it, the waits answered in it (first responses and
    next responses, as (waited from, answered at) ms pairs) and the CSAT ratings given in it."""

    opened: list[Cycle] = field(default_factory=list)
    resolved: list[Cycle] = field(default_factory=list)
    first_responses: list[tuple[int, int]] = field(default_factory=list)
    next_responses: list[tuple[int, int]] = field(default_factory=list)
    ratings: list[int] = field(default_factory=list)


def summarize(facts: Facts, duration: Duration = wall_seconds) -> dict[str, Any]:
    """The metrics of one group, durations by `duration` (wall clock, or business hours):

    - `conversations`: cycles opened; `resolution_rate`: the share of those resolved (by now);
    - `resolved`: cycles resolved; `resolution`: their open→resolved durations;
      `messages_per_resolution`: their messages (customer, people and bot) per resolution;
    - `bot_conversations`: resolved cycles the bot answered in; `bot_resolution_rate`: the share
      of those resolved without a person's reply; `handoff_rate`: the share a person took over;
    - `first_response`, `next_response`: the waits answered (a cycle's first, and later ones);
    - `csat`: the ratings given.
    """
    opened_resolved = sum(1 for c in facts.opened if c.resolved_at is not None)
    resolved = facts.resolved
    bot = [c for c in resolved if c.bot_involved]
    return {
        "conversations": len(facts.opened),
        "resolved": len(resolved),
        "resolution_rate": rate(opened_resolved, len(facts.opened)),
        "first_response": distribution([duration(a, b) for a, b in facts.first_responses]),
        "next_response": distribution([duration(a, b) for a, b in facts.next_responses]),
        "resolution": distribution(
            [duration(c.opened_at, c.resolved_at) for c in resolved if c.resolved_at is not None]
        ),
        "messages_per_resolution": (
            round(sum(c.messages for c in resolved) / len(resolved), 3) if resolved else None
        ),
        "bot_conversations": len(bot),
        "bot_resolution_rate": rate(sum(1 for c in bot if c.bot_resolved), len(bot)),
        "handoff_rate": rate(sum(1 for c in bot if c.handoff), len(bot)),
        "csat": csat(facts.ratings),
    }
