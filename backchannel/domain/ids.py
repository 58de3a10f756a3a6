"""Opaque public ids: random, unguessable, not sequential, URL-safe."""

from __future__ import annotations

import hashlib
import re
import secrets

# 16 random bytes -> 22 url-safe characters: 128 bits, never guessed or enumerated.


def new_id(prefix: str) -> str:
    """A fresh public id such as `c_Q2x...`; the prefix says what kind of object it is."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


# Loose on purpose (any prefix, any length): it only keeps bytes no id can hold,
# such as NUL that PostgreSQL refuses in text, away from the database.
_PUBLIC_ID_RE = re.compile(r"[a-z]{1,8}_[A-Za-z0-9_-]{1,64}")


def is_public_id(value: str) -> bool:
    """Whether `value` could be a public id at all; callers treat False as not found."""
    return _PUBLIC_ID_RE.fullmatch(value) is not None


def new_token() -> str:
    """A fresh bearer token (256 random bits). Only its hash is stored."""
    return "bc_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a bearer token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()
