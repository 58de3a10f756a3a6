"""Business hours: a weekly schedule in a time zone, with holidays. Pure: times in, answers
out, DST handled by `zoneinfo` (a day's opening hours are wall-clock times, so a 09:00-17:00
day is 8 hours on either side of a clock change, and a missing or doubled hour is what the
clock on the wall says).

A schedule is `{"timezone": "Europe/Paris", "week": {"mon": [["09:00", "17:00"]], ...},
"holidays": ["2026-12-25"]}`: each day's intervals in order and apart; "24:00" ends a day.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backchannel.errors import BackchannelError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
MAX_INTERVALS = 6
MAX_HOLIDAYS = 366


@dataclass(frozen=True, slots=True)
class Schedule:
    zone: ZoneInfo
    week: tuple[
        tuple[tuple[int, int], ...], ...
    ]  # per weekday (Monday first): (start, end) minutes
    holidays: frozenset[date]

    def view(self) -> dict[str, Any]:
        return {
            "timezone": self.zone.key,
            "week": {DAYS[d]: [[_clock(a), _clock(b)] for a, b in self.week[d]] for d in range(7)},
            "holidays": sorted(h.isoformat() for h in self.holidays),
        }


ALWAYS_OPEN = None  # no schedule: the business is always open


def _minutes(raw: str) -> int:
    if not isinstance(raw, str) or not CLOCK.match(raw):
        raise BackchannelError("invalid_request", f"Times are HH:MM (00:00 to 24:00); got {raw!r}.")
    hours, minutes = raw.split(":")
    return int(hours) * 60 + int(minutes)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse(raw: dict[str, Any]) -> Schedule:
    """A schedule from its JSON, checked: a known time zone, days by name, intervals that
    are non-empty, in order and apart, ISO dates for holidays."""
    try:
        zone = ZoneInfo(str(raw.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise BackchannelError("invalid_request", "Unknown time zone.") from None
    week_raw = raw.get("week") or {}
    if not isinstance(week_raw, dict) or set(week_raw) - set(DAYS):
        raise BackchannelError("invalid_request", f"week has the days {', '.join(DAYS)}.")
    week: list[tuple[tuple[int, int], ...]] = []
    for day in DAYS:
        intervals = week_raw.get(day) or []
        if not isinstance(intervals, list) or len(intervals) > MAX_INTERVALS:
            raise BackchannelError("invalid_request", f"{day}: at most {MAX_INTERVALS} intervals.")
        spans: list[tuple[int, int]] = []
        for interval in intervals:
            if not isinstance(interval, list | tuple) or len(interval) != 2:
                raise BackchannelError("invalid_request", f"{day}: an interval is [start, end].")
            start, end = _minutes(interval[0]), _minutes(interval[1])
            if start >= end or (spans and start <= spans[-1][1]):
                raise BackchannelError(
                    "invalid_request", f"{day}: intervals are non-empty, in order and apart."
                )
            spans.append((start, end))
        week.append(tuple(spans))
    holidays_raw = raw.get("holidays") or []
    if not isinstance(holidays_raw, list) or len(holidays_raw) > MAX_HOLIDAYS:
        raise BackchannelError("invalid_request", f"At most {MAX_HOLIDAYS} holidays.")
    try:
        holidays = frozenset(date.fromisoformat(str(h)) for h in holidays_raw)
    except ValueError:
        raise BackchannelError("invalid_request", "Holidays are dates, YYYY-MM-DD.") from None
    return Schedule(zone, tuple(week), holidays)


def _intervals_on(schedule: Schedule, day: date) -> Iterator[tuple[datetime, datetime]]:
    """The open intervals of one local day, as aware UTC datetimes."""
    if day in schedule.holidays:
        return
    for start, end in schedule.week[day.weekday()]:
        yield _at(schedule, day, start), _at(schedule, day, end)


def _at(schedule: Schedule, day: date, minutes: int) -> datetime:
    """Wall-clock `minutes` after local midnight of `day`, in UTC (PEP 495: a time the
    clock skips in spring is read with the offset before the change, so 02:30 is 03:30
    summer time; a time it repeats in autumn is its first occurrence)."""
    if minutes == 24 * 60:
        day, minutes = day + timedelta(days=1), 0
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=schedule.zone)
    return local.astimezone(UTC)


def is_open(schedule: Schedule | None, at: datetime) -> bool:
    """Whether the business is open at the aware instant `at`."""
    if schedule is None:
        return True
    local_day = at.astimezone(schedule.zone).date()
    for day in (local_day - timedelta(days=1), local_day):
        for start, end in _intervals_on(schedule, day):
            if start <= at < end:
                return True
    return False


def next_open(
    schedule: Schedule | None, at: datetime, *, horizon_days: int = 400
) -> datetime | None:
    """The first instant at or after `at` when the business is open (None: never, within
    the horizon — every day a holiday or closed)."""
    if schedule is None or is_open(schedule, at):
        return at
    local_day = at.astimezone(schedule.zone).date()
    for offset in range(horizon_days):
        for start, _end in _intervals_on(schedule, local_day + timedelta(days=offset)):
            if start >= at:
                return start
    return None


def open_seconds(schedule: Schedule | None, start: datetime, end: datetime) -> float:
    """How many seconds of [start, end) fall within business hours (the business-hours
    aware duration of a wait, say)."""
    if end <= start:
        return 0.0
    if schedule is None:
        return (end - start).total_seconds()
    total = 0.0
    day = start.astimezone(schedule.zone).date() - timedelta(days=1)
    last = end.astimezone(schedule.zone).date()
    while day <= last:
        for a, b in _intervals_on(schedule, day):
            overlap = (min(b, end) - max(a, start)).total_seconds()
            if overlap > 0:
                total += overlap
        day += timedelta(days=1)
    return total
