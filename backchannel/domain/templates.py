"""Saved replies' variables: `{{customer.first_name}}`, `{{agent.name}}`, a contact's
custom attributes `{{customer.attributes.plan}}`, each with an optional fallback after a
bar (`{{customer.first_name|there}}`). Checked when a reply is saved, filled when it is used;
a value is inserted as text, never interpreted again (no template injection).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from backchannel.errors import BackchannelError

VARIABLE = re.compile(r"\{\{\s*([a-z_][a-z0-9_.]*)\s*(?:\|([^{}]*))?\}\}")
NAMES = frozenset(
    {
        "customer.name",
        "customer.first_name",
        "customer.handle",
        "agent.name",
        "agent.first_name",
        "business.name",
    }
)
ATTRIBUTE = re.compile(r"^customer\.attributes\.[a-z0-9_]{1,40}$")
TEXT_MAX = 4096
SHORTCUT = re.compile(r"^[a-z0-9_-]{1,32}$")


def variables(text: str) -> list[str]:
    """The variables a template uses, in order, once each."""
    seen: dict[str, None] = {}
    for match in VARIABLE.finditer(text):
        seen.setdefault(match.group(1), None)
    return list(seen)


def check(text: str) -> str:
    """A saved reply's text: 1-4096 characters, every `{{…}}` a known variable, and no
    stray braces pair left unparsed (a typo like `{{agent.nme}}` is refused, not sent)."""
    if not text.strip():
        raise BackchannelError("invalid_request", "A saved reply needs some text.")
    if len(text) > TEXT_MAX:
        raise BackchannelError(
            "invalid_request", f"A saved reply has at most {TEXT_MAX} characters."
        )
    unknown = [v for v in variables(text) if v not in NAMES and not ATTRIBUTE.match(v)]
    if unknown:
        raise BackchannelError(
            "invalid_template",
            f"Unknown variable {unknown[0]!r}: use one of {', '.join(sorted(NAMES))} "
            "or customer.attributes.<name>.",
            unknown=unknown,
        )
    if "{{" in VARIABLE.sub("", text):
        raise BackchannelError("invalid_template", "A `{{` is not closed as a variable.")
    return text


def check_shortcut(raw: str) -> str:
    shortcut = raw.strip().removeprefix("/").lower()
    if not SHORTCUT.match(shortcut):
        raise BackchannelError(
            "invalid_request", "A shortcut is 1-32 characters of a-z, 0-9, `_` and `-`."
        )
    return shortcut


def first_name(name: str) -> str:
    return name.split()[0] if name.split() else ""


def render(text: str, values: Mapping[str, str | None]) -> str:
    """Fill the variables; a missing or empty value takes the fallback (or nothing)."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value:
            return value
        return (match.group(2) or "").strip()

    return VARIABLE.sub(fill, text)
