"""Automation rules of a business inbox, without I/O: what a rule is, checking one when it
is saved (every mistake named by its path, e.g. `conditions[1].pattern`), and matching
one against what happened.

A rule is `{name, enabled, stop, trigger, conditions, actions}`:

- `trigger`: `{type: message_received}` (a customer's message), `{type:
  conversation_created}`, `{type: status_changed, to?: status}` or `{type: idle, minutes,
  waiting_for: customer}` (the customer has waited that long for an answer);
- `conditions`, all of which must hold: `keywords` (`words`, `match: any|all`; whole words
  or phrases, case-insensitive), `regex` (`pattern`, `case_sensitive?`), `label` (`label_id`,
  `has: true|false`), `attribute` (a contact attribute: `name`, `op: equals|contains|exists`,
  `value`), `business_hours` (`is: open|closed`), `first_message` (`is: true|false`: the
  customer's first message in the conversation). Text conditions look at the customer's
  message, so they hold only for `message_received` (other triggers have no message);
- `actions`, in order: `reply` (`saved_reply_id`), `label` (`label_id`), `assign` (`to`: a
  teammate's handle or `round_robin`), `priority` (`priority`), `resolve`, `snooze`
  (`minutes`), `webhook` (the business's webhooks receive `rule.webhook`).

Regular expressions are the `regex` package's (a superset of `re`), compiled when the rule is
saved, at most `PATTERN_MAX` characters, and searched with a time limit (`REGEX_TIMEOUT_S`)
in at most `TEXT_SCAN_MAX` characters of the message: a pattern that backtracks
catastrophically (`(a+)+$`) cannot stall the server — on such a message it does not match,
and a dry-run says why. Ids and handles a rule names are checked by the service (they need
the database); `references` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import regex

from backchannel.domain.business import PRIORITIES, STATUSES
from backchannel.errors import BackchannelError

NAME_MAX = 80
CONDITIONS_MAX = 20
ACTIONS_MAX = 10
LABEL_ACTIONS_MAX = 5
WORDS_MAX = 20
WORD_MAX = 50
PATTERN_MAX = 200
ATTRIBUTE_VALUE_MAX = 500
MINUTES_MAX = 30 * 24 * 60  # idle and snooze: up to 30 days
REGEX_TIMEOUT_S = 0.05
TEXT_SCAN_MAX = 10_000
ATTRIBUTE_NAME = re.compile(r"^[a-z0-9_]{1,40}$")

TRIGGERS = ("message_received", "conversation_created", "status_changed", "idle")
CONDITIONS = ("keywords", "regex", "label", "attribute", "business_hours", "first_message")
ACTIONS = ("reply", "label", "assign", "priority", "resolve", "snooze", "webhook")
ROUND_ROBIN = "round_robin"


class _Errors:
    """Every mistake in a rule, by path, so a client can show them all at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append({"path": path, "message": message})

    def raise_any(self) -> None:
        if self.items:
            first = self.items[0]
            raise BackchannelError(
                "invalid_rule", f"{first['path']}: {first['message']}", errors=self.items
            )


def _object(raw: Any, path: str, errors: _Errors, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors.add(path, "expected an object")
        return {}
    for key in raw:
        if key not in allowed:
            errors.add(f"{path}.{key}", f"unknown field; expected one of {', '.join(allowed)}")
    return raw


def _choice(raw: Any, path: str, errors: _Errors, choices: tuple[str, ...]) -> str | None:
    if raw not in choices:
        errors.add(path, f"expected one of {', '.join(choices)}, got {raw!r}")
        return None
    return str(raw)


def _minutes(raw: Any, path: str, errors: _Errors) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MINUTES_MAX:
        errors.add(path, f"expected whole minutes from 1 to {MINUTES_MAX}, got {raw!r}")
        return None
    return raw


def _id(raw: Any, path: str, errors: _Errors) -> str | None:
    if not isinstance(raw, str) or not raw or len(raw) > 64:
        errors.add(path, "expected an id")
        return None
    return raw


def _flag(raw: Any, path: str, errors: _Errors) -> bool:
    if not isinstance(raw, bool):
        errors.add(path, f"expected true or false, got {raw!r}")
        return False
    return raw


def check(raw: Any) -> dict[str, Any]:
    """A rule as saved: every field checked, defaults filled in (`enabled` true, `stop`
    false, `keywords.match` any, `label.has` true, `first_message.is` true…). Raises
    `invalid_rule` with `details.errors`: `[{path, message}]`, all the mistakes found."""
    errors = _Errors()
    body = _object(
        raw, "rule", errors, ("name", "enabled", "stop", "trigger", "conditions", "actions")
    )
    name = " ".join(str(body.get("name") or "").split())
    if not isinstance(body.get("name"), str) or not name or len(name) > NAME_MAX:
        errors.add("name", f"expected 1 to {NAME_MAX} characters")
    rule: dict[str, Any] = {
        "name": name,
        "enabled": _flag(body.get("enabled", True), "enabled", errors),
        "stop": _flag(body.get("stop", False), "stop", errors),
        "trigger": _trigger(body.get("trigger"), errors),
        "conditions": [],
        "actions": [],
    }
    conditions = body.get("conditions", [])
    if not isinstance(conditions, list) or len(conditions) > CONDITIONS_MAX:
        errors.add("conditions", f"expected a list of at most {CONDITIONS_MAX} conditions")
        conditions = []
    for index, item in enumerate(conditions):
        rule["conditions"].append(_condition(item, f"conditions[{index}]", errors))
    actions = body.get("actions")
    if not isinstance(actions, list) or not 1 <= len(actions) <= ACTIONS_MAX:
        errors.add("actions", f"expected a list of 1 to {ACTIONS_MAX} actions")
        actions = []
    for index, item in enumerate(actions):
        rule["actions"].append(_action(item, f"actions[{index}]", errors))
    _check_combination(rule["actions"], errors)
    errors.raise_any()
    return rule


def _trigger(raw: Any, errors: _Errors) -> dict[str, Any]:
    body = _object(raw, "trigger", errors, ("type", "to", "minutes", "waiting_for"))
    kind = _choice(body.get("type"), "trigger.type", errors, TRIGGERS)
    trigger: dict[str, Any] = {"type": kind}
    extra = set(body) - {"type"}
    if kind == "status_changed":
        to = body.get("to")
        trigger["to"] = None if to is None else _choice(to, "trigger.to", errors, STATUSES)
        extra -= {"to"}
    elif kind == "idle":
        trigger["minutes"] = _minutes(body.get("minutes"), "trigger.minutes", errors)
        trigger["waiting_for"] = _choice(
            body.get("waiting_for", "customer"), "trigger.waiting_for", errors, ("customer",)
        )
        extra -= {"minutes", "waiting_for"}
    for key in sorted(extra):
        if kind is not None:
            errors.add(f"trigger.{key}", f"does not go with a {kind} trigger")
    return trigger


def _words(raw: Any, path: str, errors: _Errors) -> list[str]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= WORDS_MAX:
        errors.add(path, f"expected a list of 1 to {WORDS_MAX} words or phrases")
        return []
    words = []
    for index, word in enumerate(raw):
        shown = " ".join(word.split()) if isinstance(word, str) else ""
        if not shown or len(shown) > WORD_MAX:
            errors.add(f"{path}[{index}]", f"expected 1 to {WORD_MAX} characters")
        else:
            words.append(shown)
    return words


def _condition(raw: Any, path: str, errors: _Errors) -> dict[str, Any]:
    fields = ("type", "words", "match", "pattern", "case_sensitive", "label_id", "has")
    body = _object(raw, path, errors, (*fields, "name", "op", "value", "is"))
    kind = _choice(body.get("type"), f"{path}.type", errors, CONDITIONS)
    out: dict[str, Any] = {"type": kind}
    if kind == "keywords":
        out["words"] = _words(body.get("words"), f"{path}.words", errors)
        out["match"] = _choice(body.get("match", "any"), f"{path}.match", errors, ("any", "all"))
        used = {"words", "match"}
    elif kind == "regex":
        out["pattern"] = _pattern(body.get("pattern"), f"{path}.pattern", errors)
        out["case_sensitive"] = _flag(
            body.get("case_sensitive", False), f"{path}.case_sensitive", errors
        )
        if out["pattern"] is not None:
            try:
                _compiled(out["pattern"], out["case_sensitive"])
            except regex.error as exc:
                errors.add(f"{path}.pattern", f"not a valid regular expression: {exc}")
        used = {"pattern", "case_sensitive"}
    elif kind == "label":
        out["label_id"] = _id(body.get("label_id"), f"{path}.label_id", errors)
        out["has"] = _flag(body.get("has", True), f"{path}.has", errors)
        used = {"label_id", "has"}
    elif kind == "attribute":
        name = body.get("name")
        if not isinstance(name, str) or not ATTRIBUTE_NAME.match(name):
            errors.add(f"{path}.name", "expected an attribute name (a-z, 0-9, `_`)")
        out["name"] = name
        out["op"] = _choice(
            body.get("op", "equals"), f"{path}.op", errors, ("equals", "contains", "exists")
        )
        value = body.get("value")
        if out["op"] in ("equals", "contains"):
            if not isinstance(value, str) or len(value) > ATTRIBUTE_VALUE_MAX:
                errors.add(f"{path}.value", f"expected a string of at most {ATTRIBUTE_VALUE_MAX}")
            out["value"] = value
            used = {"name", "op", "value"}
        else:
            used = {"name", "op"}
    elif kind == "business_hours":
        out["is"] = _choice(body.get("is"), f"{path}.is", errors, ("open", "closed"))
        used = {"is"}
    elif kind == "first_message":
        out["is"] = _flag(body.get("is", True), f"{path}.is", errors)
        used = {"is"}
    else:
        used = set(body)
    for key in sorted(set(body) - used - {"type"}):
        errors.add(f"{path}.{key}", f"does not go with a {kind} condition")
    return out


def _pattern(raw: Any, path: str, errors: _Errors) -> str | None:
    if not isinstance(raw, str) or not raw or len(raw) > PATTERN_MAX:
        errors.add(path, f"expected a regular expression of 1 to {PATTERN_MAX} characters")
        return None
    return raw


def _action(raw: Any, path: str, errors: _Errors) -> dict[str, Any]:
    body = _object(
        raw, path, errors, ("type", "saved_reply_id", "label_id", "to", "priority", "minutes")
    )
    kind = _choice(body.get("type"), f"{path}.type", errors, ACTIONS)
    out: dict[str, Any] = {"type": kind}
    used: set[str] = set()
    if kind == "reply":
        out["saved_reply_id"] = _id(body.get("saved_reply_id"), f"{path}.saved_reply_id", errors)
        used = {"saved_reply_id"}
    elif kind == "label":
        out["label_id"] = _id(body.get("label_id"), f"{path}.label_id", errors)
        used = {"label_id"}
    elif kind == "assign":
        to = body.get("to")
        if not isinstance(to, str) or not to.strip() or len(to) > 64:
            errors.add(f"{path}.to", "expected a teammate's handle or round_robin")
            to = None
        out["to"] = None if to is None else to.strip().removeprefix("@").lower()
        used = {"to"}
    elif kind == "priority":
        out["priority"] = _choice(body.get("priority"), f"{path}.priority", errors, PRIORITIES)
        used = {"priority"}
    elif kind == "snooze":
        out["minutes"] = _minutes(body.get("minutes"), f"{path}.minutes", errors)
        used = {"minutes"}
    elif kind is None:
        used = set(body)
    for key in sorted(set(body) - used - {"type"}):
        errors.add(f"{path}.{key}", f"does not go with a {kind} action")
    return out


def _check_combination(actions: list[dict[str, Any]], errors: _Errors) -> None:
    kinds = [a["type"] for a in actions if a["type"] is not None]
    for kind in sorted(set(kinds)):
        most = LABEL_ACTIONS_MAX if kind == "label" else 1
        if kinds.count(kind) > most:
            errors.add("actions", f"at most {most} {kind} action(s) in a rule")
    if "resolve" in kinds and "snooze" in kinds:
        errors.add("actions", "resolve and snooze contradict each other: choose one")


def references(rule: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """What a checked rule names that the database must know: `(path, kind, value)` with
    kind `label`, `saved_reply` or `member` (a handle to assign to)."""
    found = []
    for index, condition in enumerate(rule["conditions"]):
        if condition["type"] == "label":
            found.append((f"conditions[{index}].label_id", "label", condition["label_id"]))
    for index, action in enumerate(rule["actions"]):
        if action["type"] == "label":
            found.append((f"actions[{index}].label_id", "label", action["label_id"]))
        elif action["type"] == "reply":
            found.append(
                (f"actions[{index}].saved_reply_id", "saved_reply", action["saved_reply_id"])
            )
        elif action["type"] == "assign" and action["to"] != ROUND_ROBIN:
            found.append((f"actions[{index}].to", "member", action["to"]))
    return found


def invalid_references(problems: list[tuple[str, str]]) -> None:
    """Raise `invalid_rule` for the `(path, message)` the service found (unknown ids)."""
    errors = _Errors()
    for path, message in problems:
        errors.add(path, message)
    errors.raise_any()


# --- matching -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Context:
    """What a rule's conditions look at: the customer's message (None: the trigger has
    none), the conversation's label ids, the contact's attributes, whether the business is
    open now, and whether the message is the customer's first in the conversation."""

    text: str | None = None
    label_ids: frozenset[str] = frozenset()
    attributes: Mapping[str, str] = field(default_factory=dict)
    open_now: bool = True
    first_message: bool = False


@dataclass(frozen=True, slots=True)
class Evaluation:
    matched: bool
    conditions: list[dict[str, Any]]  # [{index, type, matched, reason}]


def triggered(
    rule: Mapping[str, Any], kind: str, *, status: str | None = None, minutes: int | None = None
) -> bool:
    """Whether `rule` listens to what happened: a trigger of `kind`; for `status_changed`,
    the new `status` (a rule without `to` hears every change); for `idle`, the `minutes`."""
    trigger = rule["trigger"]
    if trigger["type"] != kind:
        return False
    if kind == "status_changed":
        return trigger.get("to") is None or trigger["to"] == status
    if kind == "idle":
        return bool(trigger["minutes"] == minutes)
    return True


def evaluate(rule: Mapping[str, Any], context: Context) -> Evaluation:
    """Whether every condition holds in `context`, with each one's outcome and reason (all
    are evaluated, for a dry-run to show each)."""
    results = []
    for index, condition in enumerate(rule["conditions"]):
        matched, reason = _holds(condition, context)
        results.append(
            {"index": index, "type": condition["type"], "matched": matched, "reason": reason}
        )
    return Evaluation(all(r["matched"] for r in results), results)


def _holds(condition: Mapping[str, Any], context: Context) -> tuple[bool, str]:
    kind = condition["type"]
    if kind in ("keywords", "regex") and context.text is None:
        return False, "there is no customer message to look at"
    if kind == "keywords":
        assert context.text is not None
        found = [w for w in condition["words"] if _word(w).search(context.text)]
        missing = [w for w in condition["words"] if w not in found]
        if condition["match"] == "all":
            if missing:
                return False, f"missing: {', '.join(missing)}"
            return True, f"all found: {', '.join(found)}"
        if found:
            return True, f"found: {', '.join(found)}"
        return False, f"none of {', '.join(condition['words'])}"
    if kind == "regex":
        assert context.text is not None
        pattern = _compiled(condition["pattern"], condition["case_sensitive"])
        try:
            match = pattern.search(context.text[:TEXT_SCAN_MAX], timeout=REGEX_TIMEOUT_S)
        except TimeoutError:
            return False, f"gave up after {REGEX_TIMEOUT_S}s (the pattern is too slow here)"
        if match is None:
            return False, "the pattern does not match"
        return True, f"matched at {match.start()}-{match.end()}"
    if kind == "label":
        has = condition["label_id"] in context.label_ids
        if has == condition["has"]:
            return True, "has the label" if has else "does not have the label"
        return False, "has the label" if has else "does not have the label"
    if kind == "attribute":
        value = context.attributes.get(condition["name"])
        if value is None:
            return False, f"no attribute {condition['name']}"
        if condition["op"] == "exists":
            return True, f"{condition['name']} is set"
        wanted = str(condition["value"]).casefold()
        if condition["op"] == "equals":
            ok = value.casefold() == wanted
        else:
            ok = wanted in value.casefold()
        return ok, f"{condition['name']} is {value!r}"
    if kind == "business_hours":
        now = "open" if context.open_now else "closed"
        return now == condition["is"], f"the business is {now}"
    if kind == "first_message":
        first = context.first_message
        reason = "the customer's first message" if first else "not the customer's first message"
        return first == condition["is"], reason
    raise AssertionError(kind)  # pragma: no cover - check() accepts no other type


@lru_cache(maxsize=1024)
def _word(word: str) -> re.Pattern[str]:
    # Escaped literals only: linear time. Inner spaces match any run of white space.
    body = r"\s+".join(re.escape(part) for part in word.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=1024)
def _compiled(pattern: str, case_sensitive: bool) -> Any:
    return regex.compile(pattern, 0 if case_sensitive else regex.IGNORECASE)
