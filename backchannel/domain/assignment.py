"""Round-robin assignment, without I/O: which teammate takes a conversation next.

A business chooses `manual` (the team assigns) or `round_robin`: each new conversation, and
each that reopens unassigned, goes to one of the teammates who are *available* (they said
so; everyone starts away), whose access has not expired, whose role is one of the chosen
`roles` (agents by default), and who hold fewer than `capacity` open or pending
conversations. Among those, the one assigned least recently takes it (one never assigned
first), then the one with fewer conversations, then the longest on the team — so turns go
round fairly, whoever joins or leaves. Nobody eligible: the conversation stays unassigned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from backchannel.errors import BackchannelError

MODES = ("manual", "round_robin")
ASSIGNABLE_ROLES = ("owner", "admin", "agent")  # viewers may not reply
DEFAULT_ROLES = ("agent",)
DEFAULT_CAPACITY = 10
CAPACITY_MAX = 1000


@dataclass(frozen=True, slots=True)
class Candidate:
    user_id: int
    role: str
    available: bool
    expired: bool
    open_count: int  # open or pending conversations assigned to them
    last_assigned_at: int | None  # ms; None: never assigned by round-robin
    member_since: int  # ms


def eligible(candidate: Candidate, *, roles: Iterable[str], capacity: int) -> bool:
    return (
        candidate.available
        and not candidate.expired
        and candidate.role in roles
        and candidate.open_count < capacity
    )


def choose(candidates: Sequence[Candidate], *, roles: Iterable[str], capacity: int) -> int | None:
    """The user id of the teammate who takes the next conversation, or None."""
    allowed = frozenset(roles)
    pool = [c for c in candidates if eligible(c, roles=allowed, capacity=capacity)]
    if not pool:
        return None
    best = min(
        pool,
        key=lambda c: (
            -1 if c.last_assigned_at is None else c.last_assigned_at,
            c.open_count,
            c.member_since,
            c.user_id,
        ),
    )
    return best.user_id


def check_settings(
    mode: str, capacity: int, roles: Sequence[str]
) -> tuple[str, int, tuple[str, ...]]:
    """A business's assignment settings, checked: `invalid_request` says what is wrong."""
    if mode not in MODES:
        raise BackchannelError("invalid_request", f"mode is one of {', '.join(MODES)}.")
    if not 1 <= capacity <= CAPACITY_MAX:
        raise BackchannelError("invalid_request", f"capacity is from 1 to {CAPACITY_MAX}.")
    unknown = [r for r in roles if r not in ASSIGNABLE_ROLES]
    if not roles or unknown:
        raise BackchannelError(
            "invalid_request",
            f"roles: one or more of {', '.join(ASSIGNABLE_ROLES)}"
            + (f"; not {', '.join(unknown)}." if unknown else "."),
        )
    ordered = tuple(r for r in ASSIGNABLE_ROLES if r in roles)
    return mode, capacity, ordered
