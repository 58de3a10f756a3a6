"""What an uploaded file is, and whether Backchannel takes it. Pure functions, no I/O.

The bytes decide, never the name or the declared Content-Type: `sniff` reads the first
`HEAD_BYTES` of an upload and answers with its real type (`Sniffed`), and `accept` holds
that against what the client declared and the size limits of the kind it lands in.

Kinds:

| kind | what it is |
| --- | --- |
| `image` | a still JPEG, PNG or WebP |
| `gif` | a GIF, animated or not, and an animated WebP or PNG: looped, muted, autoplayed |
| `video` | MP4 or WebM with a video track |
| `audio` | MP3, AAC (ADTS), M4A, Ogg Opus or Vorbis, WAV, WebM without video |
| `voice` | the same formats as `audio`, sent by the client as a voice note |
| `document` | PDF, UTF-8 text, CSV, Word/Excel/PowerPoint (OOXML and legacy), OpenDocument, ZIP; also any accepted file the client sends as a document (stored as it is) |

Decisions:

- The declared Content-Type may be wrong *within* a family (a JPEG declared `image/png` is a
  JPEG image); across families (a PDF declared `image/png`) it is `media_type_mismatch`.
  `audio/*` and `video/*` are one family for the Content-Type, because `video/webm` and
  `audio/mp4` name containers that carry either; the declared *kind* is strict: `audio` and
  `voice` need a file without video, `video` needs a video track.
- Dangerous formats are refused (`media_unsupported`) whatever was declared: executables,
  scripts, HTML, SVG, Java/Android/Windows app archives, macro-enabled Office documents and
  OLE2 files that are not Word/Excel/PowerPoint (an .msi installer).
- HEIC/HEIF and AVIF are refused: browsers and phones convert them to JPEG on sharing, and
  every decoder exposed to hostile bytes is attack surface. QuickTime, Matroska, FLAC and
  3GPP are not accepted either (they are named in the refusal).
- A ZIP is a ZIP unless its `[Content_Types].xml` (OOXML) or `mimetype` entry (OpenDocument)
  says otherwise: a ZIP declared as DOCX without them is accepted as `application/zip`.
"""

from __future__ import annotations

import re
import struct
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backchannel.errors import BackchannelError

if TYPE_CHECKING:
    from backchannel.config import Settings

KINDS = ("image", "gif", "video", "audio", "voice", "document")
FAMILY_OF_KIND = {
    "image": "image",
    "gif": "image",
    "video": "video",
    "audio": "audio",
    "voice": "audio",
    "document": "document",
}
HEAD_BYTES = 8192  # what `sniff` needs to see
REFUSED = "refused"  # the family of a recognised type Backchannel does not take
WAVEFORM_MAX = 256

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
OLE2 = "application/x-ole-storage"  # what `sniff` says before `ole2_type` looks inside


@dataclass(frozen=True, slots=True)
class Sniffed:
    """A file's real type: `mime`, and `family` (image, video, audio, document, or
    `REFUSED`). `animated`: an animated WebP or PNG (a GIF is a `gif` either way)."""

    mime: str
    family: str
    animated: bool = False


@dataclass(frozen=True, slots=True)
class _Type:
    family: str
    name: str  # for messages: "a JPEG image"
    extensions: tuple[str, ...]  # the first is the canonical one


# The accepted types: the sniffing table's answers, with the names files of them may have.
TYPES: dict[str, _Type] = {
    "image/jpeg": _Type("image", "a JPEG image", ("jpg", "jpeg", "jpe", "jfif")),
    "image/png": _Type("image", "a PNG image", ("png", "apng")),
    "image/webp": _Type("image", "a WebP image", ("webp",)),
    "image/gif": _Type("image", "a GIF", ("gif",)),
    "video/mp4": _Type("video", "an MP4 video", ("mp4", "m4v")),
    "video/webm": _Type("video", "a WebM video", ("webm",)),
    "audio/mpeg": _Type("audio", "MP3 audio", ("mp3",)),
    "audio/aac": _Type("audio", "AAC audio", ("aac",)),
    "audio/mp4": _Type("audio", "M4A audio", ("m4a", "m4b", "mp4")),
    "audio/ogg": _Type("audio", "Ogg audio", ("ogg", "oga", "opus")),
    "audio/webm": _Type("audio", "WebM audio", ("webm", "weba")),
    "audio/wav": _Type("audio", "WAV audio", ("wav", "wave")),
    "application/pdf": _Type("document", "a PDF document", ("pdf",)),
    "text/plain": _Type(
        "document",
        "plain text",
        (
            *("txt", "text", "md", "markdown", "log", "json", "xml", "yaml", "yml", "toml"),
            *("ini", "cfg", "conf", "rst", "srt", "vtt", "tex", "tsv", "diff", "patch", "csv"),
        ),
    ),
    "text/csv": _Type("document", "CSV text", ("csv",)),
    DOCX: _Type("document", "a Word document", ("docx",)),
    XLSX: _Type("document", "an Excel workbook", ("xlsx",)),
    PPTX: _Type("document", "a PowerPoint presentation", ("pptx",)),
    "application/msword": _Type("document", "a Word document", ("doc", "dot")),
    "application/vnd.ms-excel": _Type("document", "an Excel workbook", ("xls", "xlt")),
    "application/vnd.ms-powerpoint": _Type(
        "document", "a PowerPoint presentation", ("ppt", "pps", "pot")
    ),
    ODT: _Type("document", "an OpenDocument text", ("odt",)),
    ODS: _Type("document", "an OpenDocument spreadsheet", ("ods",)),
    ODP: _Type("document", "an OpenDocument presentation", ("odp",)),
    "application/zip": _Type("document", "a ZIP archive", ("zip",)),
}

_NO_SCRIPTS = "it can carry scripts a browser would run"
# Recognised and refused, with the reason the uploader is told.
REFUSALS: dict[str, str] = {
    "application/x-executable": "Executable programs (ELF) are not accepted.",
    "application/vnd.microsoft.portable-executable": "Windows programs (EXE, DLL) are not "
    "accepted.",
    "application/x-mach-binary": "Executable programs (Mach-O, Java classes) are not accepted.",
    "application/wasm": "Executable code (WebAssembly, Android DEX) is not accepted.",
    "text/x-shellscript": "Scripts (files starting with #!) are not accepted.",
    "application/x-ms-shortcut": "Windows shortcuts are not accepted.",
    "application/java-archive": "Java and Android applications are not accepted.",
    "application/x-app-package": "Application packages (APPX, MSIX, IPA) are not accepted.",
    "application/x-msi": "OLE2 files other than Word, Excel or PowerPoint documents (an .msi "
    "installer, for example) are not accepted.",
    "application/x-macro-document": "Office documents with macros are not accepted; save it "
    "without macros (.docx, .xlsx, .pptx).",
    "text/html": f"HTML is not accepted: {_NO_SCRIPTS}. Send it in a ZIP, or as a screenshot.",
    "image/svg+xml": f"SVG is not accepted: {_NO_SCRIPTS}. Send a PNG or JPEG instead.",
    "image/heic": "HEIC/HEIF images are not accepted; send a JPEG (phones convert on sharing).",
    "image/avif": "AVIF images are not accepted; send a JPEG, PNG or WebP.",
    "video/quicktime": "QuickTime (.mov) video is not accepted; send an MP4.",
    "video/x-matroska": "Matroska (.mkv) is not accepted; send an MP4 or WebM.",
    "video/ogg": "Ogg Theora video is not accepted; send an MP4 or WebM.",
    "video/3gpp": "3GPP files are not accepted; send an MP4 or M4A.",
    "audio/flac": "FLAC audio is not accepted; send an M4A, MP3 or Ogg file.",
}
ACCEPTED_SUMMARY = (
    "images (JPEG, PNG, WebP, GIF), video (MP4, WebM), audio (MP3, AAC, M4A, Ogg, WAV, WebM) "
    "and documents (PDF, text, CSV, Office, OpenDocument, ZIP)"
)


# --- sniffing -----------------------------------------------------------------------------


def sniff(head: bytes) -> Sniffed | None:
    """The real type of a file from its first bytes (`HEAD_BYTES` suffice), or None when
    it is nothing Backchannel knows. Never raises.

    Two answers need the whole file: `application/zip` (is it an Office or OpenDocument
    file? see `zip_type`) and `OLE2` (see `ole2_type`); and MP4/WebM's audio-or-video is a
    guess from the first bytes that the caller confirms from the tracks (`av_type`)."""
    for probe in (_executable, _binary, _markup, _text):
        found = probe(head)
        if found is not None:
            return found
    return None


def _executable(head: bytes) -> Sniffed | None:
    mime = None
    if head.startswith(b"\x7fELF"):
        mime = "application/x-executable"
    elif head.startswith(b"MZ") and _text(head) is None:
        mime = "application/vnd.microsoft.portable-executable"
    elif head[:4] in _MACHO:
        mime = "application/x-mach-binary"
    elif head.startswith((b"\x00asm", b"dex\n")):
        mime = "application/wasm"
    elif head.startswith(b"#!"):
        mime = "text/x-shellscript"
    elif head.startswith(b"L\x00\x00\x00\x01\x14\x02\x00"):
        mime = "application/x-ms-shortcut"
    return None if mime is None else Sniffed(mime, REFUSED)


_MACHO = {
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # a fat Mach-O binary, or a Java class file
}


def _binary(head: bytes) -> Sniffed | None:
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image/jpeg", "image")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image/png", "image", animated=_apng(head))
    if head.startswith((b"GIF87a", b"GIF89a")):
        return Sniffed("image/gif", "image")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        animated = head[12:16] == b"VP8X" and len(head) > 20 and bool(head[20] & 0x02)
        return Sniffed("image/webp", "image", animated=animated)
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return Sniffed("audio/wav", "audio")
    if head[4:8] == b"ftyp":
        return _ftyp(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _ebml(head)
    if head.startswith(b"OggS"):
        return _ogg(head)
    if head.startswith(b"%PDF-"):
        return Sniffed("application/pdf", "document")
    if head.startswith(b"PK\x03\x04"):
        return _odf(head) or Sniffed("application/zip", "document")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return Sniffed(OLE2, "document")
    if head.startswith(b"fLaC"):
        return Sniffed("audio/flac", REFUSED)
    return _mpeg_audio(head)


def _apng(head: bytes) -> bool:
    """A PNG with an animation control chunk naming more than one frame (it comes before
    the first image data)."""
    pos = 8
    while pos + 12 <= len(head):
        length, kind = struct.unpack(">I4s", head[pos : pos + 8])
        if kind == b"IDAT":
            return False
        if kind == b"acTL" and pos + 12 <= len(head):
            return struct.unpack(">I", head[pos + 8 : pos + 12])[0] > 1
        pos += 12 + length
    return False


_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"F4A ", b"F4B "}
_VIDEO_BRANDS = {b"isom", b"mp41", b"mp42", b"avc1", b"dash", b"M4V ", b"M4VH", b"M4VP"} | {
    b"mmp4",
    b"MSNV",
    b"f4v ",
    b"XAVC",
    b"mp71",
    *(b"iso%d" % n for n in range(2, 10)),
}
_FTYP_REFUSED = (
    (_AVIF_BRANDS, "image/avif"),
    (_HEIF_BRANDS, "image/heic"),
    ({b"qt  "}, "video/quicktime"),
    ({b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3g2a", b"3g2b", b"3g2c", b"3ge6"}, "video/3gpp"),
)


def _ftyp(head: bytes) -> Sniffed | None:
    size = int.from_bytes(head[:4], "big")
    end = min(max(size, 16), len(head), 512)
    brands = [head[8:12]] + [head[pos : pos + 4] for pos in range(16, end - 3, 4)]
    for candidates in (brands[:1], brands[1:]):  # the major brand first
        for group, mime in _FTYP_REFUSED:
            if group.intersection(candidates):
                return Sniffed(mime, REFUSED)
        if _AUDIO_BRANDS.intersection(candidates):
            return Sniffed("audio/mp4", "audio")
        if _VIDEO_BRANDS.intersection(candidates):
            return Sniffed("video/mp4", "video")
    return None


def _ebml(head: bytes) -> Sniffed | None:
    at = head.find(b"\x42\x82", 4, 64)  # DocType, then its size (an EBML varint)
    if at < 0 or at + 3 > len(head) or head[at + 2] == 0:
        return None
    length = 9 - head[at + 2].bit_length()
    size = head[at + 2] & (0xFF >> length)
    for byte in head[at + 3 : at + 2 + length]:
        size = size << 8 | byte
    doctype = head[at + 2 + length : at + 2 + length + min(size, 16)]
    if doctype == b"matroska":
        return Sniffed("video/x-matroska", REFUSED)
    if doctype != b"webm":
        return None
    # A guess from the codec ids in the first bytes; `av_type` settles it from the tracks.
    if any(codec in head for codec in (b"V_VP8", b"V_VP9", b"V_AV1", b"V_MPEG4")):
        return Sniffed("video/webm", "video")
    if any(codec in head for codec in (b"A_OPUS", b"A_VORBIS")):
        return Sniffed("audio/webm", "audio")
    return Sniffed("video/webm", "video")


def _ogg(head: bytes) -> Sniffed | None:
    if len(head) < 27:
        return None
    start = 27 + head[26]  # after the segment table
    packet = head[start : start + 8]
    if packet == b"OpusHead" or packet.startswith(b"\x01vorbis"):
        return Sniffed("audio/ogg", "audio")
    if packet.startswith(b"\x80theora"):
        return Sniffed("video/ogg", REFUSED)
    if packet.startswith(b"\x7fFLAC"):
        return Sniffed("audio/flac", REFUSED)
    return None


def _odf(head: bytes) -> Sniffed | None:
    """An OpenDocument file names its type in a first, stored entry called `mimetype`."""
    if len(head) < 30:
        return None
    method, size = struct.unpack("<H", head[8:10])[0], struct.unpack("<I", head[18:22])[0]
    name_length, extra_length = struct.unpack("<HH", head[26:30])
    if method != 0 or head[30 : 30 + name_length] != b"mimetype":
        return None
    start = 30 + name_length + extra_length
    return odf_type(head[start : start + min(size, 100)])


_MPEG_BITRATES = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 layer III
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 and 2.5
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mpeg_frame_length(header: bytes) -> int | None:
    """The length of the MP3 (MPEG layer III) frame starting `header`, or None."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate_index, rate_index = header[2] >> 4, (header[2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _MPEG_BITRATES[3 if version == 3 else 2][bitrate_index] * 1000
    per_frame = 144 if version == 3 else 72
    return per_frame * bitrate // _MPEG_RATES[version][rate_index] + ((header[2] >> 1) & 1)


def _mpeg_audio(head: bytes) -> Sniffed | None:
    if head.startswith(b"ID3"):
        return Sniffed("audio/mpeg", "audio")
    if len(head) >= 7 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:  # ADTS sync, layer 0
        adts = ((head[3] & 0x03) << 11) | (head[4] << 3) | (head[5] >> 5)
        nxt = head[adts : adts + 2]
        if adts >= 7 and (len(nxt) < 2 or (nxt[0] == 0xFF and nxt[1] & 0xF6 == 0xF0)):
            return Sniffed("audio/aac", "audio")
        return None
    length = mpeg_frame_length(head)
    if length is None:
        return None
    if len(head) >= length + 4 and mpeg_frame_length(head[length:]) is None:
        return None  # one frame header may be chance; the next one must follow it
    return Sniffed("audio/mpeg", "audio")


_WHITESPACE = b" \t\n\r\x0c"
# Where a browser would see HTML (the WHATWG MIME sniffing rules), each to be followed by
# a space or `>`.
_HTML_STARTS: tuple[bytes, ...] = (b"<!doctype html", b"<html", b"<head", b"<script", b"<iframe")
_HTML_STARTS += (b"<h1", b"<div", b"<font", b"<table", b"<a", b"<style", b"<title", b"<b")
_HTML_STARTS += (b"<body", b"<br", b"<p")
_ACTIVE_TAGS = (b"<script", b"<html", b"<iframe", b"<object", b"<embed", b"<body", b"<frameset")


def _markup(head: bytes) -> Sniffed | None:
    """HTML, XHTML and SVG, however they are declared: markup at the start of the file
    (after a BOM and white space) that a browser would render, scripts and all."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip(_WHITESPACE).lower()
    if not text.startswith(b"<"):
        return None
    if b"<svg" in text or b"http://www.w3.org/2000/svg" in text:
        return Sniffed("image/svg+xml", REFUSED)
    if b"http://www.w3.org/1999/xhtml" in text or text.startswith(b"<!--"):
        return Sniffed("text/html", REFUSED)
    for start in _HTML_STARTS:
        if text.startswith(start) and text[len(start) : len(start) + 1] in (b" ", b">", b""):
            return Sniffed("text/html", REFUSED)
    if any(tag in text for tag in _ACTIVE_TAGS):
        return Sniffed("text/html", REFUSED)
    return None


def _text(head: bytes) -> Sniffed | None:
    """UTF-8 without NUL and with at most 1% other control characters."""
    body = head.removeprefix(b"\xef\xbb\xbf")
    if not body or b"\x00" in body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data" or exc.start < len(body) - 3:
            return None
        text = body[: exc.start].decode("utf-8", errors="replace")
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    if controls * 100 > len(text):
        return None
    return Sniffed("text/plain", "document")


# --- what the whole file says: ZIP kinds, OLE2, audio or video ----------------------------


def odf_type(mimetype: bytes) -> Sniffed | None:
    """The OpenDocument type named by the `mimetype` entry, if it is one we take."""
    value = mimetype.strip().decode("ascii", errors="replace")
    return Sniffed(value, "document") if value in (ODT, ODS, ODP) else None


_OOXML_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": PPTX,
}
_CONTENT_TYPE = re.compile(r'ContentType\s*=\s*"([^"]+)"')


def zip_type(names: list[str], content_types: str | None, mimetype: bytes | None) -> Sniffed:
    """What a ZIP is, from its entry names, its `[Content_Types].xml` (OOXML) and its
    `mimetype` entry (OpenDocument). Applications and macro-enabled documents are refused."""
    lowered = {name.lower() for name in names}
    manifest = "androidmanifest.xml" in lowered or "meta-inf/manifest.mf" in lowered
    if manifest and any(name.endswith((".class", ".dex")) for name in lowered):
        return Sniffed("application/java-archive", REFUSED)
    if "appxmanifest.xml" in lowered or any(
        name.startswith("payload/") and ".app/" in name for name in lowered
    ):
        return Sniffed("application/x-app-package", REFUSED)
    if content_types is not None:
        declared = _CONTENT_TYPE.findall(content_types)
        if any("macroenabled" in value.lower() for value in declared) or (
            "word/vbaproject.bin" in lowered or "xl/vbaproject.bin" in lowered
        ):
            return Sniffed("application/x-macro-document", REFUSED)
        for value in declared:
            if value in _OOXML_MAIN:
                return Sniffed(_OOXML_MAIN[value], "document")
    if mimetype is not None:
        found = odf_type(mimetype)
        if found is not None:
            return found
    return Sniffed("application/zip", "document")


def ole2_type(names: set[str]) -> Sniffed:
    """What an OLE2 compound file is, from the names of its streams and storages."""
    if names & {"Macros", "_VBA_PROJECT_CUR", "VBA", "_VBA_PROJECT"}:
        return Sniffed("application/x-macro-document", REFUSED)
    if "WordDocument" in names:
        return Sniffed("application/msword", "document")
    if names & {"Workbook", "Book"}:
        return Sniffed("application/vnd.ms-excel", "document")
    if "PowerPoint Document" in names:
        return Sniffed("application/vnd.ms-powerpoint", "document")
    return Sniffed("application/x-msi", REFUSED)


def av_type(sniffed: Sniffed, *, has_video: bool) -> Sniffed:
    """An MP4 or WebM file is video when it has a video track, else audio."""
    container = sniffed.mime.split("/", 1)[1]
    if container not in ("mp4", "webm"):
        return sniffed
    return (
        Sniffed(f"video/{container}", "video")
        if has_video
        else Sniffed(f"audio/{container}", "audio")
    )


_CSV_TYPES = {"text/csv", "application/csv", "text/comma-separated-values", "text/x-csv"}


def text_type(declared_type: str | None, filename: str | None) -> Sniffed:
    """Text is CSV when declared so or named so; the bytes cannot tell."""
    declared = _essence(declared_type)
    if declared in _CSV_TYPES or _extension(filename or "") == "csv":
        return Sniffed("text/csv", "document")
    return Sniffed("text/plain", "document")


# --- the rules ----------------------------------------------------------------------------


def accept(
    sniffed: Sniffed | None,
    *,
    declared_type: str | None,
    declared_kind: str | None,
    size: int,
    settings: Settings,
) -> str:
    """The kind an upload is stored as, or the refusal: `media_unsupported` (nothing we
    take, or dangerous), `media_type_mismatch` (declared across families),
    `media_too_large` (over its kind's limit), `invalid_request` (an unknown kind)."""
    if declared_kind is not None and declared_kind not in KINDS:
        raise BackchannelError(
            "invalid_request",
            f"kind is one of {', '.join(KINDS)}; got {declared_kind[:20]!r}.",
        )
    as_declared = f" (it was declared as {declared_type[:100]})" if declared_type else ""
    if sniffed is not None and sniffed.family == REFUSED:
        reason = REFUSALS.get(sniffed.mime, "This kind of file is not accepted.")
        raise BackchannelError("media_unsupported", reason.rstrip(".") + as_declared + ".")
    if sniffed is None or sniffed.mime not in TYPES:
        raise BackchannelError(
            "media_unsupported",
            f"The file is not of a type Backchannel accepts{as_declared}: it accepts "
            f"{ACCEPTED_SUMMARY}.",
        )
    _check_declared_type(sniffed, declared_type)
    kind = _kind(sniffed, declared_kind)
    check_size(kind, size, settings)
    return kind


def _essence(content_type: str | None) -> str:
    """`Image/PNG; charset=x` → `image/png`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


_NO_CLAIM = {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}


def _declared_family(content_type: str | None) -> str | None:
    essence = _essence(content_type)
    top = essence.split("/", 1)[0]
    if essence in _NO_CLAIM or "/" not in essence:
        return None
    if top == "image":
        return "image"
    if top in ("audio", "video") or essence in ("application/ogg", "application/mp4"):
        return "av"
    if top in ("text", "application"):
        return "document"
    return None


def _check_declared_type(sniffed: Sniffed, declared_type: str | None) -> None:
    claimed = _declared_family(declared_type)
    actual = "av" if sniffed.family in ("audio", "video") else sniffed.family
    if claimed is not None and claimed != actual:
        raise BackchannelError(
            "media_type_mismatch",
            f"The file was declared as {_essence(declared_type)[:100]}, but it is "
            f"{TYPES[sniffed.mime].name} ({sniffed.mime}).",
        )


def kind_of(sniffed: Sniffed) -> str:
    """The kind the bytes alone make a file: a GIF or an animation is a `gif`."""
    if sniffed.family == "image":
        return "gif" if sniffed.mime == "image/gif" or sniffed.animated else "image"
    return sniffed.family


def _kind(sniffed: Sniffed, declared_kind: str | None) -> str:
    natural = kind_of(sniffed)
    if declared_kind is None or declared_kind == natural:
        return natural
    if declared_kind == "document":
        return "document"  # any accepted file may be sent as a file, stored as it is
    if FAMILY_OF_KIND[declared_kind] == sniffed.family:
        return declared_kind if declared_kind == "voice" else natural
    raise BackchannelError(
        "media_type_mismatch",
        f"The file was sent as {_A[declared_kind]}, but it is {TYPES[sniffed.mime].name} "
        f"({sniffed.mime}).",
    )


_A = {
    "image": "an image",
    "gif": "a GIF",
    "video": "a video",
    "audio": "audio",
    "voice": "a voice note",
    "document": "a document",
}


def limit_for(kind: str, settings: Settings) -> int:
    """The most bytes an upload of `kind` may have."""
    return {
        "image": settings.media_max_image_bytes,
        "gif": settings.media_max_gif_bytes,
        "video": settings.media_max_video_bytes,
        "audio": settings.media_max_audio_bytes,
        "voice": settings.media_max_voice_bytes,
        "document": settings.media_max_document_bytes,
    }[kind]


def max_upload_bytes(settings: Settings) -> int:
    """Where the upload stream is cut, before its type is known: the largest limit."""
    return max(limit_for(kind, settings) for kind in KINDS)


MAX_UPLOAD_BYTES = max_upload_bytes  # the name the media brief gave it


def check_size(kind: str, size: int, settings: Settings) -> None:
    limit = limit_for(kind, settings)
    if size > limit:
        raise BackchannelError(
            "media_too_large",
            f"{_A[kind].capitalize()} may be at most {_megabytes(limit)}; this file is "
            f"{_megabytes(size)}.",
            limit=limit,
        )


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size} bytes"


def check_frames(frames: int, settings: Settings) -> None:
    """Refuse an animation with more frames than `media_max_gif_frames`."""
    if frames > settings.media_max_gif_frames:
        raise BackchannelError(
            "media_bomb",
            f"The animation has {frames} frames; at most {settings.media_max_gif_frames} "
            "are accepted.",
        )


def check_pixels(width: int, height: int, *, frames: int = 1, settings: Settings) -> None:
    """Refuse a decompression bomb before decoding it: more pixels than
    `media_max_image_pixels`, counting every frame of an animation that is decoded whole."""
    pixels = width * height * frames
    if pixels > settings.media_max_image_pixels:
        what = "The image" if frames == 1 else f"The animation ({frames} frames)"
        raise BackchannelError(
            "media_bomb",
            f"{what} has {width} x {height} pixels a frame, {pixels:,} in all; at most "
            f"{settings.media_max_image_pixels:,} are accepted.",
        )


def check_waveform(values: object) -> list[int]:
    """A client-supplied voice-note waveform: 1 to 256 integers, each 0..255."""
    if not isinstance(values, list | tuple) or not 1 <= len(values) <= WAVEFORM_MAX:
        raise BackchannelError(
            "invalid_request", f"waveform is a list of 1 to {WAVEFORM_MAX} integers 0..255."
        )
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
            raise BackchannelError(
                "invalid_request",
                f"waveform values are integers 0..255; got {str(value)[:20]!r}.",
            )
    return list(values)


# --- file names ---------------------------------------------------------------------------

_RESERVED_NAMES = {"con", "prn", "aux", "nul"} | {
    f"{p}{n}" for p in ("com", "lpt") for n in "123456789"
}
_RESERVED_CHARS = re.compile(r'[<>:"|?*/\\]')
NAME_MAX_BYTES = 255


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def safe_filename(raw: str | None, mime: str) -> str | None:
    """A name to show for a file and save it under: no directories, no control or
    bidirectional-override characters (`invoice\\u202efdp.exe`), no Windows-reserved names,
    at most `NAME_MAX_BYTES` UTF-8 bytes, ending in an extension of its real type (which is
    added when the name has another one: `invoice.exe` that is a PDF → `invoice.exe.pdf`)."""
    if raw is None or not raw.strip():
        return None
    name = re.split(r"[/\\]", unicodedata.normalize("NFC", raw))[-1]
    name = "".join(_name_char(ch) for ch in name)
    name = _RESERVED_CHARS.sub("_", " ".join(name.split())).strip(". ")
    if not name:
        name = "file"
    stem = name.rpartition(".")[0] if _extension(name) else name
    if stem.lower().split(".")[0] in _RESERVED_NAMES:
        name = "_" + name
    accepted = TYPES[mime].extensions if mime in TYPES else ()
    extension = _extension(name)
    if accepted and extension not in accepted:
        extension = accepted[0]
        name = f"{name}.{extension}"
    return _truncate(name, extension)


def _name_char(ch: str) -> str:
    """White space becomes a space; control, format (bidirectional overrides, zero-width)
    and unassigned characters go."""
    category = unicodedata.category(ch)
    if ch in "\t\n\r" or category in ("Zs", "Zl", "Zp"):
        return " "
    return "" if category in ("Cc", "Cf", "Cs", "Cn") else ch


def _truncate(name: str, extension: str) -> str:
    if len(name.encode()) <= NAME_MAX_BYTES:
        return name
    suffix = f".{extension}" if extension else ""
    stem = name[: len(name) - len(suffix)]
    budget = NAME_MAX_BYTES - len(suffix.encode())
    stem = stem.encode()[:budget].decode("utf-8", errors="ignore").rstrip(". ")
    return (stem or "file") + suffix
