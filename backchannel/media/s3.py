"""Media in an S3-compatible object store (AWS S3, MinIO, Ceph, moto…): one object per key.

`sha256/<hex>` is the object `<prefix>sha256/<hex>` in the bucket. A put first asks
(HEAD) whether the object exists and skips the upload if so; otherwise `upload_file`
sends it in one PUT, or as a multipart upload above `multipart_threshold` (boto3
aborts a multipart upload that fails, so no part becomes visible). Either way S3 makes
the object visible whole or not at all. Two nodes putting the same bytes at once both
upload; the later PUT replaces the earlier with the same bytes.

Reads are ranged GETs (`Range: bytes=a-b`) whose body is read chunk by chunk. Every
boto3 call runs in a thread (`asyncio.to_thread`) on the store's one client (boto3
clients are thread-safe; sessions are not, so the store has a session of its own).
Errors of boto3 and botocore (refused connections, timeouts, S3 error responses)
become StorageError, with words for logs and never the credentials.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import urllib3.exceptions
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from backchannel.media.store import (
    DEFAULT_CHUNK_SIZE,
    MediaNotFound,
    StorageError,
    Stored,
    check_key,
    check_range,
    content_key,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024
MAX_PRESIGN_SECONDS = 7 * 86400  # the longest a SigV4 presigned URL may live

_MISSING = {"404", "NoSuchKey", "NotFound"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
_TRANSPORT_ERRORS = (BotoCoreError, urllib3.exceptions.HTTPError, OSError)


def reason_for(exc: BaseException, doing: str) -> str:
    """Words for a log line about a failed S3 call."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "unknown"))
        if code == "NoSuchBucket":
            return f"S3 {doing} failed: the bucket does not exist"
        if code in _DENIED:
            return f"S3 {doing} failed: access denied ({code}); check the S3 credentials"
        message = str(error.get("Message", ""))[:200]
        return f"S3 {doing} failed: {code}" + (f" ({message})" if message else "")
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, Boto3Error) and isinstance(cause, ClientError | BotoCoreError):
        return reason_for(cause, doing)  # upload_file wraps the error it got
    return f"S3 {doing} failed: {type(exc).__name__}: {str(exc)[:200]}"


def content_disposition(filename: str) -> str:
    """`attachment` with `filename` for a Content-Disposition header (RFC 6266): an ASCII
    fallback and the exact name percent-encoded (RFC 5987), no control characters."""
    fallback = (
        "".join(c for c in filename if " " <= c <= "~" and c not in '"\\').strip() or "download"
    )
    exact = urllib.parse.quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


class S3MediaStore:
    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
        multipart_threshold: int = 16 * MIB,
        max_connections: int = 32,
    ) -> None:
        """`endpoint_url` None: AWS S3 in `region`; else an S3-compatible server, addressed
        path-style. No keys: boto3's usual chain (`AWS_*` variables, `~/.aws`, a role).
        `prefix` gets a trailing `/` if it lacks one. `max_attempts` counts the first try
        (botocore's standard retry mode, with backoff). Builds the client at once (no
        network: a connection is made by the first call)."""
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        stripped = prefix.strip("/")
        self.prefix = f"{stripped}/" if stripped else ""
        config = Config(
            region_name=region,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            max_pool_connections=max_connections,
        )
        if endpoint_url:
            # S3-compatible servers: path-style addressing works everywhere (a virtual
            # host `bucket.minio:9000` seldom resolves), and checksums only where S3
            # requires them (several servers refuse botocore's default CRC headers).
            config = config.merge(
                Config(
                    s3={"addressing_style": "path"},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                )
            )
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        self._client: S3Client = session.client("s3", endpoint_url=endpoint_url, config=config)
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(5 * MIB, multipart_threshold),
            max_concurrency=4,
        )

    def __repr__(self) -> str:
        where = self.endpoint_url or "AWS"
        return f"S3MediaStore(bucket={self.bucket!r}, endpoint={where!r}, prefix={self.prefix!r})"

    def object_key(self, key: str) -> str:
        """The S3 object key of the media key `key` (ValueError for a bad key)."""
        return self.prefix + check_key(key)

    # --- writes ---------------------------------------------------------------

    async def put_file(self, path: Path, *, content_type: str) -> Stored:
        return await asyncio.to_thread(self._put, path, content_type)

    def _put(self, path: Path, content_type: str) -> Stored:
        key, size = content_key(path)
        name = self.object_key(key)
        if self._head(name, "upload") is not None:
            return Stored(key, size)  # these bytes are stored already
        try:
            self._client.upload_file(
                str(path),
                self.bucket,
                name,
                ExtraArgs={"ContentType": content_type},
                Config=self._transfer,
            )
        except (ClientError, Boto3Error, *_TRANSPORT_ERRORS) as exc:
            raise StorageError(reason_for(exc, "upload")) from exc
        return Stored(key, size)

    async def delete(self, key: str) -> None:
        name = self.object_key(key)
        await asyncio.to_thread(self._call, "delete", self._client.delete_object, name)

    # --- reads ----------------------------------------------------------------

    async def exists(self, key: str) -> bool:
        name = self.object_key(key)
        return await asyncio.to_thread(self._head, name, "lookup") is not None

    async def size(self, key: str) -> int:
        name = self.object_key(key)
        found = await asyncio.to_thread(self._head, name, "lookup")
        if found is None:
            raise MediaNotFound(f"no media object {key}")
        return found

    def read(
        self,
        key: str,
        *,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        name = self.object_key(key)
        check_range(start, end, chunk_size)
        return self._chunks(key, name, start, end, chunk_size)

    async def _chunks(
        self, key: str, name: str, start: int, end: int | None, chunk_size: int
    ) -> AsyncIterator[bytes]:
        if end is not None and end == start:
            await self.size(key)  # nothing to read, but a missing object is still missing
            return
        body = await asyncio.to_thread(self._get, key, name, start, end)
        if body is None:
            return  # `start` at or past the end
        try:
            while True:
                try:
                    chunk = await asyncio.to_thread(body.read, chunk_size)
                except (ClientError, *_TRANSPORT_ERRORS) as exc:
                    raise StorageError(reason_for(exc, "download")) from exc
                if not chunk:
                    return
                yield chunk
        finally:
            # Closing drops the connection without reading on (nothing to wait for), and
            # an abandoned iterator may be closed where nothing can be awaited.
            body.close()

    def _get(self, key: str, name: str, start: int, end: int | None) -> Any:
        """The body (a botocore StreamingBody) of bytes [start, end), or None when
        `start` lies at or past the end of the object."""
        try:
            if start > 0 or end is not None:
                last = "" if end is None else str(end - 1)
                response = self._client.get_object(
                    Bucket=self.bucket, Key=name, Range=f"bytes={start}-{last}"
                )
            else:
                response = self._client.get_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise MediaNotFound(f"no media object {key}") from None
            if code == "InvalidRange":  # the object exists; the range starts past its end
                return None
            raise StorageError(reason_for(exc, "download")) from exc
        except _TRANSPORT_ERRORS as exc:
            raise StorageError(reason_for(exc, "download")) from exc
        return response["Body"]

    def _head(self, name: str, doing: str) -> int | None:
        """The object's size, or None when it does not exist."""
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _MISSING:
                return None
            raise StorageError(reason_for(exc, doing)) from exc
        except _TRANSPORT_ERRORS as exc:
            raise StorageError(reason_for(exc, doing)) from exc
        return int(response["ContentLength"])

    def _call(self, doing: str, method: Any, name: str) -> None:
        try:
            method(Bucket=self.bucket, Key=name)
        except (ClientError, *_TRANSPORT_ERRORS) as exc:
            raise StorageError(reason_for(exc, doing)) from exc

    # --- links ----------------------------------------------------------------

    async def presigned_url(
        self,
        key: str,
        *,
        expires_seconds: int,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """A URL anyone holding it may GET the object at for `expires_seconds` (1 s to 7
        days), answered with `content_type` and, given a `filename`, as an attachment of
        that name. Signed locally: no request to S3, and no check that the object exists."""
        name = self.object_key(key)
        if not 1 <= expires_seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError(
                f"presigned URLs live 1 to {MAX_PRESIGN_SECONDS} seconds; got {expires_seconds}"
            )
        params: dict[str, str] = {"Bucket": self.bucket, "Key": name}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        if content_type is not None:
            params["ResponseContentType"] = content_type
        try:
            # In a thread: without static keys, signing may first fetch credentials.
            return await asyncio.to_thread(
                self._client.generate_presigned_url,
                "get_object",
                Params=params,
                ExpiresIn=expires_seconds,
            )
        except (ClientError, *_TRANSPORT_ERRORS) as exc:
            raise StorageError(reason_for(exc, "presign")) from exc

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)
