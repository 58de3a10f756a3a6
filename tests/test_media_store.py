"""The media store contract, on both stores: `LocalMediaStore` in a temp directory and
`S3MediaStore` against moto's S3 server over real HTTP (one server per module, a fresh
bucket per test). Then what only one of them has: the local layout and a real disk-full
(a file size limit in a child process), S3 multipart, prefixes, presigned links and a
backend that is down."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from pydantic import ValidationError

from backchannel.config import load_settings
from backchannel.media import build_media_store
from backchannel.media.local import LocalMediaStore
from backchannel.media.s3 import S3MediaStore
from backchannel.media.store import MediaNotFound, StorageError, Stored, content_key

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"access_key_id": "test-key-id", "secret_access_key": "test-secret-do-not-log"}
MIB = 1024 * 1024
DATA = bytes(i % 251 for i in range(1000))
BAD_KEYS = [
    "../etc/passwd",
    "sha256/../../../etc/passwd",
    "sha256/XYZ",
    "sha256/" + "A" * 64,
    "sha256/" + "a" * 63,
    "sha256/" + "a" * 65,
    "sha256/" + "a" * 64 + "\n",
    "sha256/" + "g" * 64,
    "/sha256/" + "a" * 64,
    "md5/" + "a" * 32,
    "a" * 64,
    "",
]


def key_of(data: bytes) -> str:
    return "sha256/" + hashlib.sha256(data).hexdigest()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3_admin(s3_endpoint: str) -> Any:
    """A client of our own, to make buckets and look at what the store left in them."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS["access_key_id"],
        aws_secret_access_key=KEYS["secret_access_key"],
    )


def new_bucket(admin: Any) -> str:
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    admin.create_bucket(Bucket=bucket)
    return bucket


def s3_store(endpoint: str, bucket: str, **options: Any) -> S3MediaStore:
    return S3MediaStore(bucket, endpoint_url=endpoint, **KEYS, **options)


@dataclass
class Backend:
    store: LocalMediaStore | S3MediaStore
    admin: Any = None

    def contents(self) -> list[str]:
        """Every name the backend holds: objects, temp files, unfinished uploads."""
        if isinstance(self.store, LocalMediaStore):
            root = self.store.root
            return sorted(
                str(Path(here, name).relative_to(root))
                for here, _, names in os.walk(root)
                for name in names
            )
        bucket = self.store.bucket
        listed = self.admin.list_objects_v2(Bucket=bucket).get("Contents", [])
        uploads = self.admin.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return sorted([o["Key"] for o in listed] + [f"upload:{u['Key']}" for u in uploads])

    def names_of(self, key: str) -> list[str]:
        if isinstance(self.store, LocalMediaStore):
            return [str(self.store.path_of(key).relative_to(self.store.root))]
        return [self.store.object_key(key)]


@pytest.fixture(params=["local", "s3"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "local":
        made = Backend(LocalMediaStore(tmp_path / "media"))
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        admin = request.getfixturevalue("s3_admin")
        # A low threshold, so that the 5 MiB case below goes up as a multipart upload.
        store = s3_store(endpoint, new_bucket(admin), multipart_threshold=5 * MIB)
        made = Backend(store, admin)
    yield made
    await made.store.close()


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / f"upload-{uuid.uuid4().hex}"
    path.write_bytes(data)
    return path


async def read(store: Any, key: str, **bounds: Any) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, **bounds)])


# --- the contract ---------------------------------------------------------------------------


async def test_put_then_read_whole_and_by_ranges(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    stored = await store.put_file(write(tmp_path, DATA), content_type="text/plain")
    assert stored == Stored(key_of(DATA), len(DATA))
    assert await read(store, stored.key) == DATA
    n = len(DATA)
    for start, end in [(0, 1), (10, 20), (0, n), (n - 1, n), (n - 1, None), (500, None)]:
        assert await read(store, stored.key, start=start, end=end) == DATA[start:end]


async def test_ranges_are_clamped_to_the_object(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    key = (await store.put_file(write(tmp_path, DATA), content_type="text/plain")).key
    n = len(DATA)
    assert await read(store, key, start=5, end=5) == b""  # empty range
    assert await read(store, key, start=n - 10, end=n + 100) == DATA[-10:]  # end past the end
    assert await read(store, key, start=n) == b""  # start at the end
    assert await read(store, key, start=n + 5, end=n + 10) == b""  # start past the end
    for bounds in [{"start": -1}, {"start": 10, "end": 9}, {"chunk_size": 0}]:
        with pytest.raises(ValueError, match="media read needs"):
            store.read(key, **bounds)


async def test_an_empty_file_is_an_object_too(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    stored = await store.put_file(write(tmp_path, b""), content_type="text/plain")
    assert stored == Stored(key_of(b""), 0)
    assert await store.exists(stored.key) and await store.size(stored.key) == 0
    assert await read(store, stored.key) == b""
    assert await read(store, stored.key, start=0, end=10) == b""


async def test_same_bytes_twice_are_one_object(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    first = await store.put_file(write(tmp_path, DATA), content_type="text/plain")
    second = await store.put_file(write(tmp_path, DATA), content_type="application/octet-stream")
    assert first == second
    assert backend.contents() == backend.names_of(first.key)


async def test_exists_size_and_a_missing_object(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    missing = key_of(b"never stored")
    assert not await store.exists(missing)
    with pytest.raises(MediaNotFound):
        await store.size(missing)
    with pytest.raises(MediaNotFound):
        await read(store, missing)
    with pytest.raises(MediaNotFound):
        await read(store, missing, start=3, end=3)
    stored = await store.put_file(write(tmp_path, DATA), content_type="text/plain")
    assert await store.exists(stored.key)
    assert await store.size(stored.key) == len(DATA)


async def test_delete_is_idempotent(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    stored = await store.put_file(write(tmp_path, DATA), content_type="text/plain")
    await store.delete(stored.key)
    assert not await store.exists(stored.key)
    await store.delete(stored.key)
    await store.delete(key_of(b"never stored"))
    assert backend.contents() == []
    again = await store.put_file(write(tmp_path, DATA), content_type="text/plain")
    assert await read(store, again.key) == DATA


async def test_bad_keys_are_refused(backend: Backend) -> None:
    store = backend.store
    for key in BAD_KEYS:
        with pytest.raises(ValueError, match="64 lowercase hex digits"):
            await store.exists(key)
        with pytest.raises(ValueError):
            await store.size(key)
        with pytest.raises(ValueError):
            store.read(key)
        with pytest.raises(ValueError):
            await store.delete(key)
    assert backend.contents() == []


@pytest.mark.parametrize("kind", ["local", "s3"])
async def test_bad_keys_are_refused_before_any_io(kind: str, tmp_path: Path) -> None:
    """On stores whose every I/O fails (a root beneath a regular file; a closed port), a
    bad key is still a ValueError: it was refused before anything was touched."""
    if kind == "local":
        (tmp_path / "a-file").write_bytes(b"")
        store: Any = LocalMediaStore(tmp_path / "a-file" / "media")
    else:
        store = s3_store(f"http://127.0.0.1:{closed_port()}", "media", max_attempts=1)
    for key in BAD_KEYS:
        for call in (store.exists, store.size, store.delete):
            with pytest.raises(ValueError, match="64 lowercase hex digits"):
                await call(key)
        with pytest.raises(ValueError):
            store.read(key)
    with pytest.raises(StorageError):  # and a good key does reach the (broken) storage
        await store.size(key_of(DATA))
    await store.close()


async def test_a_large_file_streams_in_bounded_chunks(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    data = os.urandom(5 * MIB + 4321)
    stored = await store.put_file(write(tmp_path, data), content_type="video/mp4")
    assert stored == Stored(key_of(data), len(data))
    chunk_size = 64 * 1024
    chunks = [chunk async for chunk in store.read(stored.key, chunk_size=chunk_size)]
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
    assert len(chunks) >= len(data) // chunk_size
    assert b"".join(chunks) == data
    start, end = 3 * MIB - 7, 4 * MIB + 11
    middle = [c async for c in store.read(stored.key, start=start, end=end, chunk_size=100_000)]
    assert all(len(chunk) <= 100_000 for chunk in middle)
    assert b"".join(middle) == data[start:end]
    assert backend.contents() == backend.names_of(stored.key)  # no parts, temp files left


async def test_an_abandoned_read_is_closed(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    key = (await store.put_file(write(tmp_path, DATA), content_type="text/plain")).key
    chunks: Any = store.read(key, chunk_size=10)
    assert await anext(chunks) == DATA[:10]
    await chunks.aclose()
    assert await read(store, key) == DATA


async def test_parallel_puts_of_the_same_bytes(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    data = os.urandom(MIB)
    paths = [write(tmp_path, data) for _ in range(20)]
    results = await asyncio.gather(
        *(store.put_file(path, content_type="image/png") for path in paths)
    )
    assert set(results) == {Stored(key_of(data), len(data))}
    assert backend.contents() == backend.names_of(key_of(data))
    assert await read(backend.store, key_of(data)) == data


# --- local ----------------------------------------------------------------------------------


async def test_local_layout_and_mode(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path / "media")
    stored = await store.put_file(write(tmp_path, DATA), content_type="text/plain")
    hex_ = stored.key.removeprefix("sha256/")
    path = tmp_path / "media" / "sha256" / hex_[:2] / hex_[2:4] / hex_
    assert store.path_of(stored.key) == path
    assert path.read_bytes() == DATA
    assert path.stat().st_mode & 0o777 == 0o640


DISK_FULL = """
import asyncio, json, resource, signal, sys
from pathlib import Path

from backchannel.media.local import LocalMediaStore
from backchannel.media.store import StorageError

root, big, small, limit = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
# Past `limit` bytes the kernel refuses to grow any file of this process: EFBIG (the
# signal it would send first is ignored, as a server would).
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


async def main():
    store = LocalMediaStore(root)
    out = {}
    try:
        await store.put_file(big, content_type="video/mp4")
        out["big"] = "stored"
    except StorageError as exc:
        out["big"] = exc.reason
        out["errno"] = getattr(exc.__cause__, "errno", None)
    out["small"] = (await store.put_file(small, content_type="text/plain")).key
    print(json.dumps(out))


asyncio.run(main())
"""


def test_local_disk_full_leaves_nothing_behind(tmp_path: Path) -> None:
    """A real kernel error: the put runs in a child process with RLIMIT_FSIZE of 1 MiB,
    so writing the 3 MiB file fails with EFBIG part-way."""
    big = write(tmp_path, os.urandom(3 * MIB))
    small = write(tmp_path, DATA)
    root = tmp_path / "media"
    done = subprocess.run(
        [sys.executable, "-B", "-c", DISK_FULL, str(root), str(big), str(small), str(MIB)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["errno"] == errno.EFBIG
    assert out["big"] == "file too large for the media volume (file size limit)"
    assert out["small"] == key_of(DATA)  # the store still works
    backend = Backend(LocalMediaStore(root))
    assert backend.contents() == backend.names_of(key_of(DATA))  # no temp file, no big one


async def test_local_bytes_that_do_not_match_their_key_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy is hashed again: a file that changed after it was hashed is not stored
    under a key that is not its own (simulated by a wrong first hash)."""
    import backchannel.media.local as local

    monkeypatch.setattr(local, "content_key", lambda path: (key_of(b"other"), len(DATA)))
    store = LocalMediaStore(tmp_path / "media")
    with pytest.raises(StorageError, match="changed while"):
        await store.put_file(write(tmp_path, DATA), content_type="text/plain")
    assert Backend(store).contents() == []


# --- S3 -------------------------------------------------------------------------------------


async def test_s3_large_files_go_up_in_parts(
    s3_endpoint: str, s3_admin: Any, tmp_path: Path
) -> None:
    bucket = new_bucket(s3_admin)
    store = s3_store(s3_endpoint, bucket, multipart_threshold=5 * MIB)
    data = os.urandom(5 * MIB + 1)
    stored = await store.put_file(write(tmp_path, data), content_type="video/mp4")
    head = s3_admin.head_object(Bucket=bucket, Key=stored.key)
    assert head["ETag"].endswith('-2"')  # a multipart upload of two parts
    assert head["ContentType"] == "video/mp4"
    await store.close()


async def test_s3_prefix(s3_endpoint: str, s3_admin: Any, tmp_path: Path) -> None:
    bucket = new_bucket(s3_admin)
    store = s3_store(s3_endpoint, bucket, prefix="/tenant-a")
    stored = await store.put_file(write(tmp_path, DATA), content_type="text/plain")
    listed = s3_admin.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [f"tenant-a/{stored.key}"]
    assert await read(store, stored.key, start=1, end=3) == DATA[1:3]
    await store.close()


async def test_s3_presigned_url(s3_endpoint: str, s3_admin: Any, tmp_path: Path) -> None:
    store = s3_store(s3_endpoint, new_bucket(s3_admin))
    stored = await store.put_file(write(tmp_path, DATA), content_type="application/octet-stream")
    url = await store.presigned_url(
        stored.key, expires_seconds=60, filename='Ré"port.pdf', content_type="application/pdf"
    )
    assert KEYS["secret_access_key"] not in url
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200 and response.content == DATA
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition == "attachment; filename=\"Rport.pdf\"; filename*=UTF-8''R%C3%A9%22port.pdf"
    with pytest.raises(ValueError, match="presigned URLs live"):
        await store.presigned_url(stored.key, expires_seconds=8 * 86400)
    with pytest.raises(ValueError, match="64 lowercase hex digits"):
        await store.presigned_url("../x", expires_seconds=60)
    await store.close()


async def test_s3_missing_bucket_is_a_storage_error(s3_endpoint: str, tmp_path: Path) -> None:
    store = s3_store(s3_endpoint, "no-such-bucket")
    with pytest.raises(StorageError, match="bucket does not exist"):
        await store.put_file(write(tmp_path, DATA), content_type="text/plain")
    await store.close()


async def test_s3_backend_down_is_a_quick_storage_error(tmp_path: Path) -> None:
    store = s3_store(
        f"http://127.0.0.1:{closed_port()}",
        "media",
        connect_timeout=0.5,
        read_timeout=0.5,
        max_attempts=1,
    )
    path = write(tmp_path, DATA)
    began = time.monotonic()
    failures = []
    for attempt in (
        store.put_file(path, content_type="text/plain"),
        store.exists(key_of(DATA)),
        store.size(key_of(DATA)),
        read(store, key_of(DATA)),
        store.delete(key_of(DATA)),
    ):
        with pytest.raises(StorageError) as caught:
            await attempt
        failures.append(caught.value.reason)
    assert time.monotonic() - began < 5
    assert all("EndpointConnectionError" in reason for reason in failures), failures
    assert not any(KEYS["secret_access_key"] in reason for reason in failures)
    assert KEYS["secret_access_key"] not in repr(store)
    await store.close()


# --- building one from the settings ---------------------------------------------------------


def test_build_media_store_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("BACKCHANNEL_")]:
        monkeypatch.delenv(name)
    local = build_media_store(load_settings(data_dir=tmp_path))
    assert isinstance(local, LocalMediaStore) and local.root == tmp_path / "media"
    settings = load_settings(
        data_dir=tmp_path,
        media_backend="s3",
        s3_bucket="media",
        s3_endpoint_url="http://minio:9000",
        s3_access_key_id="id",
        s3_secret_access_key="hunter2",
        s3_prefix="bc",
    )
    assert "hunter2" not in repr(settings)
    s3 = build_media_store(settings)
    assert isinstance(s3, S3MediaStore)
    assert (s3.bucket, s3.endpoint_url, s3.prefix) == ("media", "http://minio:9000", "bc/")
    assert "hunter2" not in repr(s3)
    with pytest.raises(ValidationError, match="s3_bucket must name the bucket"):
        load_settings(media_backend="s3")
    monkeypatch.setenv("BACKCHANNEL_S3_ACCESS_KEY_ID", "id")
    with pytest.raises(ValidationError, match="set both or neither"):
        load_settings()


def test_content_key(tmp_path: Path) -> None:
    assert content_key(write(tmp_path, DATA)) == (key_of(DATA), len(DATA))
