"""Business hours (domain/hours.py): open or not, when next, and open seconds between two
instants — across time zones, DST changes, overnight shifts and holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backchannel.domain import hours
from backchannel.errors import BackchannelError

WEEKDAYS = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


def schedule(**extra: object) -> hours.Schedule:
    return hours.parse({"timezone": "Europe/Paris", "week": WEEKDAYS, **extra})


def test_open_in_its_own_time_zone() -> None:
    paris = schedule()
    # Wednesday 2026-12-02: 08:59 closed, 09:00 open, 16:59 open, 17:00 closed (Paris time)
    assert not hours.is_open(paris, local(PARIS, 2026, 12, 2, 8, 59))
    assert hours.is_open(paris, local(PARIS, 2026, 12, 2, 9, 0))
    assert hours.is_open(paris, local(PARIS, 2026, 12, 2, 16, 59))
    assert not hours.is_open(paris, local(PARIS, 2026, 12, 2, 17, 0))
    # 10:00 in New York is 16:00 in Paris: open; 11:30 there is 17:30 here: closed
    assert hours.is_open(paris, local(NEW_YORK, 2026, 12, 2, 10, 0))
    assert not hours.is_open(paris, local(NEW_YORK, 2026, 12, 2, 11, 30))
    assert hours.is_open(None, local(PARIS, 2026, 12, 6, 3, 0))  # no schedule: always open


def test_next_opening_skips_weekends_and_holidays() -> None:
    paris = schedule(holidays=["2026-12-25"])
    friday_evening = local(PARIS, 2026, 12, 4, 18, 0)
    assert hours.next_open(paris, friday_evening) == local(PARIS, 2026, 12, 7, 9, 0)
    christmas_eve = local(PARIS, 2026, 12, 24, 17, 30)
    assert hours.next_open(paris, christmas_eve) == local(PARIS, 2026, 12, 28, 9, 0)
    inside = local(PARIS, 2026, 12, 2, 10, 0)
    assert hours.next_open(paris, inside) == inside
    never = hours.parse({"timezone": "UTC", "week": {}})
    assert hours.next_open(never, inside) is None


def test_a_day_keeps_its_wall_clock_hours_across_dst() -> None:
    paris = schedule()
    # Sunday 2027-03-28 the clocks go forward; Monday 09:00-17:00 is still 8 hours
    monday = local(PARIS, 2027, 3, 29, 0, 0)
    assert hours.open_seconds(paris, monday, monday + timedelta(days=1)) == 8 * 3600
    assert hours.is_open(paris, datetime(2027, 3, 29, 7, 0, tzinfo=UTC))  # 09:00 CEST
    assert not hours.is_open(paris, datetime(2027, 3, 29, 15, 0, tzinfo=UTC))  # 17:00 CEST
    # a week of business hours spanning the autumn change is still 40 hours
    start = local(PARIS, 2026, 10, 19, 0, 0)
    assert hours.open_seconds(paris, start, start + timedelta(days=14)) == 80 * 3600


def test_hours_inside_the_clock_change() -> None:
    night = hours.parse({"timezone": "Europe/Paris", "week": {"sun": [["01:00", "04:00"]]}})
    # spring forward (2027-03-28 02:00 → 03:00): 01:00-04:00 on the wall is 2 real hours
    day = local(PARIS, 2027, 3, 28, 0, 0)
    assert hours.open_seconds(night, day, day + timedelta(days=1)) == 2 * 3600
    # fall back (2026-10-25 03:00 → 02:00): the same wall hours last 4 real hours
    day = local(PARIS, 2026, 10, 25, 0, 0)
    assert hours.open_seconds(night, day, day + timedelta(days=1)) == 4 * 3600


def test_overnight_and_split_shifts() -> None:
    late = hours.parse(
        {
            "timezone": "America/New_York",
            "week": {"fri": [["09:00", "12:00"], ["13:00", "24:00"]], "sat": [["00:00", "02:00"]]},
        }
    )
    assert hours.is_open(late, local(NEW_YORK, 2026, 12, 4, 23, 30))
    assert hours.is_open(late, local(NEW_YORK, 2026, 12, 5, 1, 30))
    assert not hours.is_open(late, local(NEW_YORK, 2026, 12, 4, 12, 30))  # lunch
    assert not hours.is_open(late, local(NEW_YORK, 2026, 12, 5, 2, 0))
    friday = local(NEW_YORK, 2026, 12, 4, 0, 0)
    assert hours.open_seconds(late, friday, friday + timedelta(days=2)) == (3 + 11 + 2) * 3600
    # a wait from Friday 11:00 to Saturday 01:00 counts only the open part: 1 + 11 + 1 hours
    wait = hours.open_seconds(
        late, local(NEW_YORK, 2026, 12, 4, 11, 0), local(NEW_YORK, 2026, 12, 5, 1, 0)
    )
    assert wait == 13 * 3600


def test_a_schedule_round_trips() -> None:
    paris = schedule(holidays=["2026-12-25", "2026-01-01"])
    again = hours.parse(paris.view())
    assert again == paris
    assert paris.view()["holidays"] == ["2026-01-01", "2026-12-25"]


@pytest.mark.parametrize(
    "bad",
    [
        {"timezone": "Mars/Olympus"},
        {"week": {"moon": []}},
        {"week": {"mon": [["17:00", "09:00"]]}},
        {"week": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}},
        {"week": {"mon": [["9:00", "12:00"]]}},
        {"week": {"mon": [["09:00", "24:30"]]}},
        {"week": {"mon": ["09:00"]}},
        {"holidays": ["25/12/2026"]},
    ],
)
def test_bad_schedules_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(BackchannelError) as caught:
        hours.parse({"timezone": "UTC", **bad})
    assert caught.value.code == "invalid_request"
