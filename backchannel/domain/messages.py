"""Rules for messages: text, reactions, edit window, forwards. Pure functions."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from backchannel.errors import BackchannelError

REACTION_MAX_CODEPOINTS = 16
_ALLOWED_CONTROLS = {"\n", "\t"}
_EMOJI_PUNCTUATION = {"\u203c", "\u2049", "\u3030", "\u303d"}  # ‼ ⁉ 〰 〽


def check_text(text: str, *, max_length: int) -> str:
    """Message text is stored exactly as given, once it passes these checks."""
    if not text.strip():
        raise BackchannelError("invalid_text", "Message text must not be empty.")
    if len(text) > max_length:
        raise BackchannelError(
            "invalid_text",
            f"Message text may have at most {max_length} characters; got {len(text)}.",
        )
    for ch in text:
        if unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS:
            raise BackchannelError(
                "invalid_text", f"Message text contains control character U+{ord(ch):04X}."
            )
        if "\ud800" <= ch <= "\udfff":
            raise BackchannelError("invalid_text", "Message text contains a lone surrogate.")
    return text


def check_reaction(emoji: str) -> str:
    """A reaction is one emoji (which may be several code points joined)."""
    if not emoji or len(emoji) > REACTION_MAX_CODEPOINTS:
        raise BackchannelError("invalid_reaction", "A reaction is a single emoji.")
    if emoji.isascii():
        raise BackchannelError("invalid_reaction", "A reaction is an emoji, not plain text.")
    for ch in emoji:
        category = unicodedata.category(ch)
        if category in {"Cc", "Zs", "Zl", "Zp"} or (category.startswith("L") and ch.isascii()):
            raise BackchannelError("invalid_reaction", "A reaction is a single emoji.")
        if category.startswith("L") and not ch.isascii():
            raise BackchannelError("invalid_reaction", "A reaction is an emoji, not a letter.")
        # Digits, punctuation and currency beyond ASCII (an ASCII digit may start a
        # keycap) are text, except the few punctuation marks that are emoji.
        if (
            (category[0] in "NP" or category == "Sc")
            and not ch.isascii()
            and ch not in _EMOJI_PUNCTUATION
        ):
            raise BackchannelError("invalid_reaction", "A reaction is an emoji, not text.")
    if _emoji_count(emoji) != 1:
        raise BackchannelError("invalid_reaction", "A reaction is a single emoji, not several.")
    return emoji


def _is_extender(ch: str) -> bool:
    """Code points that continue the emoji before them rather than start a new one."""
    code = ord(ch)
    return (
        code in (0x200D, 0xFE0E, 0xFE0F, 0x20E3)  # ZWJ, variation selectors, keycap
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag sequences (subdivision flags)
    )


def _emoji_count(text: str) -> int:
    """How many emoji a string shows: ZWJ sequences, modifiers, keycaps and flag pairs
    count once (a small grapheme-cluster rule, enough for reactions)."""
    count = 0
    previous = ""
    pending_flag = False
    for ch in text:
        regional = 0x1F1E6 <= ord(ch) <= 0x1F1FF
        if _is_extender(ch) or previous == "\u200d":
            pass
        elif regional and pending_flag:
            pending_flag = False
        else:
            count += 1
            pending_flag = regional
        previous = ch
    return count


def check_edit_window(*, sent_at_ms: int, now_ms: int, window_seconds: int) -> None:
    if now_ms - sent_at_ms > window_seconds * 1000:
        minutes = window_seconds // 60
        raise BackchannelError(
            "edit_window_closed", f"Messages can be edited for {minutes} minutes after sending."
        )


def check_forward_targets(count: int, *, maximum: int) -> None:
    if count == 0:
        raise BackchannelError("invalid_request", "Name at least one conversation to forward to.")
    if count > maximum:
        raise BackchannelError(
            "too_many_targets", f"A message can be forwarded to at most {maximum} conversations."
        )


MAX_ATTACHMENTS = 10
LABEL_MAX = 100
POST_TITLE_MAX = 200
URL_MAX = 2048


@dataclass(frozen=True, slots=True)
class Content:
    """What a message carries: text (may be empty with attachments or a share), its kind
    (`text`, `location`, `profile`, `post`), the share's JSON, and upload ids in order."""

    text: str
    kind: str = "text"
    share: dict[str, Any] | None = None
    media: tuple[str, ...] = ()


def check_content(
    *,
    text: str | None,
    max_length: int,
    media: list[str] | None = None,
    location: dict[str, Any] | None = None,
    profile: str | None = None,
    post: dict[str, Any] | None = None,
) -> Content:
    """A message's content, checked: one kind of share at most, up to MAX_ATTACHMENTS
    uploads named once each, and text unless something else is sent."""
    shares = [k for k, v in (("location", location), ("profile", profile), ("post", post)) if v]
    if len(shares) > 1:
        raise BackchannelError("invalid_request", "A message shares one thing at most.")
    pids = tuple(media or ())
    if len(pids) > MAX_ATTACHMENTS:
        raise BackchannelError(
            "too_many_attachments", f"A message carries at most {MAX_ATTACHMENTS} attachments."
        )
    if len(set(pids)) != len(pids):
        raise BackchannelError("invalid_request", "An attachment is named more than once.")
    body = text or ""
    if body or not (pids or shares):
        body = check_text(body, max_length=max_length)
    if location:
        return Content(body, "location", check_location(location), pids)
    if profile:
        return Content(body, "profile", {"handle": profile}, pids)
    if post:
        return Content(body, "post", check_post(post), pids)
    return Content(body, "text", None, pids)


def check_location(raw: dict[str, Any]) -> dict[str, Any]:
    latitude, longitude = raw.get("latitude"), raw.get("longitude")
    for name, value, bound in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise BackchannelError("invalid_request", f"location.{name} must be a number.")
        if abs(value) > bound:
            raise BackchannelError("invalid_request", f"location.{name} is within ±{bound}.")
    label = raw.get("label")
    if label is not None:
        label = _short_text(label, field="location.label", max_length=LABEL_MAX)
    return {"latitude": float(latitude), "longitude": float(longitude), "label": label}  # type: ignore[arg-type]


def check_post(raw: dict[str, Any]) -> dict[str, Any]:
    url = _web_url(raw.get("url"), field="post.url")
    title = raw.get("title")
    if title is not None:
        title = _short_text(title, field="post.title", max_length=POST_TITLE_MAX)
    image = raw.get("image_url")
    image = None if image is None else _web_url(image, field="post.image_url")
    return {"url": url, "title": title, "image_url": image}


def _web_url(value: Any, *, field: str) -> str:
    if not isinstance(value, str) or len(value) > URL_MAX:
        raise BackchannelError("invalid_request", f"{field}: an http(s) URL.")
    parsed = urlsplit(value)
    if (
        parsed.scheme not in ("http", "https")
        or not parsed.netloc
        or any(unicodedata.category(ch) == "Cc" or ch.isspace() for ch in value)
    ):
        raise BackchannelError("invalid_request", f"{field}: an http(s) URL.")
    return value


def _short_text(value: Any, *, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise BackchannelError("invalid_request", f"{field} must be text.")
    value = value.strip()
    if len(value) > max_length or any(unicodedata.category(ch) == "Cc" for ch in value):
        raise BackchannelError(
            "invalid_request", f"{field}: at most {max_length} characters, no control characters."
        )
    return value


# Disappearing messages: the presets clients offer (5 minutes, 1 hour, 24 hours, 7 days,
# 90 days) and the bounds of a custom timer.
DISAPPEAR_PRESETS = (300, 3600, 86_400, 604_800, 7_776_000)
DISAPPEAR_MIN_SECONDS = 10
DISAPPEAR_MAX_SECONDS = 7_776_000  # 90 days
DISAPPEAR_FROM = ("sent", "seen")


def check_disappearing(seconds: int | None, counted_from: str) -> tuple[int | None, str]:
    """A conversation's timer: seconds (None: off) within the bounds, counted from when a
    message was `sent` or from when everyone else has `seen` it."""
    if counted_from not in DISAPPEAR_FROM:
        raise BackchannelError("invalid_request", "`from` is sent or seen.")
    if seconds is not None and not DISAPPEAR_MIN_SECONDS <= seconds <= DISAPPEAR_MAX_SECONDS:
        raise BackchannelError(
            "invalid_request",
            f"A timer lasts {DISAPPEAR_MIN_SECONDS} s to {DISAPPEAR_MAX_SECONDS // 86_400} days.",
        )
    return seconds, counted_from
