"""The business inbox's rules, without I/O: roles and what each may do, who may manage
whom, and the values a conversation's working state takes.

A business is an account whose inbox a team works. Each member has one role:

| role   | reads | replies, notes | triage (status, labels, assign) | reports | manage*          | audit |
| ------ | ----- | -------------- | ------------------------------- | ------- | ---------------- | ----- |
| owner  | yes   | yes            | yes                             | yes     | yes (owners too) | yes   |
| admin  | yes   | yes            | yes                             | yes     | yes (not owners) | yes   |
| agent  | yes   | yes            | yes                             | no      | no               | no    |
| viewer | yes   | no             | no                              | yes     | no               | no    |

(*: the team, labels, settings, saved replies, rules, the bot, broadcasts, integrations,
shared views, and approving held replies — `ACTIONS` below.)

An agent's `scope` narrows what they read: `all`, `assigned` (to them) or `team` (to them
or a team of theirs). A member whose access expired, or who was removed, has no role.
"""

from __future__ import annotations

import re
from typing import Literal

from backchannel.errors import BackchannelError

Role = Literal["owner", "admin", "agent", "viewer"]
ROLES: tuple[Role, ...] = ("owner", "admin", "agent", "viewer")
SCOPES = ("all", "assigned", "team")
STATUSES = ("open", "pending", "snoozed", "resolved")
PRIORITIES = ("none", "low", "medium", "high", "urgent")
# What a saved view of the inbox may filter on (the inbox listing's filters).
VIEW_FILTERS = ("status", "assignee", "label", "priority", "waiting_minutes", "unread")

# What each action needs; every delegated call names one.
ACTIONS: dict[str, frozenset[Role]] = {
    "read": frozenset(ROLES),
    "reply": frozenset({"owner", "admin", "agent"}),
    "note": frozenset({"owner", "admin", "agent"}),
    "triage": frozenset({"owner", "admin", "agent"}),
    "manage_team": frozenset({"owner", "admin"}),
    "manage_labels": frozenset({"owner", "admin"}),
    "manage_replies": frozenset({"owner", "admin"}),
    "manage_settings": frozenset({"owner", "admin"}),
    "manage_automation": frozenset({"owner", "admin"}),  # rules, assignment settings
    "manage_integrations": frozenset({"owner", "admin"}),  # webhooks, API tokens
    "audit": frozenset({"owner", "admin"}),
    "share_views": frozenset({"owner", "admin"}),  # saved inbox views for the whole team
    # outbound: a scheduled message is a reply sent later; a broadcast reaches every
    # opted-in contact, beyond any one agent's conversations
    "schedule": frozenset({"owner", "admin", "agent"}),
    "broadcast": frozenset({"owner", "admin"}),
    "reports": frozenset({"owner", "admin", "viewer"}),  # viewers: the read-only analysts
    # the FAQ bot (its settings and knowledge) and approvals (deciding held replies)
    "manage_bot": frozenset({"owner", "admin"}),
    "approve": frozenset({"owner", "admin"}),
}
# Whose replies may be made to wait for an admin's approval (a per-member flag,
# services/approvals.py): agents only — owners and admins are the ones who approve.
RESTRICTABLE: frozenset[str] = frozenset({"agent"})

LABEL_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
LABEL_NAME_MAX = 40
TEAM_NAME_MAX = 64
NOTE_MAX = 10_000
MENTION = re.compile(r"(?<![\w@])@([a-z0-9_]{3,30})\b", re.IGNORECASE)


def allowed(role: str | None, action: str) -> bool:
    """Whether a member with `role` (None: not a member now) may do `action`."""
    return role is not None and role in ACTIONS[action]


def require(role: str | None, action: str) -> None:
    """Raise `business_forbidden` unless `role` may do `action` (the caller has already
    checked that the requester is on the team at all: strangers get a 404)."""
    if not allowed(role, action):
        raise BackchannelError(
            "business_forbidden", f"Your role on this team may not do that ({action})."
        )


def may_manage(actor_role: str, target_role: str | None, new_role: str | None) -> bool:
    """Whether `actor_role` may change a member from `target_role` (None: not yet one)
    to `new_role` (None: removed). Admins manage everyone but owners, and make no owners."""
    if actor_role == "owner":
        return True
    if actor_role == "admin":
        return target_role != "owner" and new_role != "owner"
    return False


def check_role(raw: str) -> Role:
    if raw not in ROLES:
        raise BackchannelError("invalid_request", f"role is one of {', '.join(ROLES)}.")
    return raw


def check_scope(raw: str, role: str) -> str:
    if raw not in SCOPES:
        raise BackchannelError("invalid_request", f"scope is one of {', '.join(SCOPES)}.")
    if raw != "all" and role != "agent":
        raise BackchannelError("invalid_request", "Only agents can be limited to a scope.")
    return raw


def check_label(name: str, color: str) -> tuple[str, str, str]:
    """A label's (name, key, colour): a name of 1-40 characters, unique by its lower-case
    key within the business, and a #rrggbb colour."""
    shown = " ".join(name.split())
    if not shown or len(shown) > LABEL_NAME_MAX:
        raise BackchannelError(
            "invalid_request", f"A label's name has 1 to {LABEL_NAME_MAX} characters."
        )
    if not LABEL_COLOR.match(color):
        raise BackchannelError("invalid_request", "A label's colour is #rrggbb.")
    return shown, shown.casefold(), color.lower()


def check_team_name(name: str) -> str:
    shown = " ".join(name.split())
    if not shown or len(shown) > TEAM_NAME_MAX:
        raise BackchannelError(
            "invalid_request", f"A team's name has 1 to {TEAM_NAME_MAX} characters."
        )
    return shown


def check_note(text: str) -> str:
    body = text.strip()
    if not body:
        raise BackchannelError("invalid_request", "A note needs some text.")
    if len(body) > NOTE_MAX:
        raise BackchannelError("invalid_request", f"A note has at most {NOTE_MAX} characters.")
    return body


def mentions(text: str) -> list[str]:
    """The handles @mentioned in a note, lower-case, once each, in order."""
    seen: dict[str, None] = {}
    for match in MENTION.finditer(text):
        seen.setdefault(match.group(1).lower(), None)
    return list(seen)


def check_status(status: str, snoozed_until: int | None, now_ms: int) -> int | None:
    """A status change: `snoozed` needs a time in the future (returned); others none."""
    if status not in STATUSES:
        raise BackchannelError("invalid_request", f"status is one of {', '.join(STATUSES)}.")
    if status == "snoozed":
        if snoozed_until is None or snoozed_until <= now_ms:
            raise BackchannelError(
                "invalid_request", "Snoozing needs snoozed_until, a time in the future."
            )
        return snoozed_until
    if snoozed_until is not None:
        raise BackchannelError("invalid_request", "snoozed_until goes with status snoozed.")
    return None


def check_priority(priority: str) -> str:
    if priority not in PRIORITIES:
        raise BackchannelError("invalid_request", f"priority is one of {', '.join(PRIORITIES)}.")
    return priority
