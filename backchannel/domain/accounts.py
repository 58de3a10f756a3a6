"""Rules for accounts: handles, passwords, profiles. Pure functions, no I/O."""

from __future__ import annotations

import re
import unicodedata

from backchannel.errors import BackchannelError

HANDLE_RE = re.compile(r"[a-z0-9_.]{3,30}")
DISPLAY_NAME_MAX = 64
BIO_MAX = 300
PASSWORD_MAX = 1024  # argon2 hashes anything, but unbounded input is a DoS lever

# A handful of the passwords every credential-stuffing list starts with.
COMMON_PASSWORDS = frozenset(
    [
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "qwerty123",
        "iloveyou11",
        "11111111",
        "00000000",
        "abcdefgh",
        "abc12345",
        "letmein1",
        "welcome1",
        "sunshine1",
        "football1",
        "baseball1",
        "dragon123",
        "monkey123",
        "passw0rd",
        "admin123",
        "trustno1",
        "superman1",
        "princess1",
    ]
)


def normalize_handle(raw: str) -> str:
    """The canonical (lower-case) form of a handle, or `invalid_handle`."""
    handle = raw.strip().lower()
    if not HANDLE_RE.fullmatch(handle):
        raise BackchannelError(
            "invalid_handle",
            f"Handles are 3-30 characters of a-z, 0-9, '_' and '.'; got {raw[:40]!r}.",
        )
    return handle


def check_password(password: str, *, handle: str, min_length: int) -> None:
    """Refuse passwords that are short, huge, common or the handle itself."""
    if len(password) < min_length:
        raise BackchannelError("weak_password", f"Passwords need at least {min_length} characters.")
    if len(password) > PASSWORD_MAX:
        raise BackchannelError(
            "weak_password", f"Passwords may have at most {PASSWORD_MAX} characters."
        )
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 3:
        raise BackchannelError("weak_password", "That password is too common.")
    if handle and handle in lowered:
        raise BackchannelError("weak_password", "The password must not contain the handle.")


def clean_text_field(value: str, *, field: str, max_length: int, allow_empty: bool) -> str:
    """Trim a profile field; refuse control characters and over-long values."""
    value = unicodedata.normalize("NFC", value.strip())
    if not value and not allow_empty:
        raise BackchannelError("invalid_request", f"{field} must not be empty.")
    if len(value) > max_length:
        raise BackchannelError(
            "invalid_request", f"{field} may have at most {max_length} characters."
        )
    if any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in value):
        raise BackchannelError("invalid_request", f"{field} contains control characters.")
    return value
