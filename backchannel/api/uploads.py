"""Receiving a multipart upload: streamed to a temp file as it arrives, never whole in
memory, cut off at the size limit.

Starlette's own form parser spools files to disk too, but would then have to be copied
into a file of ours and cannot stop at a per-upload limit; python-multipart's streaming
parser (the one Starlette uses) writes straight to our file instead.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from backchannel.errors import BackchannelError

MAX_FIELDS = 8
MAX_FIELD_BYTES = 16 * 1024


@dataclass
class Upload:
    """The parts of an upload form: the file (at `path`, the caller deletes it) and the
    other fields as text."""

    path: Path | None = None
    filename: str | None = None
    content_type: str | None = None
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)


async def receive(request: Request, *, max_bytes: int, directory: Path) -> Upload:
    """Parse `multipart/form-data` with one file field `file`; `media_too_large` once the
    file passes `max_bytes`, `invalid_request` for anything malformed. On error no temp
    file is left behind."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise BackchannelError("invalid_request", "Send the file as multipart/form-data.")
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - one stat, no I/O wait
    state = _State(Upload(), max_bytes, directory)
    parser = MultipartParser(boundary, state.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        state.finish()
    except BaseException:
        state.discard()
        raise
    if state.upload.path is None:
        raise BackchannelError("invalid_request", "The form has no `file` part.")
    return state.upload


class _State:
    """The parser's callbacks: one part at a time, the file part to disk."""

    def __init__(self, upload: Upload, max_bytes: int, directory: Path) -> None:
        self.upload = upload
        self.max_bytes = max_bytes
        self.directory = directory
        self.header_name = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.name: str | None = None
        self.file: IO[bytes] | None = None
        self.value = bytearray()

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": lambda d, s, e: self._add("header_name", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("header_value", d[s:e]),
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def _add(self, attribute: str, data: bytes) -> None:
        setattr(self, attribute, getattr(self, attribute) + data)

    def part_begin(self) -> None:
        self.headers, self.name, self.value = {}, None, bytearray()

    def header_end(self) -> None:
        self.headers[self.header_name.lower()] = self.header_value
        self.header_name = self.header_value = b""

    def headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        if self.name != "file":
            if len(self.upload.fields) >= MAX_FIELDS:
                raise BackchannelError("invalid_request", "Too many form fields.")
            return
        if self.upload.path is not None:
            raise BackchannelError("invalid_request", "One file per upload.")
        raw_name = options.get(b"filename")
        self.upload.filename = None if raw_name is None else raw_name.decode("utf-8", "replace")
        declared = self.headers.get(b"content-type")
        self.upload.content_type = None if declared is None else declared.decode("latin-1")
        fd, name = tempfile.mkstemp(prefix="upload-", dir=self.directory)
        self.upload.path = Path(name)
        self.file = os.fdopen(fd, "wb")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.file is None:
            self.value += data[start:end]
            if len(self.value) > MAX_FIELD_BYTES:
                raise BackchannelError("invalid_request", "A form field is too long.")
            return
        self.upload.size += end - start
        if self.upload.size > self.max_bytes:
            raise BackchannelError(
                "media_too_large", f"Uploads may have at most {self.max_bytes} bytes."
            )
        self.file.write(data[start:end])

    def part_end(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        elif self.name:
            self.upload.fields[self.name] = self.value.decode("utf-8", "replace")

    def finish(self) -> None:
        if self.file is not None:
            raise BackchannelError("invalid_request", "The upload ended in the middle of a part.")

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.upload.path is not None:
            self.upload.path.unlink(missing_ok=True)
