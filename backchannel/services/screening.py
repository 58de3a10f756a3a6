"""Spam and phishing screening of messages and requests (the checks are domain/spam.py).

Two steps, because a write transaction may touch neither the network nor memory:

1. `before_send` (async, before the transaction): the sender's rate limit, and the
   counters the checks weigh — how often this sender sent the same text lately, how many
   conversations they started in the last hour — kept in the rate limiter (so in Redis,
   across nodes, when configured). Only for messages worth counting: with a link, or
   from a new account.
2. `judge_in_txn` (inside it): the checks, with what only the transaction knows —
   whether the message is a request, and the recipient's hidden words.

What the verdict does is the caller's (services/messages.py `admit`): `hide` sends a
request to Hidden Requests, `hold` keeps the message private to its sender until a
moderator looks, `reject` refuses it; each but `allow` leaves a flag for moderators
with the score and reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

from backchannel.domain import spam
from backchannel.services import limits
from backchannel.services.core import Core, Requester
from backchannel.store import safety as safety_db
from backchannel.store.database import WriteTxn

COUNTER_LIMIT = 10_000  # counters are rate limits never reached: "used" = limit - remaining
DUPLICATE_WINDOW = 600.0  # seconds: "the same text to many recipients in a short time"
VELOCITY_WINDOW = 3600.0  # seconds: "new conversations in the last hour"


@dataclass(frozen=True, slots=True)
class Counts:
    """What the checks know of the sender's recent behaviour (0 when not counted)."""

    duplicates: int = 0
    recent_conversations: int = 0
    has_link: bool | None = None  # None: not looked at yet (forwards)


NOT_COUNTED = Counts()


def might_link(text: str) -> bool:
    """A cheap pre-check: no dot and no colon, no link (extract_links finds none)."""
    return "." in text or ":" in text


async def before_send(core: Core, requester: Requester, text: str, count: int = 1) -> Counts:
    """The sender's messages-a-minute limit (`rate_limited`), then the counters for the
    checks. Call once per message, before queueing its transaction."""
    await limits.sending(core, requester, count)
    if core.spam is None:
        return NOT_COUNTED
    has_link = might_link(text) and bool(spam.extract_links(text))
    if requester.tier != "new" and not has_link:
        return Counts(has_link=False)
    duplicate = await core.limiter.hit(
        f"dup:{requester.user_id}:{spam.fingerprint(text)}",
        limit=COUNTER_LIMIT,
        window_seconds=DUPLICATE_WINDOW,
    )
    velocity = await core.limiter.peek(
        f"velocity:{requester.user_id}", limit=COUNTER_LIMIT, window_seconds=VELOCITY_WINDOW
    )
    return Counts(
        duplicates=COUNTER_LIMIT - duplicate.remaining,
        recent_conversations=COUNTER_LIMIT - velocity.remaining,
        has_link=has_link,
    )


async def started_conversation(core: Core, requester: Requester) -> None:
    """Count a new conversation or request for the velocity check."""
    if core.spam is not None:
        await core.limiter.hit(
            f"velocity:{requester.user_id}", limit=COUNTER_LIMIT, window_seconds=VELOCITY_WINDOW
        )


def judge_in_txn(
    t: WriteTxn,
    core: Core,
    requester: Requester,
    text: str,
    counts: Counts,
    *,
    request_to: int | None,
) -> spam.Verdict | None:
    """The verdict on a message, or None when it is not screened: established senders'
    messages without links in accepted conversations. `request_to`: the recipient, when
    the message is (part of) a request to them."""
    if core.spam is None:
        return None
    has_link = counts.has_link
    if has_link is None:
        has_link = might_link(text) and bool(spam.extract_links(text))
    if request_to is None and requester.tier != "new" and not has_link:
        return None
    hidden: frozenset[str] = frozenset()
    if request_to is not None:
        hidden = frozenset(safety_db.hidden_words_of(t.conn, request_to))
    context = spam.MessageContext(
        text=text,
        is_request=request_to is not None,
        sender_age_seconds=(t.now_ms - requester.created_at) / 1000,
        sender_tier=requester.tier,
        recent_new_conversations=counts.recent_conversations,
        duplicate_recipients=counts.duplicates,
        hidden_words=hidden,
    )
    return core.spam.check(context)
