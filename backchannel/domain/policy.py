"""Who may reach whom, and how: the message-request rules. Pure functions, no I/O.

Three answers to "may A message B?": `direct` (lands in B's inbox), `request` (lands in
B's Requests folder; A may send a few text messages until B accepts) and `none`.

A block is silent. To the blocked person it looks exactly like the blocker accepting
nothing new from them (`none`, the answer a "nobody" setting or a minor's protection
also gives); in a conversation they already share, their messages seem to send but
never arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from backchannel.errors import BackchannelError

INBOX_CHOICES = ("everyone", "following", "nobody")  # who lands directly in my inbox
REQUEST_CHOICES = ("everyone", "followers", "nobody")  # who may send me a request
FOLDERS = ("primary", "general", "requests", "hidden")
MOVABLE_FOLDERS = ("primary", "general")  # where a member may move an accepted conversation
MUTE_FOREVER = 2**62  # ms: muted_until for "until I unmute"
OLDEST_AGE = 130


@dataclass(frozen=True, slots=True)
class Relationship:
    """What the rules need to know about a sender and a recipient."""

    recipient_follows_sender: bool
    sender_follows_recipient: bool
    blocked: bool  # a block in either direction
    recipient_is_minor: bool
    recipient_inbox: str  # one of INBOX_CHOICES
    recipient_requests: str  # one of REQUEST_CHOICES


def reach(rel: Relationship) -> str:
    """How a sender with no conversation yet may reach the recipient: direct, request or none.

    Minors (below `dm_min_age`) are reached only by people they follow who follow them
    back, and never receive requests, whatever their settings say.
    """
    if rel.blocked:
        return "none"
    if rel.recipient_is_minor:
        mutual = rel.recipient_follows_sender and rel.sender_follows_recipient
        return "direct" if mutual else "none"
    if rel.recipient_inbox == "everyone" or (
        rel.recipient_inbox == "following" and rel.recipient_follows_sender
    ):
        return "direct"
    if rel.recipient_requests == "everyone" or (
        rel.recipient_requests == "followers" and rel.sender_follows_recipient
    ):
        return "request"
    return "none"


@dataclass(frozen=True, slots=True)
class RequestState:
    """A recipient's membership as far as requests go (the `members` row)."""

    state: str | None  # None (accepted, or never a request) | pending | declined
    requested_at: int | None  # ms
    declined_at: int | None  # ms
    messages_sent: int


def request_status(
    req: RequestState, *, now_ms: int, ttl_seconds: float, cooldown_seconds: float
) -> str:
    """Where a request stands now: accepted, pending, expired (nobody answered in time),
    declined (within the cool-down) or renewable (declined, cool-down over)."""
    if req.state is None:
        return "accepted"
    if req.state == "declined":
        assert req.declined_at is not None
        over = now_ms - req.declined_at >= cooldown_seconds * 1000
        return "renewable" if over else "declined"
    assert req.requested_at is not None
    if now_ms - req.requested_at >= ttl_seconds * 1000:
        return "expired"
    return "pending"


def request_allowance(status: str, messages_sent: int, *, limit: int) -> int:
    """How many more messages the requester may send in the request.

    A declined request looks pending to its sender (they are not told): the allowance
    left when it was declined stays. Expired and renewable ones start afresh.
    """
    if status in ("expired", "renewable"):
        return limit
    return max(limit - messages_sent, 0)


def check_request_message(*, has_media: bool) -> None:
    """Until a request is accepted the requester may send text only."""
    if has_media:
        raise BackchannelError(
            "request_text_only", "Until they accept your request you can send text only."
        )


def age_on(birth: date, today: date) -> int:
    """Whole years from `birth` to `today`."""
    years = today.year - birth.year
    if (today.month, today.day) < (birth.month, birth.day):
        years -= 1
    return years


def parse_birth_date(raw: str, *, today: date) -> date:
    """A birth date as YYYY-MM-DD, not in the future and not absurdly old."""
    try:
        birth = date.fromisoformat(raw)
    except ValueError:
        raise BackchannelError(
            "invalid_request", f"birth_date must be a date as YYYY-MM-DD; got {raw[:20]!r}."
        ) from None
    if birth > today:
        raise BackchannelError("invalid_request", "birth_date is in the future.")
    if age_on(birth, today) > OLDEST_AGE:
        raise BackchannelError("invalid_request", f"birth_date is over {OLDEST_AGE} years ago.")
    return birth


def is_minor(birth_date: str | None, *, today: date, min_age: int) -> bool:
    """Below the minimum age for open DMs. Unknown birth dates count as adults (the
    host platform decides whether to ask)."""
    if birth_date is None:
        return False
    return age_on(date.fromisoformat(birth_date), today) < min_age


def check_choice(value: str, choices: tuple[str, ...], *, field: str) -> str:
    if value not in choices:
        raise BackchannelError(
            "invalid_request", f"{field} is one of {', '.join(choices)}; got {value[:20]!r}."
        )
    return value
