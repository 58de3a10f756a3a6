"""Outbound rules, without I/O: opt-in and opt-out keywords, what a scheduled message or a
broadcast may say and when, who a broadcast reaches, and how fast it goes out.

A customer opts in to a business's broadcasts by sending an opt-in keyword (`START`,
`SUBSCRIBE` by default — or tapping a quick reply labelled with one) and out by sending an
opt-out keyword (`STOP`, `UNSUBSCRIBE`). A keyword is the *whole* message, compared without
case, around spaces and a closing `.` or `!`: "stop." opts out, "please stop" does not.

A broadcast goes only to contacts opted in now, in conversations they already have with the
business, and never faster than a share of the business's own messages-a-minute limit
(`pace`), so the team can still answer while it runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from backchannel.domain import templates
from backchannel.errors import BackchannelError

DEFAULT_OPT_IN = ("START", "SUBSCRIBE")
DEFAULT_OPT_OUT = ("STOP", "UNSUBSCRIBE")
KEYWORD = re.compile(r"^[^\W_](?:[\w' -]{0,30}[^\W_])?$")
KEYWORD_MAX = 64  # characters of a message that may still be a keyword (spaces, a `!`)
SCHEDULE_MAX_DAYS = 365  # how far ahead a message or a broadcast may be scheduled
DAY_MS = 86_400_000

Answer = Literal["in", "out"]


def normalize(text: str) -> str:
    """A message as keywords are compared: trimmed, one closing `.`/`!` dropped, spaces
    collapsed, case folded."""
    shown = " ".join(text.split()).rstrip(".!").strip()
    return shown.casefold()


def check_keywords(raw: Iterable[str], *, field: str) -> tuple[str, ...]:
    """Configured keywords: 1-32 letters, digits, spaces, `'` or `-` each, at least one;
    returned as given (their first is shown in confirmations), without repeats."""
    seen: dict[str, str] = {}
    for word in raw:
        shown = " ".join(str(word).split())
        if not KEYWORD.match(shown):
            raise ValueError(f"{field}: {word!r} is not a keyword (1-32 letters or digits)")
        seen.setdefault(normalize(shown), shown)
    if not seen:
        raise ValueError(f"{field}: name at least one keyword")
    return tuple(seen.values())


def keyword_answer(
    text: str | None, *, opt_in: Sequence[str], opt_out: Sequence[str]
) -> Answer | None:
    """`in` when the whole message is an opt-in keyword, `out` for an opt-out one (which
    wins if a word is configured as both), None otherwise."""
    if not text or len(text.strip()) > KEYWORD_MAX:  # no keyword is longer: skip the work
        return None
    said = normalize(text)
    if said in {normalize(word) for word in opt_out}:
        return "out"
    if said in {normalize(word) for word in opt_in}:
        return "in"
    return None


def opted_in_text(business_name: str, opt_out: Sequence[str]) -> str:
    """The confirmation a customer gets on opting in."""
    return (
        f"You're subscribed to messages from {business_name}. "
        f"Reply {opt_out[0]} at any time to unsubscribe."
    )


def opted_out_text(business_name: str, opt_in: Sequence[str]) -> str:
    """The confirmation a customer gets on opting out (honoured at once)."""
    return (
        f"You're unsubscribed: {business_name} will send you no more broadcasts. "
        f"Reply {opt_in[0]} to subscribe again."
    )


def check_text(text: str, *, max_length: int) -> str:
    """What a scheduled message or a broadcast says: the text of a message, with the saved
    replies' variables (domain/templates.py) filled in when it is sent."""
    if not text.strip():
        raise BackchannelError("invalid_request", "The message needs some text.")
    if len(text) > min(max_length, templates.TEXT_MAX):
        raise BackchannelError(
            "invalid_text", f"At most {min(max_length, templates.TEXT_MAX)} characters."
        )
    return templates.check(text)


def check_send_at(send_at: int | None, now_ms: int, *, required: bool) -> int | None:
    """When it goes out (ms): in the future and within `SCHEDULE_MAX_DAYS`; None (now) only
    when not `required`."""
    if send_at is None:
        if required:
            raise BackchannelError("invalid_request", "send_at is needed: when to send it.")
        return None
    if send_at <= now_ms:
        raise BackchannelError("invalid_request", "send_at must be in the future.")
    if send_at > now_ms + SCHEDULE_MAX_DAYS * DAY_MS:
        raise BackchannelError(
            "invalid_request", f"send_at is at most {SCHEDULE_MAX_DAYS} days ahead."
        )
    return send_at


@dataclass(frozen=True, slots=True)
class Audience:
    """Who of the opted-in contacts a broadcast reaches: all, or those whose conversation
    carries `label_id`."""

    label_id: int | None = None

    def admits(self, labels: Iterable[int]) -> bool:
        return self.label_id is None or self.label_id in set(labels)


@dataclass(frozen=True, slots=True)
class Pace:
    """How a broadcast goes out: `batch` messages, then a pause of `interval_s` seconds."""

    batch: int
    interval_s: float


def pace(messages_per_minute: int, *, share: float, batch_max: int) -> Pace:
    """A broadcast's pace within the sender's limit: at most `share` (0-1] of its
    messages a minute (at least one), in batches of at most `batch_max`, spaced so that the
    rate holds over every minute."""
    if messages_per_minute < 1 or not 0 < share <= 1 or batch_max < 1:
        raise ValueError("pace: a positive limit, a share in (0, 1] and a positive batch")
    per_minute = max(1, int(messages_per_minute * share))
    batch = min(batch_max, per_minute)
    return Pace(batch, 60.0 * batch / per_minute)
