"""Rules for messages: text, reactions, edit window, forwards. Pure functions."""

from __future__ import annotations

import unicodedata

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
