"""The media store's interface: content-addressed bytes, shared by both implementations.

An object's key is its content address, `sha256/<64 lowercase hex digits>` (the SHA-256
of its bytes), so storing the same bytes twice stores them once, and a key names the
same bytes forever. What an upload *is* (its kind, name, owner, who may see it) lives
in the database; the store holds bytes only.

Every key is checked (`check_key`) before it reaches a filesystem path or an S3
request: anything but `sha256/` and 64 lowercase hex digits is a `ValueError`, so a
key can never name a path outside the store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

KEY_PREFIX = "sha256/"
DEFAULT_CHUNK_SIZE = 64 * 1024
HASH_CHUNK_SIZE = 1024 * 1024

_KEY = re.compile(r"sha256/[0-9a-f]{64}")


class StorageError(Exception):
    """The store could not do it (disk full, backend down); `reason` says what in words
    fit for logs (never a credential)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaNotFound(StorageError):
    """No object is stored under the key (`size`, `read`)."""


@dataclass(frozen=True, slots=True)
class Stored:
    key: str  # content address: "sha256/<hex>" (hex of the bytes' SHA-256)
    size: int  # bytes


class MediaStore(Protocol):
    async def put_file(self, path: Path, *, content_type: str) -> Stored:
        """Store the bytes of the finished local file `path` (the caller's: it stays where
        it is, and the caller deletes it). Idempotent by content: the same bytes give the
        same key and are stored once. Atomic: afterwards the whole object is under its key,
        or nothing new is. `content_type` is kept where the backend has a place for it (S3
        metadata); when the bytes were already stored, theirs stays. StorageError when the
        store cannot take it; an OSError reading `path` is the caller's and passes through."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        ...

    async def size(self, key: str) -> int:
        """The object's size in bytes; MediaNotFound (a StorageError) when it is missing."""
        ...

    def read(
        self,
        key: str,
        *,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        """Bytes `[start, end)` of the object (`end` None: to its end), as an async
        iterator of chunks of at most `chunk_size` bytes: `async for chunk in
        store.read(key, start=a, end=b)`. Never holds the whole object in memory.

        The range is clamped to the object: an `end` past its size reads to its end, and
        a `start` at or past its size reads nothing (an HTTP 416 is the caller's to
        decide, from `size`). The key and bounds are checked at the call (ValueError for
        a bad key, `start < 0`, `end < start` or `chunk_size < 1`); a missing object
        (MediaNotFound) or a failing backend (StorageError) raise from the iteration, so
        a caller that must answer before streaming calls `size` first."""
        ...

    async def delete(self, key: str) -> None:
        """Delete the object; deleting a missing one is no error."""
        ...

    async def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


def check_key(key: str) -> str:
    """`key`, if it is a content address (`sha256/` and 64 lowercase hex digits); else
    ValueError. Called before a key touches a path or a request."""
    if not isinstance(key, str) or _KEY.fullmatch(key) is None:
        shown = repr(key) if len(repr(key)) <= 80 else repr(key)[:77] + "..."
        raise ValueError(
            f"media key must be 'sha256/' followed by 64 lowercase hex digits; got {shown}"
        )
    return key


def check_range(start: int, end: int | None, chunk_size: int) -> None:
    if start < 0 or (end is not None and end < start) or chunk_size < 1:
        raise ValueError(
            f"media read needs 0 <= start <= end and chunk_size >= 1; got start={start}, "
            f"end={end}, chunk_size={chunk_size}"
        )


def content_key(path: Path) -> tuple[str, int]:
    """Hash the file at `path` in chunks: its key (`sha256/<hex>`) and size in bytes.
    Blocking: call it from a thread."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as source:
        while chunk := source.read(HASH_CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return KEY_PREFIX + digest.hexdigest(), size
