"""Report metrics without a database (domain/metrics.py), against hand-computed values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backchannel.domain import hours, metrics
from backchannel.domain.metrics import Cycle, Facts

MIN = 60_000  # ms


def test_quantiles_interpolate_between_the_closest_ranks() -> None:
    values = [600, 60, 300, 120]  # sorted: 60 120 300 600
    assert metrics.quantile(values, 0.5) == 210  # h = 1.5: 120 + 0.5 * 180
    assert metrics.quantile(values, 0.9) == pytest.approx(510)  # h = 2.7: 300 + 0.7 * 300
    assert metrics.quantile(values, 0) == 60 and metrics.quantile(values, 1) == 600
    assert metrics.quantile([42], 0.9) == 42
    assert metrics.quantile([], 0.5) is None
    # the same method as the standard library's inclusive quantiles
    import statistics

    assert statistics.quantiles(values, n=10, method="inclusive")[8] == pytest.approx(510)
    with pytest.raises(ValueError):
        metrics.quantile(values, 1.5)


def test_distribution_and_rates() -> None:
    assert metrics.distribution([60, 120, 600]) == {
        "count": 3,
        "median_s": 120,
        "p90_s": 504,  # h = 1.8: 120 + 0.8 * 480
        "mean_s": 260,
    }
    assert metrics.distribution([]) == {"count": 0, "median_s": None, "p90_s": None, "mean_s": None}
    assert metrics.rate(2, 3) == 0.6667
    assert metrics.rate(0, 0) is None


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("5", 5),
        (" 1 ", 1),
        ("4/5", 4),
        ("3 / 5", 3),
        ("2.", 2),
        ("⭐⭐⭐⭐", 4),
        ("★★", 2),
        ("⭐️⭐️⭐️", 3),  # with variation selectors
        ("0", None),
        ("6", None),
        ("45", None),
        ("5 stars, great", None),
        ("hello", None),
        ("", None),
        (None, None),
        ("⭐⭐⭐⭐⭐⭐", None),
    ],
)
def test_parse_rating(text: str | None, rating: int | None) -> None:
    assert metrics.parse_rating(text) == rating


def test_csat_summary() -> None:
    assert metrics.csat([5, 4, 2, 5]) == {
        "count": 4,
        "mean": 4.0,
        "distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 2},
        "satisfied_rate": 0.75,
    }
    assert metrics.csat([])["mean"] is None and metrics.csat([])["satisfied_rate"] is None


def test_business_hours_durations() -> None:
    schedule = hours.parse(
        {
            "timezone": "Europe/Paris",
            "week": {"mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]]},
        }
    )
    duration = metrics.open_seconds(schedule)

    def ms(text: str) -> int:
        return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)

    # Monday 16:30 Paris → Tuesday 09:30 Paris: half an hour each side of the night
    assert duration(ms("2027-01-04T16:30+01:00"), ms("2027-01-05T09:30+01:00")) == 3600
    assert metrics.wall_seconds(ms("2027-01-04T16:30+01:00"), ms("2027-01-05T09:30+01:00")) == (
        17 * 3600
    )
    # all of it outside hours: nothing
    assert duration(ms("2027-01-04T18:00+01:00"), ms("2027-01-04T20:00+01:00")) == 0
    assert duration(ms("2027-01-04T20:00+01:00"), ms("2027-01-04T18:00+01:00")) == 0
    # no schedule: always open, the wall clock
    assert metrics.open_seconds(None)(0, 90_000) == 90


def test_summary_of_a_group() -> None:
    opened_at = 0
    facts = Facts(
        opened=[
            Cycle(opened_at, 20 * MIN, customer_messages=2, agent_messages=2),
            Cycle(opened_at, None, customer_messages=1),
            Cycle(opened_at, 30 * MIN, customer_messages=1, bot_messages=1),
        ],
        first_responses=[(0, MIN), (0, 10 * MIN)],
        next_responses=[(0, 5 * MIN)],
        ratings=[5, 3],
    )
    facts.resolved = [
        facts.opened[0],
        facts.opened[2],  # the bot's alone
        Cycle(
            opened_at, 40 * MIN, customer_messages=1, agent_messages=1, bot_messages=2, handoff=True
        ),
    ]
    got = metrics.summarize(facts)
    assert got["conversations"] == 3 and got["resolved"] == 3
    assert got["resolution_rate"] == 0.6667  # 2 of the 3 opened are resolved
    assert got["resolution"] == {"count": 3, "median_s": 1800, "p90_s": 2280, "mean_s": 1800}
    assert got["first_response"]["median_s"] == 330 and got["first_response"]["count"] == 2
    assert got["next_response"]["median_s"] == 300
    assert got["messages_per_resolution"] == pytest.approx((4 + 2 + 4) / 3, abs=0.001)
    assert got["bot_conversations"] == 2
    assert got["bot_resolution_rate"] == 0.5 and got["handoff_rate"] == 0.5
    assert got["csat"]["mean"] == 4.0 and got["csat"]["satisfied_rate"] == 0.5
    empty = metrics.summarize(Facts())
    assert empty["conversations"] == 0 and empty["resolution_rate"] is None
    assert empty["messages_per_resolution"] is None and empty["bot_resolution_rate"] is None


def test_a_cycle_is_the_bots_only_if_the_bot_answered_and_no_person_did() -> None:
    assert Cycle(0, 1, bot_messages=1).bot_resolved
    assert not Cycle(0, 1, bot_messages=1, agent_messages=1).bot_resolved
    assert not Cycle(0, 1).bot_resolved  # nobody answered: not the bot's doing
    assert not Cycle(0, None, bot_messages=1).bot_resolved  # not resolved
