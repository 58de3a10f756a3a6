"""Outbound rules without I/O (domain/broadcasts.py): opt-in and opt-out keywords, what a
scheduled message or a broadcast may say and when, the audience, the pace."""

from __future__ import annotations

import pytest

from backchannel.domain import broadcasts as rules
from backchannel.errors import BackchannelError

IN, OUT = rules.DEFAULT_OPT_IN, rules.DEFAULT_OPT_OUT


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("START", "in"),
        ("start", "in"),
        ("  Subscribe! ", "in"),
        ("STOP", "out"),
        ("stop.", "out"),
        ("UnSubscribe", "out"),
        ("please stop", None),
        ("stop it", None),
        ("STOP STOP", None),
        ("starting", None),
        ("", None),
        (None, None),
        ("stop" + " " * 100, "out"),  # spaces only: still the whole message
    ],
)
def test_a_keyword_is_the_whole_message_in_any_case(text: str | None, answer: str | None) -> None:
    assert rules.keyword_answer(text, opt_in=IN, opt_out=OUT) == answer


def test_a_very_long_message_is_no_keyword() -> None:
    assert rules.keyword_answer("stop" + "!" * 70, opt_in=IN, opt_out=OUT) is None


def test_opting_out_wins_when_a_word_is_both() -> None:
    assert rules.keyword_answer("halt", opt_in=("HALT",), opt_out=("halt",)) == "out"


def test_configured_keywords_are_checked_and_kept_as_given() -> None:
    assert rules.check_keywords(["Yes please", "JOIN", "join"], field="opt_in") == (
        "Yes please",
        "JOIN",
    )
    for bad in (["no way!"], [""], ["a" * 33], ["_x"]):
        with pytest.raises(ValueError, match="opt_in"):
            rules.check_keywords(bad, field="opt_in")
    with pytest.raises(ValueError, match="at least one"):
        rules.check_keywords([], field="opt_out")


def test_confirmations_name_the_way_back() -> None:
    assert "Reply STOP" in rules.opted_in_text("Shop", OUT)
    assert "Reply START" in rules.opted_out_text("Shop", IN)


def test_the_text_may_use_the_saved_replies_variables_only() -> None:
    text = "Hi {{customer.first_name|there}}, sale today!"
    assert rules.check_text(text, max_length=1000) == text
    with pytest.raises(BackchannelError) as error:
        rules.check_text("Hi {{customer.frist_name}}", max_length=1000)
    assert error.value.code == "invalid_template"
    with pytest.raises(BackchannelError) as error:
        rules.check_text("   ", max_length=1000)
    assert error.value.code == "invalid_request"
    with pytest.raises(BackchannelError) as error:
        rules.check_text("x" * 11, max_length=10)
    assert error.value.code == "invalid_text"


def test_send_at_is_in_the_future_and_within_a_year() -> None:
    now = 1_800_000_000_000
    assert rules.check_send_at(now + 1, now, required=True) == now + 1
    assert rules.check_send_at(None, now, required=False) is None
    late = now + rules.SCHEDULE_MAX_DAYS * rules.DAY_MS
    assert rules.check_send_at(late, now, required=True) == late
    for bad in (now, now - 1, late + 1, None):
        with pytest.raises(BackchannelError) as error:
            rules.check_send_at(bad, now, required=True)
        assert error.value.code == "invalid_request"


def test_the_audience_is_everyone_or_a_label() -> None:
    assert rules.Audience().admits([])
    assert rules.Audience(7).admits([3, 7])
    assert not rules.Audience(7).admits([3])


@pytest.mark.parametrize(
    ("per_minute", "share", "batch_max", "batch", "interval"),
    [
        (120, 0.5, 50, 50, 50.0),  # 60 a minute: 50, then 50 s
        (60, 0.5, 50, 30, 60.0),  # 30 a minute: all at once, then a minute
        (30, 0.5, 5, 5, 20.0),  # 15 a minute in fives: every 20 s
        (1, 0.5, 50, 1, 60.0),  # never below one a minute
        (100, 1.0, 10, 10, 6.0),
    ],
)
def test_the_pace_keeps_within_the_share_of_the_limit(
    per_minute: int, share: float, batch_max: int, batch: int, interval: float
) -> None:
    pace = rules.pace(per_minute, share=share, batch_max=batch_max)
    assert (pace.batch, pace.interval_s) == (batch, interval)
    # over any minute, at most the share of the limit (at least one) goes out
    assert pace.batch * 60 / pace.interval_s <= max(1, int(per_minute * share))


def test_a_pace_needs_sensible_arguments() -> None:
    for args in ((0, 0.5, 1), (10, 0.0, 1), (10, 1.5, 1), (10, 0.5, 0)):
        with pytest.raises(ValueError):
            rules.pace(args[0], share=args[1], batch_max=args[2])
