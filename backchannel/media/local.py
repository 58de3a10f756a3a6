"""Media on the local filesystem: one file per object, under the data directory.

`sha256/<hex>` lives at `<root>/sha256/<hex[0:2]>/<hex[2:4]>/<hex>` (two levels of
fan-out keep directories small), mode 0o640. A file appears under its final name only
whole: it is written to a temp file in the same directory (`.<hex>.<random>.tmp`),
fsynced, and renamed into place (`os.replace`, atomic), and the directory is fsynced so
the name survives a crash. Concurrent puts of the same bytes each write their own temp
file; the last rename wins, with the same bytes. A write that fails (disk full, quota,
file size limit) removes its temp file and raises StorageError. A crash mid-write (kill
-9, power loss) can leave a `.tmp` file, never a partial object.

All file work runs in threads (`asyncio.to_thread`); the event loop never waits on a disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import io
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from backchannel.media.store import (
    DEFAULT_CHUNK_SIZE,
    MediaNotFound,
    StorageError,
    Stored,
    check_key,
    check_range,
    content_key,
)

FILE_MODE = 0o640
DIR_MODE = 0o750
COPY_CHUNK_SIZE = 1024 * 1024

_REASONS = {
    errno.ENOSPC: "disk full (no space left on the media volume)",
    errno.EDQUOT: "disk full (the media volume's quota is exceeded)",
    errno.EFBIG: "file too large for the media volume (file size limit)",
    errno.EROFS: "the media volume is read-only",
    errno.EACCES: "permission denied in the media directory",
    errno.EPERM: "permission denied in the media directory",
}


def reason_for(exc: OSError) -> str:
    """Words for a log line about a failed file operation (no paths of callers' files)."""
    if exc.errno in _REASONS:
        return _REASONS[exc.errno]
    name = errno.errorcode.get(exc.errno or 0, "unknown error")
    return f"media file operation failed: {name} ({exc.strerror or exc})"


class LocalMediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"LocalMediaStore({str(self.root)!r})"

    def path_of(self, key: str) -> Path:
        """Where the object `key` lives (ValueError for a bad key)."""
        hex_ = check_key(key).removeprefix("sha256/")
        return self.root / "sha256" / hex_[0:2] / hex_[2:4] / hex_

    # --- writes ---------------------------------------------------------------

    async def put_file(self, path: Path, *, content_type: str) -> Stored:
        return await asyncio.to_thread(self._put, path)

    def _put(self, source: Path) -> Stored:
        key, size = content_key(source)
        final = self.path_of(key)
        try:
            with contextlib.suppress(FileNotFoundError):
                if final.stat().st_size == size:
                    return Stored(key, size)  # these bytes are stored already
            self._make_dirs(final.parent)
            self._write(source, final, key)
        except OSError as exc:
            raise StorageError(reason_for(exc)) from exc
        return Stored(key, size)

    def _make_dirs(self, directory: Path) -> None:
        """Create `directory` and its missing parents, fsyncing each new entry's parent."""
        missing = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for new in reversed(missing):
            try:
                new.mkdir(mode=DIR_MODE)
            except FileExistsError:
                continue  # a concurrent put made it
            _fsync_dir(new.parent)

    def _write(self, source: Path, final: Path, key: str) -> None:
        """Copy `source` to a temp file beside `final`, checking it still hashes to `key`,
        then rename it into place. On any failure the temp file is gone."""
        temp = final.parent / f".{final.name}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            try:
                os.fchmod(fd, FILE_MODE)  # whatever the umask
                digest = hashlib.sha256()
                with open(source, "rb", buffering=0) as reader:
                    while chunk := reader.read(COPY_CHUNK_SIZE):
                        digest.update(chunk)
                        view = memoryview(chunk)
                        while view:
                            view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            if "sha256/" + digest.hexdigest() != key:
                raise StorageError("the file changed while it was being stored")
            os.replace(temp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_dir(final.parent)

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        await asyncio.to_thread(self._delete, path)

    @staticmethod
    def _delete(path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(reason_for(exc)) from exc

    # --- reads ----------------------------------------------------------------

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._exists, self.path_of(key))

    @staticmethod
    def _exists(path: Path) -> bool:
        try:
            path.stat()
        except FileNotFoundError:
            return False
        except OSError as exc:  # unlike Path.exists, an unreadable store is not an empty one
            raise StorageError(reason_for(exc)) from exc
        return True

    async def size(self, key: str) -> int:
        path = self.path_of(key)
        return await asyncio.to_thread(self._size, key, path)

    @staticmethod
    def _size(key: str, path: Path) -> int:
        try:
            return path.stat().st_size
        except FileNotFoundError:
            raise MediaNotFound(f"no media object {key}") from None
        except OSError as exc:
            raise StorageError(reason_for(exc)) from exc

    def read(
        self,
        key: str,
        *,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        path = self.path_of(key)
        check_range(start, end, chunk_size)
        return self._chunks(key, path, start, end, chunk_size)

    async def _chunks(
        self, key: str, path: Path, start: int, end: int | None, chunk_size: int
    ) -> AsyncIterator[bytes]:
        reader, size = await asyncio.to_thread(self._open, key, path)
        try:
            stop = size if end is None else min(end, size)
            if start >= stop:
                return
            await asyncio.to_thread(reader.seek, start)
            left = stop - start
            while left > 0:
                try:
                    chunk = await asyncio.to_thread(reader.read, min(chunk_size, left))
                except OSError as exc:
                    raise StorageError(reason_for(exc)) from exc
                if not chunk:
                    raise StorageError(f"media object {key} ended early")
                left -= len(chunk)
                yield chunk
        finally:
            # Closing a file opened for reading does not wait on the disk, and an
            # abandoned iterator may be closed where nothing can be awaited.
            reader.close()

    @staticmethod
    def _open(key: str, path: Path) -> tuple[io.FileIO, int]:
        try:
            reader = io.FileIO(path, "r")
        except FileNotFoundError:
            raise MediaNotFound(f"no media object {key}") from None
        except OSError as exc:
            raise StorageError(reason_for(exc)) from exc
        try:
            return reader, os.fstat(reader.fileno()).st_size
        except OSError as exc:
            reader.close()
            raise StorageError(reason_for(exc)) from exc

    async def close(self) -> None:
        return None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
