"""Opaque public ids: random, unguessable, not sequential, URL-safe."""

from __future__ import annotations

import hashlib
import secrets

# 16 random bytes -> 22 url-safe characters: 128 bits, never guessed or enumerated.


def new_id(prefix: str) -> str:
    """A fresh public id such as `c_Q2x...`; the prefix says what kind of object it is."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


def new_token() -> str:
    """A fresh bearer token (256 random bits). Only its hash is stored."""
    return "bc_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a bearer token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()
