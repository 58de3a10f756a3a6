"""What the server knows about an uploaded file, and what it makes of it.

`inspect(path, ...)` sniffs the real type from the bytes (the rules are in
`backchannel.domain.media`), refuses what is dangerous, spoofed, too large or a
decompression bomb, and processes what it accepts:

- images are decoded by Pillow and re-encoded in their own format with nothing but pixels:
  EXIF (GPS, camera), XMP, IPTC, comments and trailing bytes are gone; the EXIF orientation
  is applied first; an ICC profile is converted to sRGB and dropped; animations keep their
  frames, durations and loop count;
- GIFs are not re-encoded: their metadata blocks (comments, XMP and ICC application
  extensions) and anything after the trailer are cut out byte by byte, so the animation
  stays exactly as it was;
- audio and video get a duration (mutagen; WebM from its own header, or by reading its
  clusters), video its size, a voice note a waveform (WAV here, anything else when ffmpeg
  is installed), a video a poster frame (only with ffmpeg);
- images, GIFs and video posters get a thumbnail and a blurhash placeholder;
- documents are stored as they are, under a safe name.

Synchronous and blocking: run it in a thread. It reads the file from disk and never holds
a whole video, audio file or document in memory (an image is decoded whole: its pixels are
bounded by `media_max_image_pixels`). ffmpeg and ffprobe are used when on the PATH, always
with the demuxer forced and only the file protocol allowed.
"""

from __future__ import annotations

import codecs
import functools
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import warnings
import zipfile
import zlib
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import blurhash
import mutagen
from mutagen.aac import AAC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from PIL import Image, ImageCms, JpegImagePlugin

from backchannel.domain import media
from backchannel.domain.media import Sniffed, check_waveform
from backchannel.errors import BackchannelError

if TYPE_CHECKING:
    from backchannel.config import Settings

__all__ = [
    "Derived",
    "Inspected",
    "StrippedGif",
    "check_waveform",
    "inspect",
    "sniff_ole2",
    "sniff_zip",
    "strip_gif",
]

JPEG_QUALITY = 90  # the cleaned image
THUMBNAIL_QUALITY = 80
BLURHASH_SIZE = 32  # the blurhash is computed from a picture this small
WAVEFORM_LEVELS = 64
TOOL_TIMEOUT_SECONDS = 60.0  # one ffmpeg or ffprobe run
MOOV_MAX_BYTES = 64 * 1024 * 1024
EBML_MASTER_MAX_BYTES = 4 * 1024 * 1024
EBML_SCAN_ELEMENTS = 2_000_000  # a WebM without a duration is read this far for one

_PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_DEMUXERS = {
    "video/mp4": "mp4",
    "audio/mp4": "mp4",
    "video/webm": "webm",
    "audio/webm": "webm",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/aac": "aac",
    "audio/wav": "wav",
}


@dataclass(frozen=True)
class Derived:
    """A file made from the upload, to be stored beside it."""

    path: Path  # a temp file next to the input; the caller stores and deletes it
    mime: str


@dataclass(frozen=True)
class Inspected:
    kind: str
    mime: str
    clean: Path | None  # images: the upload re-encoded without metadata; else None (as is)
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    waveform: list[int] | None = None  # voice notes: WAVEFORM_LEVELS levels 0..255
    blurhash: str | None = None
    thumbnail: Derived | None = None
    poster: Derived | None = None
    filename: str | None = None  # documents and audio files: a safe display name


class _Unreadable(Exception):
    """The bytes are not what they claim to be; the message says what is wrong."""


class _TooLong(Exception):
    """A WebM has too many blocks to read them all for its duration."""


def inspect(
    path: Path,
    *,
    declared_type: str | None,
    declared_kind: str | None,
    filename: str | None,
    settings: Settings,
) -> Inspected:
    """Inspect the upload at `path` (left in place). Files it returns (`clean`,
    `thumbnail`, `poster`) are temp files beside `path` for the caller to store and delete;
    when it raises, it leaves none behind."""
    size = path.stat().st_size
    if size == 0:
        raise BackchannelError("media_corrupt", "The file is empty.")
    if size > media.max_upload_bytes(settings):
        raise BackchannelError(
            "media_too_large",
            f"Uploads may be at most {media.max_upload_bytes(settings):,} bytes; this one is "
            f"{size:,}.",
        )
    head = _head(path)
    sniffed = media.sniff(head)
    probe = None
    with _reading(sniffed):
        sniffed = _whole_file_type(path, sniffed, declared_type, filename)
        if sniffed is not None and sniffed.family in ("audio", "video"):
            probe = _probe_av(path, sniffed, head)
            sniffed = media.av_type(sniffed, has_video=probe.has_video)
    kind = media.accept(
        sniffed,
        declared_type=declared_type,
        declared_kind=declared_kind,
        size=size,
        settings=settings,
    )
    assert sniffed is not None
    made: list[Path] = []
    try:
        with _reading(sniffed):
            return _process(path, sniffed, kind, probe, head, filename, settings, made)
    except BaseException:
        for leftover in made:
            leftover.unlink(missing_ok=True)
        raise


def _process(
    path: Path,
    sniffed: Sniffed,
    kind: str,
    probe: _Probe | None,
    head: bytes,
    filename: str | None,
    settings: Settings,
    made: list[Path],
) -> Inspected:
    if kind == "document":
        name = media.safe_filename(filename, sniffed.mime)
        return Inspected(kind, sniffed.mime, None, filename=name)
    if sniffed.mime == "image/gif":
        return _gif(path, kind, settings, made)
    if sniffed.family == "image":
        return _image(path, sniffed, kind, head, settings, made)
    assert probe is not None
    if sniffed.family == "video":
        return _video(path, sniffed, probe, settings, made)
    waveform = _waveform(path, sniffed, probe) if kind == "voice" else None
    name = media.safe_filename(filename, sniffed.mime) if kind == "audio" else None
    return Inspected(
        kind, sniffed.mime, None, duration_ms=probe.duration_ms, waveform=waveform, filename=name
    )


def _head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(media.HEAD_BYTES)


@contextmanager
def _reading(sniffed: Sniffed | None) -> Iterator[None]:
    """Parsers' complaints about the bytes become `media_corrupt`."""
    try:
        yield
    except (_Unreadable, mutagen.MutagenError, struct.error, EOFError) as exc:
        assert sniffed is not None
        reason = str(exc) if isinstance(exc, _Unreadable) else ""
        raise _corrupt(sniffed.mime, reason) from None


def _corrupt(mime: str, reason: str = "") -> BackchannelError:
    name = media.TYPES[mime].name if mime in media.TYPES else "a known format"
    detail = f": {reason}" if reason else ""
    return BackchannelError(
        "media_corrupt", f"The file looks like {name} but cannot be read{detail}."
    )


def _temp_beside(path: Path, suffix: str, made: list[Path]) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    made.append(Path(name))
    return Path(name)


# --- what the whole file says ---------------------------------------------------------------


def _whole_file_type(
    path: Path, sniffed: Sniffed | None, declared_type: str | None, filename: str | None
) -> Sniffed | None:
    if sniffed is None:
        return None
    if sniffed.mime in ("application/zip", media.ODT, media.ODS, media.ODP):
        return sniff_zip(path)
    if sniffed.mime == media.OLE2:
        return sniff_ole2(path)
    if sniffed.mime == "text/plain":
        _check_text(path)
        return media.text_type(declared_type, filename)
    return sniffed


def sniff_zip(path: Path) -> Sniffed:
    """What a ZIP file is: OOXML (by its `[Content_Types].xml`), OpenDocument (by its
    `mimetype` entry), an application package (refused) or a plain ZIP. Reads the central
    directory and at most two small entries, never the whole archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            content_types = _zip_entry(archive, "[Content_Types].xml", 1024 * 1024)
            mimetype = _zip_entry(archive, "mimetype", 200)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise _Unreadable("its ZIP directory is damaged") from None
    text = None if content_types is None else content_types.decode("utf-8", errors="replace")
    return media.zip_type(names, text, mimetype)


def _zip_entry(archive: zipfile.ZipFile, name: str, limit: int) -> bytes | None:
    try:
        with archive.open(name) as entry:
            return entry.read(limit)
    except (
        KeyError,
        RuntimeError,
        NotImplementedError,
        zipfile.BadZipFile,
        OSError,
        ValueError,
        EOFError,
        zlib.error,
    ):
        return None  # absent, encrypted or damaged: the ZIP is then just a ZIP


_OLE2_END = 0xFFFFFFFA  # sector numbers from here on are markers (end of chain, free, ...)


def sniff_ole2(path: Path) -> Sniffed:
    """What an OLE2 compound file is (Word, Excel, PowerPoint, or refused), from the names
    in its directory, followed through the file allocation table."""
    with path.open("rb") as file:
        return media.ole2_type(_ole2_names(file))


def _ole2_names(file: IO[bytes]) -> set[str]:
    header = file.read(512)
    if len(header) < 512:
        raise _Unreadable("its OLE2 header is truncated")
    shift = struct.unpack_from("<H", header, 0x1E)[0]
    if shift not in (9, 12):
        raise _Unreadable("its OLE2 sector size is invalid")
    sector_size = 1 << shift
    fat_sectors = struct.unpack_from("<109I", header, 0x4C)
    fat: dict[int, tuple[int, ...]] = {}

    def next_sector(sector: int) -> int:
        index, offset = divmod(sector, sector_size // 4)
        if index >= len(fat_sectors) or fat_sectors[index] >= _OLE2_END:
            return _OLE2_END
        if index not in fat:
            file.seek((fat_sectors[index] + 1) * sector_size)
            raw = file.read(sector_size).ljust(sector_size, b"\xff")
            fat[index] = struct.unpack(f"<{sector_size // 4}I", raw)
        return fat[index][offset]

    names: set[str] = set()
    sector, seen = struct.unpack_from("<I", header, 0x30)[0], set[int]()
    while sector < _OLE2_END and sector not in seen and len(seen) < 4096:
        seen.add(sector)
        file.seek((sector + 1) * sector_size)
        block = file.read(sector_size)
        for at in range(0, len(block) - 127, 128):
            length = struct.unpack_from("<H", block, at + 0x40)[0]
            if 2 <= length <= 64 and block[at + 0x42] in (1, 2, 5):
                names.add(block[at : at + length - 2].decode("utf-16-le", errors="replace"))
        sector = next_sector(sector)
    return names


def _check_text(path: Path) -> None:
    """Text all the way through: UTF-8 without NUL (the sniff saw only the start)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise _not_text(offset + exc.start) from None
            if b"\x00" in chunk:
                raise _not_text(offset + chunk.index(b"\x00"))
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _not_text(offset) from None


def _not_text(at: int) -> BackchannelError:
    return BackchannelError(
        "media_unsupported",
        f"The file starts as UTF-8 text but is not text throughout (byte {at}); text files "
        "must be UTF-8 without NUL characters.",
    )


# --- audio and video: tracks, size and duration ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Wav:
    format_tag: int  # 1: integer PCM, 3: float PCM
    channels: int
    rate: int
    byte_rate: int
    bits: int
    data_start: int
    data_size: int


@dataclass(frozen=True, slots=True)
class _Probe:
    has_video: bool
    duration_ms: int | None
    width: int | None = None
    height: int | None = None
    wav: _Wav | None = None


def _ms(seconds: float | None) -> int | None:
    return round(seconds * 1000) if seconds is not None and seconds > 0 else None


def _probe_av(path: Path, sniffed: Sniffed, head: bytes) -> _Probe:
    mime = sniffed.mime
    if mime in ("video/mp4", "audio/mp4"):
        probe = _probe_mp4(path)
    elif mime in ("video/webm", "audio/webm"):
        probe = _probe_webm(path)
    elif mime == "audio/wav":
        wav = _read_wav(path)
        probe = _Probe(False, wav.data_size * 1000 // wav.byte_rate or None, wav=wav)
    else:
        probe = _Probe(False, _mutagen_ms(path, mime, head))
    if probe.duration_ms is None or (probe.has_video and probe.width is None):
        probe = _with_ffprobe(path, sniffed, probe)
    return probe


def _mutagen_ms(path: Path, mime: str, head: bytes) -> int | None:
    if mime == "audio/mpeg":
        return _length(MP3(path))
    if mime == "audio/aac":
        return _length(AAC(path))
    return _length(OggOpus(path) if b"OpusHead" in head[:300] else OggVorbis(path))


def _length(file: mutagen.FileType) -> int | None:
    return _ms(file.info.length) if file.info is not None else None


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """The ISO BMFF boxes in data[start:end]: (type, payload start, box end)."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise _Unreadable(f"its {kind.decode('latin-1')!r} box overruns its container")
        yield kind, pos + header, pos + size
        pos += size


def _probe_mp4(path: Path) -> _Probe:
    moov = _read_moov(path)
    video, audio = None, False
    for kind, start, end in _boxes(moov, 0, len(moov)):
        if kind == b"trak":
            handler, size = _mp4_track(moov, start, end)
            audio = audio or handler == b"soun"
            if handler == b"vide" and video is None:
                video = size
    if video is None and not audio:
        raise _Unreadable("it has neither an audio nor a video track")
    width, height = video if video else (None, None)
    return _Probe(video is not None, _length(MP4(path)), width, height)


def _read_moov(path: Path) -> bytes:
    """The movie header box, after checking that the top-level boxes fill the file
    exactly (a cut-off file is corrupt, wherever its moov is)."""
    moov = None
    with path.open("rb") as file:
        end = file.seek(0, os.SEEK_END)
        pos = 0
        while pos + 8 <= end:
            file.seek(pos)
            header = file.read(16)
            size, kind = struct.unpack_from(">I4s", header)
            start = pos + 8
            if size == 1 and len(header) == 16:
                size, start = struct.unpack_from(">Q", header, 8)[0], pos + 16
            elif size == 0:
                size = end - pos
            if size < start - pos or pos + size > end:
                raise _Unreadable(f"its {kind.decode('latin-1')!r} box is cut off")
            if kind == b"moov" and moov is None:
                if size > MOOV_MAX_BYTES:
                    raise _Unreadable("its movie header is implausibly large")
                file.seek(start)
                moov = file.read(pos + size - start)
            pos += size
    if moov is None:
        raise _Unreadable("it has no movie header (moov box)")
    return moov


def _mp4_track(moov: bytes, start: int, end: int) -> tuple[bytes, tuple[int, int] | None]:
    """A track's handler (b"vide", b"soun", ...) and its display size (from tkhd)."""
    handler, size = b"", None
    for kind, at, stop in _boxes(moov, start, end):
        if kind == b"tkhd":
            size = _tkhd_size(moov[at:stop])
        elif kind == b"mdia":
            for inner, payload, _ in _boxes(moov, at, stop):
                if inner == b"hdlr":
                    handler = moov[payload + 8 : payload + 12]
    return handler, size


def _tkhd_size(tkhd: bytes) -> tuple[int, int] | None:
    matrix, size_at = (40, 76) if tkhd[:1] == b"\x00" else (52, 88)
    if len(tkhd) < size_at + 8:
        return None
    width, height = (value >> 16 for value in struct.unpack_from(">II", tkhd, size_at))
    a, b = struct.unpack_from(">ii", tkhd, matrix)
    if a == 0 and b != 0:  # turned a quarter: shown the other way round
        width, height = height, width
    return (width, height) if width and height else None


_EBML, _SEGMENT, _CLUSTER = 0x1A45DFA3, 0x18538067, 0x1F43B675
_INFO, _TRACKS, _TIMECODE_SCALE, _DURATION = 0x1549A966, 0x1654AE6B, 0x2AD7B1, 0x4489
_TRACK_ENTRY, _TRACK_TYPE, _VIDEO, _PIXEL_WIDTH, _PIXEL_HEIGHT = 0xAE, 0x83, 0xE0, 0xB0, 0xBA
_CLUSTER_TIMECODE, _SIMPLE_BLOCK, _BLOCK_GROUP, _BLOCK = 0xE7, 0xA3, 0xA0, 0xA1
# Children of a Segment: where a Cluster of unknown size ends.
_SEGMENT_LEVEL = {0x114D9B74, _INFO, _TRACKS, _CLUSTER, 0x1C53BB6B, 0x1254C367, 0x1941A469}
_SEGMENT_LEVEL |= {0x1043A770, _EBML}


def _vint(data: bytes, pos: int) -> tuple[int, int]:
    """The EBML variable-length integer at `pos`, without its length marker, and its length."""
    if pos >= len(data) or data[pos] == 0:
        raise _Unreadable("an element header is malformed")
    length = 9 - data[pos].bit_length()
    if pos + length > len(data):
        raise _Unreadable("an element header is truncated")
    value = data[pos] & (0xFF >> length)
    for byte in data[pos + 1 : pos + length]:
        value = value << 8 | byte
    return value, length


def _element(data: bytes, pos: int) -> tuple[int, int | None, int]:
    """(id, size or None when unknown, data start) of the EBML element at `pos`."""
    _, id_length = _vint(data, pos)
    if id_length > 4:
        raise _Unreadable("an element id is malformed")
    size, size_length = _vint(data, pos + id_length)
    unknown = size == (1 << (7 * size_length)) - 1
    return (
        int.from_bytes(data[pos : pos + id_length], "big"),
        None if unknown else size,
        (pos + id_length + size_length),
    )


def _file_element(file: IO[bytes], pos: int) -> tuple[int, int | None, int]:
    file.seek(pos)
    element_id, size, start = _element(file.read(12), 0)
    return element_id, size, pos + start


def _read(file: IO[bytes], pos: int, size: int) -> bytes:
    if size > EBML_MASTER_MAX_BYTES:
        raise _Unreadable("a header element is implausibly large")
    file.seek(pos)
    data = file.read(size)
    if len(data) < size:
        raise _Unreadable("it is truncated")
    return data


def _children(data: bytes) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos < len(data):
        element_id, size, start = _element(data, pos)
        if size is None or start + size > len(data):
            raise _Unreadable("an element overruns its parent")
        yield element_id, data[start : start + size]
        pos = start + size


def _probe_webm(path: Path) -> _Probe:
    with path.open("rb") as file:
        end = file.seek(0, os.SEEK_END)
        element_id, size, start = _file_element(file, 0)
        if element_id != _EBML or size is None:
            raise _Unreadable("its EBML header is malformed")
        element_id, size, start = _file_element(file, start + size)
        if element_id != _SEGMENT:
            raise _Unreadable("it has no Segment")
        return _webm_segment(file, start, end if size is None else min(start + size, end))


def _webm_segment(file: IO[bytes], pos: int, stop: int) -> _Probe:
    scale, duration, tracks, latest = 1_000_000, None, None, None
    budget = [EBML_SCAN_ELEMENTS]
    while pos < stop:
        element_id, size, start = _file_element(file, pos)
        if element_id == _CLUSTER:
            if duration is not None and tracks is not None:
                break
            try:
                pos, last = _webm_cluster(file, start, size, stop, budget)
            except _TooLong:
                latest = None  # a duration read from part of the file would be wrong
                break
            latest = last if latest is None or (last is not None and last > latest) else latest
            continue
        if size is None:
            raise _Unreadable("an element of unknown size is not a Cluster")
        if element_id == _INFO:
            scale, duration = _webm_info(_read(file, start, size))
        elif element_id == _TRACKS:
            tracks = _webm_tracks(_read(file, start, size))
        pos = start + size
    if not tracks:
        raise _Unreadable("it has no tracks")
    video = next((track for track in tracks if track[0] == 1), None)
    if video is None and not any(track[0] == 2 for track in tracks):
        raise _Unreadable("it has neither an audio nor a video track")
    ticks = duration if duration is not None else latest
    duration_ms = _ms(ticks * scale / 1e9) if ticks is not None else None
    width, height = (video[1] or None, video[2] or None) if video else (None, None)
    return _Probe(video is not None, duration_ms, width, height)


def _uint(data: bytes) -> int:
    return int.from_bytes(data, "big")


def _webm_info(data: bytes) -> tuple[int, float | None]:
    scale, duration = 1_000_000, None
    for element_id, value in _children(data):
        if element_id == _TIMECODE_SCALE and value:
            scale = _uint(value)
        elif element_id == _DURATION and len(value) in (4, 8):
            duration = struct.unpack(">f" if len(value) == 4 else ">d", value)[0]
    return scale, duration


def _webm_tracks(data: bytes) -> list[tuple[int, int, int]]:
    """(track type, pixel width, pixel height) of each track: type 1 video, 2 audio."""
    tracks = []
    for element_id, entry in _children(data):
        if element_id != _TRACK_ENTRY:
            continue
        kind = width = height = 0
        for inner, value in _children(entry):
            if inner == _TRACK_TYPE:
                kind = _uint(value)
            elif inner == _VIDEO:
                sizes = dict(_children(value))
                width = _uint(sizes.get(_PIXEL_WIDTH, b""))
                height = _uint(sizes.get(_PIXEL_HEIGHT, b""))
        tracks.append((kind, width, height))
    return tracks


def _webm_cluster(
    file: IO[bytes], pos: int, size: int | None, stop: int, budget: list[int]
) -> tuple[int, int | None]:
    """Read a Cluster's block headers: (where it ends, its latest block time in ticks).
    A Cluster of unknown size (live recordings) ends where a Segment-level element starts."""
    end = stop if size is None else min(pos + size, stop)
    timecode, latest = 0, None
    while pos < end:
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooLong
        element_id, child_size, start = _file_element(file, pos)
        if size is None and element_id in _SEGMENT_LEVEL:
            return pos, latest
        if child_size is None:
            raise _Unreadable("a block of unknown size")
        if element_id == _CLUSTER_TIMECODE:
            timecode = _uint(_read(file, start, child_size))
        elif element_id in (_SIMPLE_BLOCK, _BLOCK_GROUP):
            at = _block_time(file, start, child_size, group=element_id == _BLOCK_GROUP)
            if at is not None and (latest is None or timecode + at > latest):
                latest = timecode + at
        pos = start + child_size
    return end, latest


def _block_time(file: IO[bytes], pos: int, size: int, *, group: bool) -> int | None:
    if group:  # find the Block inside the BlockGroup
        end = pos + size
        while pos < end:
            element_id, child_size, start = _file_element(file, pos)
            if child_size is None:
                return None
            if element_id == _BLOCK:
                return _block_time(file, start, child_size, group=False)
            pos = start + child_size
        return None
    file.seek(pos)
    header = file.read(10)
    _, length = _vint(header, 0)  # the track number
    return int(struct.unpack_from(">h", header, length)[0])


def _read_wav(path: Path) -> _Wav:
    with path.open("rb") as file:
        end = file.seek(0, os.SEEK_END)
        pos, fmt = 12, None
        while pos + 8 <= end:
            file.seek(pos)
            chunk, size = struct.unpack("<4sI", file.read(8))
            if chunk == b"fmt ":
                raw = file.read(min(size, 64))
                tag, channels, rate, byte_rate, _, bits = struct.unpack_from("<HHIIHH", raw)
                if tag == 0xFFFE and len(raw) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format
                    tag = struct.unpack_from("<H", raw, 24)[0]
                if not channels or not rate or not byte_rate:
                    raise _Unreadable("its format chunk is invalid")
                fmt = (tag, channels, rate, byte_rate, bits)
            elif chunk == b"data":
                if fmt is None:
                    raise _Unreadable("its audio comes before its format")
                # Recorders that stream leave the size at 0 or 0xFFFFFFFF: the file decides.
                available = end - pos - 8
                return _Wav(*fmt, pos + 8, min(size, available) if size else available)
            pos += 8 + size + (size & 1)
    raise _Unreadable("it has no audio data")


def _with_ffprobe(path: Path, sniffed: Sniffed, probe: _Probe) -> _Probe:
    """Fill in what the headers did not say (a WebM's duration, say) with ffprobe."""
    found = _run_ffprobe(path, sniffed)
    if found is None:
        return probe
    duration = probe.duration_ms
    with suppress(TypeError, ValueError, AttributeError):
        duration = duration or _ms(float(found.get("format", {}).get("duration", 0)))
    width, height = probe.width, probe.height
    for stream in found.get("streams", []):
        if stream.get("codec_type") == "video" and width is None:
            width, height = stream.get("width"), stream.get("height")
    ok = isinstance(width, int) and isinstance(height, int)
    return _Probe(probe.has_video, duration, width if ok else None, height if ok else None)


def _run_ffprobe(path: Path, sniffed: Sniffed) -> dict[str, Any] | None:
    tool = shutil.which("ffprobe")
    if tool is None:
        return None
    command = [tool, "-v", "error", "-protocol_whitelist", "file", "-f", _DEMUXERS[sniffed.mime]]
    command += ["-print_format", "json", "-show_entries"]
    command += ["format=duration:stream=codec_type,width,height", f"file:{path}"]
    try:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, timeout=TOOL_TIMEOUT_SECONDS
        )
        found = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return found if isinstance(found, dict) else None


# --- voice notes: the waveform -------------------------------------------------------------------


def _waveform(path: Path, sniffed: Sniffed, probe: _Probe) -> list[int] | None:
    """WAVEFORM_LEVELS levels 0..255 (the loudest is 255), from the decoded samples: a
    PCM WAV is read directly, anything else needs ffmpeg; None when neither can."""
    wav = probe.wav
    if wav is not None and (wav.format_tag, wav.bits) in _PCM_DECODERS:
        frame = wav.channels * wav.bits // 8
        frames_per_block = max(1, -(-wav.data_size // frame // (WAVEFORM_LEVELS * 4)))
        with path.open("rb") as file:
            file.seek(wav.data_start)
            chunks = _limited(file, wav.data_size)
            peaks = _peaks(chunks, (wav.format_tag, wav.bits), frames_per_block * frame)
        return _levels(peaks)
    return _ffmpeg_waveform(path, sniffed)


def _int24(raw: bytes) -> array[int]:
    """24-bit little-endian samples as 16-bit ones (their two high bytes)."""
    count = len(raw) // 3
    wide = bytearray(count * 2)
    wide[0::2], wide[1::2] = raw[1 : count * 3 : 3], raw[2 : count * 3 : 3]
    samples = array("h", bytes(wide))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _native(samples: array[int] | array[float]) -> array[int] | array[float]:
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


# (format tag, bits) -> (decoder of little-endian bytes, the value of silence)
_PCM_DECODERS: dict[tuple[int, int], tuple[Callable[[bytes], Sequence[float]], int]] = {
    (1, 8): (bytes, 128),
    (1, 16): (lambda raw: _native(array("h", raw)), 0),
    (1, 24): (_int24, 0),
    (1, 32): (lambda raw: _native(array("i", raw)), 0),
    (3, 32): (lambda raw: _native(array("f", raw)), 0),
}


def _limited(file: IO[bytes], size: int) -> Iterator[bytes]:
    while size > 0 and (chunk := file.read(min(size, 1024 * 1024))):
        size -= len(chunk)
        yield chunk


def _peaks(chunks: Iterator[bytes], sample: tuple[int, int], block: int) -> list[float]:
    """The peak level of each `block` bytes of PCM."""
    decode, silence = _PCM_DECODERS[sample]
    width = sample[1] // 8
    block -= block % width
    peaks: list[float] = []
    pending = b""
    for chunk in chunks:
        pending += chunk
        whole = len(pending) - len(pending) % block
        for at in range(0, whole, block):
            samples = decode(pending[at : at + block])
            peaks.append(max(max(samples) - silence, silence - min(samples)))
        pending = pending[whole:]
    pending = pending[: len(pending) - len(pending) % width]
    if pending:
        samples = decode(pending)
        peaks.append(max(max(samples) - silence, silence - min(samples)))
    return peaks


def _levels(peaks: list[float]) -> list[int] | None:
    if not peaks:
        return None
    count = min(WAVEFORM_LEVELS, len(peaks))
    bins = [
        max(peaks[i * len(peaks) // count : (i + 1) * len(peaks) // count]) for i in range(count)
    ]
    top = max(bins)
    return [min(255, round(255 * value / top)) if top > 0 else 0 for value in bins]


def _ffmpeg_waveform(path: Path, sniffed: Sniffed) -> list[int] | None:
    tool = shutil.which("ffmpeg")
    if tool is None:
        return None
    command = [tool, "-nostdin", "-v", "error", "-protocol_whitelist", "file"]
    command += ["-f", _DEMUXERS[sniffed.mime], "-i", f"file:{path}", "-map", "0:a:0"]
    command += ["-ac", "1", "-ar", "8000", "-c:a", "pcm_s16le", "-f", "s16le", "pipe:1"]
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
    except OSError:
        return None
    assert process.stdout is not None
    timer = threading.Timer(TOOL_TIMEOUT_SECONDS, process.kill)
    timer.start()
    try:
        chunks = iter(lambda: process.stdout.read(64 * 1024) if process.stdout else b"", b"")
        peaks = _peaks(chunks, (1, 16), 80 * 2)  # 10 ms blocks
    finally:
        timer.cancel()
        process.stdout.close()
        code = process.wait()
    return _levels(peaks) if code == 0 else None


# --- video: the poster frame ------------------------------------------------------------------


def _video(
    path: Path, sniffed: Sniffed, probe: _Probe, settings: Settings, made: list[Path]
) -> Inspected:
    width, height = probe.width, probe.height
    poster = _ffmpeg_poster(path, sniffed, probe.duration_ms, made)
    picture = _decode_poster(poster, settings) if poster else None
    thumbnail = hashed = None
    if poster is not None and picture is None:
        poster.unlink(missing_ok=True)
        made.remove(poster)
    if poster is not None and picture is not None:
        width, height = width or picture.width, height or picture.height
        thumbnail, hashed = _thumbnail(picture, path, settings, made), _blurhash(picture)
    return Inspected(
        "video",
        sniffed.mime,
        None,
        width=width,
        height=height,
        duration_ms=probe.duration_ms,
        blurhash=hashed,
        thumbnail=thumbnail,
        poster=Derived(poster, "image/jpeg") if picture is not None and poster else None,
    )


def _ffmpeg_poster(
    path: Path, sniffed: Sniffed, duration_ms: int | None, made: list[Path]
) -> Path | None:
    tool = shutil.which("ffmpeg")
    if tool is None:
        return None
    out = _temp_beside(path, ".poster.jpg", made)
    at = min(1.0, duration_ms / 2000) if duration_ms else 0.0
    command = [tool, "-nostdin", "-v", "error", "-y", "-protocol_whitelist", "file"]
    command += ["-ss", f"{at:.3f}", "-f", _DEMUXERS[sniffed.mime], "-i", f"file:{path}"]
    command += ["-map", "0:v:0", "-frames:v", "1", "-an", "-f", "image2", "-c:v", "mjpeg"]
    command += ["-q:v", "3", "-update", "1", f"file:{out}"]  # one picture, not a pattern
    try:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, timeout=TOOL_TIMEOUT_SECONDS
        )
        ok = done.returncode == 0 and out.stat().st_size > 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    if not ok:
        out.unlink(missing_ok=True)
        made.remove(out)
    return out if ok else None


def _decode_poster(poster: Path, settings: Settings) -> Image.Image | None:
    try:
        with _decoding("image/jpeg"), Image.open(poster, formats=["JPEG"]) as img:
            media.check_pixels(img.width, img.height, settings=settings)
            return img.convert("RGB")
    except BackchannelError:
        return None  # a frame ffmpeg made that we cannot use: no poster, the video stays


# --- images ---------------------------------------------------------------------------------


@contextmanager
def _decoding(mime: str) -> Iterator[None]:
    """Pillow's complaints become `media_corrupt`; its decompression-bomb warning (more
    than Image.MAX_IMAGE_PIXELS) is an error here, and `media_bomb` like its error. Its
    other warnings (corrupt EXIF, say) are ignored: the metadata is dropped anyway.

    The warning filters are process-wide while this block runs (Python 3.11's
    `catch_warnings` is not thread-local): another thread may briefly see them too, or
    restore them early — harmless, since `check_pixels` runs before any decoding."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise BackchannelError(
                "media_bomb",
                f"The image has more pixels than Pillow decodes ({Image.MAX_IMAGE_PIXELS:,}).",
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError):
            raise _corrupt(mime) from None


_ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass
class _Pictures:
    frames: list[Image.Image]  # oriented, sRGB, without metadata
    durations: list[int]
    loop: int


def _image(
    path: Path, sniffed: Sniffed, kind: str, head: bytes, settings: Settings, made: list[Path]
) -> Inspected:
    fmt = _PILLOW_FORMATS[sniffed.mime]
    with _decoding(sniffed.mime), Image.open(path, formats=[fmt]) as img:
        media.check_pixels(img.width, img.height, settings=settings)
        # A JPEG's further pictures (MPO: a phone's depth map or HDR gain map) are dropped.
        frames = 1 if fmt == "JPEG" else getattr(img, "n_frames", 1)
        if frames > 1:
            media.check_frames(frames, settings)
            media.check_pixels(img.width, img.height, frames=frames, settings=settings)
        pictures = _decode(img, fmt, frames)
        sampling = JpegImagePlugin.get_sampling(img) if fmt == "JPEG" else -1
    clean = _temp_beside(path, f".clean.{fmt.lower()}", made)
    options = _save_options(fmt, pictures, sampling=sampling, lossless=_webp_lossless(head))
    pictures.frames[0].save(clean, format=fmt, **options)
    first = pictures.frames[0]
    return Inspected(
        kind,
        sniffed.mime,
        clean,
        width=first.width,
        height=first.height,
        blurhash=_blurhash(first),
        thumbnail=_thumbnail(first, path, settings, made),
    )


def _decode(img: Image.Image, fmt: str, frames: int) -> _Pictures:
    """Every frame, turned upright (EXIF orientation), in sRGB, stripped of metadata."""
    img.load()  # a PNG's EXIF may follow its pixels
    turn = _ORIENTATIONS.get(img.getexif().get(0x0112, 1))
    if frames == 1:
        picture = img.transpose(turn) if turn is not None else img.copy()
        return _Pictures([_plain(picture, img.info, fmt)], [], 0)
    out, durations = [], []
    for index in range(frames):
        img.seek(index)
        frame = img.convert("RGBA")
        frame = frame.transpose(turn) if turn is not None else frame
        frame.info = {}
        out.append(frame)
        durations.append(int(img.info.get("duration", 0)))
    return _Pictures(out, durations, int(img.info.get("loop", 0)))


_SAVABLE_MODES = {
    "JPEG": ("L", "RGB"),
    "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"),
    "WEBP": ("RGB", "RGBA"),
}


def _plain(picture: Image.Image, info: Mapping[Any, Any], fmt: str) -> Image.Image:
    """The pixels alone: an ICC profile applied (to sRGB), every metadata key dropped."""
    icc = info.get("icc_profile")
    if isinstance(icc, bytes) and icc and picture.mode in ("RGB", "RGBA", "CMYK"):
        picture = _to_srgb(picture, icc)
    if picture.mode not in _SAVABLE_MODES[fmt]:
        alpha = "A" in picture.mode or "transparency" in info
        picture = picture.convert("RGBA" if alpha and fmt != "JPEG" else "RGB")
    transparency = info.get("transparency")
    picture.info = {}
    if transparency is not None and picture.mode in ("1", "L", "P", "RGB"):
        picture.info["transparency"] = transparency
    return picture


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(picture: Image.Image, icc: bytes) -> Image.Image:
    mode = "RGBA" if picture.mode == "RGBA" else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(picture, source, _srgb(), outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return picture  # an unusable profile: the pixels are taken as sRGB
    return converted if converted is not None else picture


def _webp_lossless(head: bytes) -> bool:
    lossy, lossless = head.find(b"VP8 ", 12), head.find(b"VP8L", 12)
    return lossless >= 0 and (lossy < 0 or lossless < lossy)


def _save_options(
    fmt: str, pictures: _Pictures, *, sampling: int, lossless: bool
) -> dict[str, object]:
    options: dict[str, object] = {}
    if fmt == "JPEG":
        options = {"quality": JPEG_QUALITY, "optimize": True}
        if sampling != -1:
            options["subsampling"] = sampling
    elif fmt == "WEBP":
        options = {"lossless": True} if lossless else {"quality": JPEG_QUALITY}
    if len(pictures.frames) > 1:
        options |= {"save_all": True, "append_images": pictures.frames[1:]}
        options |= {"duration": pictures.durations, "loop": pictures.loop}
    return options


def _thumbnail(picture: Image.Image, near: Path, settings: Settings, made: list[Path]) -> Derived:
    """At most `media_thumbnail_size` on the longer side: WebP when transparent, else JPEG."""
    alpha = _transparent(picture)
    thumb = picture.convert("RGBA" if alpha else "RGB")
    thumb.thumbnail((settings.media_thumbnail_size,) * 2, Image.Resampling.LANCZOS)
    fmt, mime = ("WEBP", "image/webp") if alpha else ("JPEG", "image/jpeg")
    out = _temp_beside(near, f".thumb.{fmt.lower()}", made)
    thumb.save(out, format=fmt, quality=THUMBNAIL_QUALITY)
    return Derived(out, mime)


def _transparent(picture: Image.Image) -> bool:
    if picture.mode in ("RGBA", "LA", "PA"):
        extrema = picture.getchannel("A").getextrema()
        return isinstance(extrema[0], int | float) and extrema[0] < 255
    return "transparency" in picture.info


def _blurhash(picture: Image.Image) -> str:
    small = picture.convert("RGBA")
    small.thumbnail((BLURHASH_SIZE, BLURHASH_SIZE), Image.Resampling.BILINEAR)
    backdrop = Image.new("RGBA", small.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(backdrop, small).convert("RGB")
    width, height = rgb.size
    raw = rgb.tobytes()
    rows = [
        [raw[at : at + 3] for at in range(y * width * 3, (y + 1) * width * 3, 3)]
        for y in range(height)
    ]
    x_components, y_components = (4, 3) if width >= height else (3, 4)
    return str(blurhash.encode(rows, x_components, y_components))


# --- GIF: metadata cut out, frames untouched ------------------------------------------------


@dataclass(frozen=True, slots=True)
class StrippedGif:
    data: bytes
    width: int
    height: int
    frames: int
    largest_frame: tuple[int, int]


def _gif(path: Path, kind: str, settings: Settings, made: list[Path]) -> Inspected:
    gif = strip_gif(path.read_bytes())  # at most media_max_gif_bytes
    media.check_pixels(gif.width, gif.height, settings=settings)
    media.check_pixels(*gif.largest_frame, settings=settings)
    media.check_frames(gif.frames, settings)
    clean = _temp_beside(path, ".clean.gif", made)
    clean.write_bytes(gif.data)
    with _decoding("image/gif"), Image.open(clean, formats=["GIF"]) as img:
        first = img.convert("RGBA" if "transparency" in img.info else "RGB")
    return Inspected(
        kind,
        "image/gif",
        clean,
        width=gif.width,
        height=gif.height,
        blurhash=_blurhash(first),
        thumbnail=_thumbnail(first, path, settings, made),
    )


_GIF_KEPT_APPLICATIONS = (b"\x0bNETSCAPE2.0", b"\x0bANIMEXTS1.0")  # the loop count


def strip_gif(data: bytes) -> StrippedGif:
    """The GIF without comments, plain-text and application extensions other than the loop
    count (XMP and ICC hide there), and without anything after its trailer. A GIF cut off
    mid-frame keeps its complete frames. Counts the frames without decoding them."""
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise _Unreadable("its GIF header is malformed")
    width, height, packed = struct.unpack_from("<HHB", data, 6)
    pos = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    out, frames, largest = bytearray(data[:pos]), 0, (0, 0)
    while pos < len(data) and data[pos] != 0x3B:
        if data[pos] == 0x21:  # an extension
            end = _sub_blocks_end(data, pos + 2)
            if end is None:
                break
            label = data[pos + 1]
            if label == 0xF9 or (
                label == 0xFF and data[pos + 2 : pos + 14] in _GIF_KEPT_APPLICATIONS
            ):
                out += data[pos:end]
        elif data[pos] == 0x2C:  # an image
            if pos + 10 > len(data):
                break
            frame_width, frame_height, flags = struct.unpack_from("<HHB", data, pos + 5)
            start = pos + 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
            end = _sub_blocks_end(data, start + 1)  # after the LZW code size
            if end is None:
                break
            out += data[pos:end]
            frames += 1
            if frame_width * frame_height > largest[0] * largest[1]:
                largest = (frame_width, frame_height)
        else:
            raise _Unreadable(f"it has an unknown block (0x{data[pos]:02x})")
        pos = end
    if frames == 0:
        raise _Unreadable("it has no complete frame")
    return StrippedGif(bytes(out + b"\x3b"), width, height, frames, largest)


def _sub_blocks_end(data: bytes, pos: int) -> int | None:
    """Where the data sub-blocks starting at `pos` end (after their empty terminator)."""
    while pos < len(data):
        length = data[pos]
        pos += 1 + length
        if length == 0:
            return pos
    return None
