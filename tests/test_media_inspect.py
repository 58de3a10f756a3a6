"""What the server makes of an upload: the real type from the bytes, the refusals, and the
processing (clean images, durations, waveforms, thumbnails, blurhash, safe names).

Every file is made at test time by tests/media_files.py; no database is needed.
"""

from __future__ import annotations

import io
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import blurhash
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import ExifTags, Image

from backchannel.config import Settings, load_settings
from backchannel.domain import media
from backchannel.errors import BackchannelError
from backchannel.media.inspect import Inspected, check_waveform, inspect, strip_gif
from tests import media_files as mf

DOCX = media.DOCX


@pytest.fixture(autouse=True)
def no_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ffmpeg and ffprobe (as on this machine), whatever the host has installed;
    the tests that want them put fakes on the PATH."""
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path)


def run(
    tmp_path: Path,
    data: bytes,
    *,
    declared_type: str | None = None,
    kind: str | None = None,
    filename: str | None = None,
    settings: Settings | None = None,
) -> Inspected:
    upload = tmp_path / "upload.bin"
    upload.write_bytes(data)
    return inspect(
        upload,
        declared_type=declared_type,
        declared_kind=kind,
        filename=filename,
        settings=settings or load_settings(data_dir=tmp_path),
    )


def refused(tmp_path: Path, data: bytes, **options: object) -> BackchannelError:
    before = {p for p in tmp_path.iterdir() if p.name != "upload.bin"}
    with pytest.raises(BackchannelError) as caught:
        run(tmp_path, data, **options)  # type: ignore[arg-type]
    after = {p for p in tmp_path.iterdir() if p.name != "upload.bin"}
    assert after == before, "a refused upload leaves no derived files behind"
    return caught.value


# --- the sniffing table ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "mime", "family"),
    [
        (mf.jpeg, "image/jpeg", "image"),
        (mf.png, "image/png", "image"),
        (mf.webp, "image/webp", "image"),
        (mf.gif, "image/gif", "image"),
        (mf.mp3, "audio/mpeg", "audio"),
        (mf.adts, "audio/aac", "audio"),
        (mf.ogg_opus, "audio/ogg", "audio"),
        (mf.ogg_vorbis, "audio/ogg", "audio"),
        (mf.m4a, "audio/mp4", "audio"),
        (mf.wav, "audio/wav", "audio"),
        (mf.mp4, "video/mp4", "video"),
        (mf.webm, "video/webm", "video"),
        (mf.webm_live_audio, "audio/webm", "audio"),
        (mf.pdf, "application/pdf", "document"),
        (mf.ooxml, "application/zip", "document"),  # which ZIP it is needs the whole file
        (mf.odf, media.ODT, "document"),
        (lambda: mf.ole2("WordDocument"), media.OLE2, "document"),
        (mf.text, "text/plain", "document"),
        (mf.elf, "application/x-executable", media.REFUSED),
        (mf.pe, "application/vnd.microsoft.portable-executable", media.REFUSED),
        (mf.macho, "application/x-mach-binary", media.REFUSED),
        (mf.shebang, "text/x-shellscript", media.REFUSED),
        (mf.html, "text/html", media.REFUSED),
        (mf.html_fragment, "text/html", media.REFUSED),
        (mf.svg, "image/svg+xml", media.REFUSED),
        (mf.svg_in_xml, "image/svg+xml", media.REFUSED),
        (mf.heic, "image/heic", media.REFUSED),
        (mf.quicktime, "video/quicktime", media.REFUSED),
        (mf.matroska, "video/x-matroska", media.REFUSED),
    ],
)
def test_sniff_reads_the_type_from_the_first_bytes(
    make: Callable[[], bytes], mime: str, family: str
) -> None:
    found = media.sniff(make()[: media.HEAD_BYTES])
    assert found is not None
    assert (found.mime, found.family) == (mime, family)


def test_sniff_tells_animations_apart() -> None:
    assert media.sniff(mf.webp_animated()) == media.Sniffed("image/webp", "image", animated=True)
    assert media.sniff(mf.apng()) == media.Sniffed("image/png", "image", animated=True)
    assert media.sniff(mf.webp()) == media.Sniffed("image/webp", "image")


def test_sniff_knows_nothing_of_noise() -> None:
    assert media.sniff(b"") is None
    assert media.sniff(bytes(range(256)) * 4) is None
    assert media.sniff(b"MZ is a fine way to start a sentence.\n") == media.Sniffed(
        "text/plain", "document"
    )


_MAGIC = [
    b"",
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"RIFF\x00\x00\x00\x00WEBPVP8X",
    b"RIFF\x00\x00\x00\x00WAVE",
    b"\x00\x00\x00\x18ftyp",
    b"\x1a\x45\xdf\xa3",
    b"\x1a\x45\xdf\xa3\x42\x82",
    b"OggS\x00\x02",
    b"PK\x03\x04",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"ID3",
    b"\xff\xfb",
    b"\xff\xf1",
    b"MZ",
    b"\xef\xbb\xbf<",
    b"<?xml",
]


@given(prefix=st.sampled_from(_MAGIC), rest=st.binary(max_size=600))
def test_sniff_never_raises(prefix: bytes, rest: bytes) -> None:
    found = media.sniff(prefix + rest)
    assert found is None or found.family in ("image", "video", "audio", "document", "refused")


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(_MAGIC), rest=st.binary(max_size=2000))
def test_inspect_answers_anything_with_a_result_or_a_stable_code(
    prefix: bytes, rest: bytes
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        where = Path(directory)
        try:
            run(where, prefix + rest, settings=load_settings(data_dir=where))
        except BackchannelError as exc:
            assert exc.code.startswith("media_"), exc.code


# --- every accepted format --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "kind", "declared_kind", "mime", "size", "duration_ms"),
    [
        (mf.jpeg, "image", None, "image/jpeg", (40, 20), None),
        (mf.png, "image", "image", "image/png", (40, 20), None),
        (mf.webp, "image", None, "image/webp", (40, 20), None),
        (lambda: mf.webp(lossless=True), "image", None, "image/webp", (40, 20), None),
        (mf.gif, "gif", None, "image/gif", (32, 24), None),
        (mf.gif, "gif", "image", "image/gif", (32, 24), None),
        (mf.webp_animated, "gif", None, "image/webp", (32, 24), None),
        (mf.apng, "gif", "gif", "image/png", (32, 24), None),
        (mf.mp3, "audio", None, "audio/mpeg", None, 2000),
        (mf.adts, "audio", "audio", "audio/aac", None, 1500),
        (mf.ogg_opus, "voice", "voice", "audio/ogg", None, 3000),
        (mf.ogg_vorbis, "audio", None, "audio/ogg", None, 2500),
        (mf.m4a, "voice", "voice", "audio/mp4", None, 4000),
        (mf.wav, "audio", None, "audio/wav", None, 2000),
        (mf.webm_live_audio, "voice", "voice", "audio/webm", None, 3000),
        (lambda: mf.mp4(audio=False, brand=b"mp42"), "video", None, "video/mp4", (640, 360), 5000),
        (mf.mp4, "video", "video", "video/mp4", (640, 360), 5000),
        (lambda: mf.mp4(turned=True, moov_last=True), "video", None, "video/mp4", (360, 640), 5000),
        (mf.webm, "video", None, "video/webm", (640, 360), 2500),
        (mf.pdf, "document", None, "application/pdf", None, None),
        (mf.ooxml, "document", "document", DOCX, None, None),
        (lambda: mf.ooxml("xlsx"), "document", None, media.XLSX, None, None),
        (lambda: mf.ooxml("pptx"), "document", None, media.PPTX, None, None),
        (mf.odf, "document", None, media.ODT, None, None),
        (lambda: mf.odf(media.ODS), "document", None, media.ODS, None, None),
        (mf.plain_zip, "document", None, "application/zip", None, None),
        (lambda: mf.ole2("WordDocument"), "document", None, "application/msword", None, None),
        (lambda: mf.ole2("Workbook"), "document", None, "application/vnd.ms-excel", None, None),
        (
            lambda: mf.ole2("PowerPoint Document"),
            "document",
            None,
            "application/vnd.ms-powerpoint",
            None,
            None,
        ),
        (mf.text, "document", None, "text/plain", None, None),
    ],
)
def test_each_accepted_format_is_inspected(
    tmp_path: Path,
    make: Callable[[], bytes],
    kind: str,
    declared_kind: str | None,
    mime: str,
    size: tuple[int, int] | None,
    duration_ms: int | None,
) -> None:
    found = run(tmp_path, make(), kind=declared_kind)
    assert (found.kind, found.mime) == (kind, mime)
    assert (found.width, found.height) == (size or (None, None))
    if duration_ms is None:
        assert found.duration_ms is None
    else:
        assert found.duration_ms is not None
        assert abs(found.duration_ms - duration_ms) <= 60
    assert (found.clean is not None) == (kind in ("image", "gif"))
    assert (found.thumbnail is not None) == (kind in ("image", "gif"))
    assert found.poster is None  # no ffmpeg here


def test_csv_is_text_declared_or_named_so(tmp_path: Path) -> None:
    assert run(tmp_path, mf.csv(), declared_type="text/csv").mime == "text/csv"
    assert run(tmp_path, mf.csv(), filename="sums.CSV").mime == "text/csv"
    named = run(tmp_path, mf.csv(), declared_type="application/vnd.ms-excel", filename="a.csv")
    assert (named.mime, named.filename) == ("text/csv", "a.csv")
    assert run(tmp_path, mf.csv()).mime == "text/plain"


# --- images: clean, upright, animated, thumbnail, blurhash ------------------------------------


@pytest.mark.parametrize("make", [mf.jpeg, mf.png, mf.webp])
def test_metadata_is_gone_from_the_clean_image(tmp_path: Path, make: Callable[[], bytes]) -> None:
    original = make()
    assert mf.CAMERA.encode() in original and mf.GPS_DATUM.encode() in original
    with Image.open(io.BytesIO(original)) as img:
        assert img.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the test file has GPS
    found = run(tmp_path, original)
    assert found.clean is not None and found.clean.parent == tmp_path
    cleaned = found.clean.read_bytes()
    for marker in (
        mf.CAMERA.encode(),
        mf.GPS_DATUM.encode(),
        b"SpyCorp",
        b"secret-xmp",
        mf.COMMENT,
    ):
        assert marker not in cleaned, marker
    with Image.open(found.clean) as img:
        assert dict(img.getexif()) == {}
        assert img.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "Comment"} & set(
            img.info
        )


def test_orientation_is_applied_before_exif_goes(tmp_path: Path) -> None:
    found = run(tmp_path, mf.jpeg((40, 20), orientation=6))  # shown turned a quarter clockwise
    assert (found.width, found.height) == (20, 40)
    assert found.clean is not None
    with Image.open(found.clean) as img:
        assert img.size == (20, 40)
        top, bottom = img.convert("RGB").getpixel((10, 5)), img.convert("RGB").getpixel((10, 35))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60, "the left (red) half is now on top"
    assert bottom[2] > 200 and bottom[0] < 60


@pytest.mark.parametrize("make", [mf.mpo, mf.cmyk_jpeg])
def test_phone_and_print_jpegs_become_plain_rgb_jpegs(
    tmp_path: Path, make: Callable[[], bytes]
) -> None:
    found = run(tmp_path, make())
    assert (found.kind, found.mime, found.width, found.height) == ("image", "image/jpeg", 40, 20)
    assert found.clean is not None
    cleaned = found.clean.read_bytes()
    assert mf.CAMERA.encode() not in cleaned
    with Image.open(found.clean) as img:
        assert (img.format, img.mode, getattr(img, "n_frames", 1)) == ("JPEG", "RGB", 1)
        red = img.getpixel((5, 10))
    assert isinstance(red, tuple) and red[0] > 200 and red[2] < 80


def test_a_polyglot_loses_what_follows_the_image(tmp_path: Path) -> None:
    found = run(tmp_path, mf.polyglot_jpeg(), declared_type="image/jpeg")
    assert found.clean is not None and mf.SCRIPT not in found.clean.read_bytes()


def test_an_animated_gif_keeps_its_frames_and_loses_its_blocks(tmp_path: Path) -> None:
    original = mf.gif(4, trailer=mf.SCRIPT)
    found = run(tmp_path, original)
    assert found.clean is not None
    cleaned = found.clean.read_bytes()
    assert mf.COMMENT in original and mf.COMMENT not in cleaned and mf.SCRIPT not in cleaned
    with Image.open(found.clean) as img:
        assert (img.n_frames, img.info["loop"], img.info["duration"]) == (4, 0, 80)
        colors = []
        for index in range(img.n_frames):
            img.seek(index)
            colors.append(img.convert("RGB").getpixel((1, 1)))
    assert colors == [mf.RED, mf.BLUE, mf.GREEN, (250, 200, 0)]
    xmp = run(tmp_path, mf.gif_with_xmp())
    assert xmp.clean is not None and b"secret-xmp" not in xmp.clean.read_bytes()


def test_strip_gif_keeps_complete_frames_of_a_cut_gif() -> None:
    data = mf.gif(4)
    cut = strip_gif(data[: len(data) - 30])
    assert 1 <= cut.frames < 4 and cut.data.endswith(b"\x3b")


def test_an_animated_webp_keeps_frames_and_timing(tmp_path: Path) -> None:
    found = run(tmp_path, mf.webp_animated(3))
    assert found.kind == "gif" and found.clean is not None
    with Image.open(found.clean) as img:
        durations = []
        for index in range(img.n_frames):
            img.seek(index)
            img.load()
            durations.append(img.info["duration"])
    assert durations == [100, 200, 300]


def test_thumbnails_fit_and_never_grow(tmp_path: Path) -> None:
    big = run(tmp_path, mf.jpeg((2000, 1000), metadata=False))
    assert big.thumbnail is not None and big.thumbnail.mime == "image/jpeg"
    assert big.thumbnail.path.parent == tmp_path
    with Image.open(big.thumbnail.path) as img:
        assert img.format == "JPEG" and img.size == (320, 160)
    small = run(tmp_path, mf.png((40, 20)))
    assert small.thumbnail is not None
    with Image.open(small.thumbnail.path) as img:
        assert img.size == (40, 20)
    tight = load_settings(data_dir=tmp_path, media_thumbnail_size=100)
    portrait = run(tmp_path, mf.jpeg((300, 600), orientation=1), settings=tight)
    assert portrait.thumbnail is not None
    with Image.open(portrait.thumbnail.path) as img:
        assert img.size == (50, 100)


def test_a_transparent_image_keeps_its_alpha_and_gets_a_webp_thumbnail(tmp_path: Path) -> None:
    found = run(tmp_path, mf.png((40, 20), alpha=True))
    assert found.clean is not None and found.thumbnail is not None
    assert found.thumbnail.mime == "image/webp"
    with Image.open(found.clean) as img:
        assert img.mode == "RGBA" and img.getpixel((2, 2)) == (*mf.RED, 128)


def test_blurhash_is_a_real_placeholder(tmp_path: Path) -> None:
    for data in (
        mf.jpeg((400, 200), metadata=False),
        mf.gif(),
        mf.jpeg((200, 400), metadata=False),
    ):
        found = run(tmp_path, data)
        assert found.blurhash is not None and len(found.blurhash) == 28  # 4 x 3 components
        pixels = blurhash.decode(found.blurhash, 8, 6)
        assert len(pixels) == 6 and len(pixels[0]) == 8


# --- refusals -------------------------------------------------------------------------------


def test_a_jpeg_declared_as_png_is_a_jpeg(tmp_path: Path) -> None:
    found = run(tmp_path, mf.jpeg(), declared_type="image/png", filename="cat.png")
    assert (found.kind, found.mime) == ("image", "image/jpeg")


@pytest.mark.parametrize(
    ("make", "declared_type", "kind"),
    [
        (mf.pdf, "image/png", None),
        (mf.jpeg, "application/pdf", None),
        (mf.mp3, "image/jpeg", None),
        (mf.mp4, None, "voice"),  # a video is no voice note
        (mf.m4a, None, "video"),
        (mf.jpeg, None, "video"),
        (mf.pdf, None, "image"),
        (mf.text, "video/mp4", None),
    ],
)
def test_a_file_declared_across_families_is_a_mismatch(
    tmp_path: Path, make: Callable[[], bytes], declared_type: str | None, kind: str | None
) -> None:
    error = refused(tmp_path, make(), declared_type=declared_type, kind=kind)
    assert (error.code, error.status) == ("media_type_mismatch", 422)
    assert "but it is" in error.message


def test_audio_and_video_content_types_name_containers(tmp_path: Path) -> None:
    voice = run(tmp_path, mf.webm_live_audio(), declared_type="video/webm", kind="voice")
    assert (voice.kind, voice.mime) == ("voice", "audio/webm")


@pytest.mark.parametrize(
    ("make", "declared_type", "kind", "words"),
    [
        (mf.html, "image/png", None, "HTML"),
        (mf.html_fragment, "text/plain", "document", "HTML"),
        (mf.svg, "image/svg+xml", None, "SVG"),
        (mf.svg_in_xml, "image/png", "image", "SVG"),
        (mf.elf, "image/jpeg", None, "ELF"),
        (mf.elf, "application/pdf", "document", "ELF"),
        (mf.pe, "image/gif", "gif", "Windows"),
        (mf.pe, "application/pdf", "document", "Windows"),
        (mf.macho, None, None, "Mach-O"),
        (mf.shebang, "text/plain", "document", "Scripts"),
        (mf.jar, "application/zip", "document", "Java"),
        (lambda: mf.ooxml("docm"), DOCX, "document", "macros"),
        (lambda: mf.ole2("WordDocument", "Macros"), "application/msword", None, "macros"),
        (lambda: mf.ole2("\u4840\u3f3f"), "application/msword", None, ".msi"),
        (mf.heic, "image/heic", None, "HEIC"),
        (mf.quicktime, "video/quicktime", None, "MP4"),
        (mf.matroska, "video/webm", None, "Matroska"),
        (lambda: bytes(range(256)) * 8, "image/png", None, "accepts images"),
    ],
)
def test_dangerous_and_unknown_files_are_unsupported_however_declared(
    tmp_path: Path,
    make: Callable[[], bytes],
    declared_type: str | None,
    kind: str | None,
    words: str,
) -> None:
    error = refused(tmp_path, make(), declared_type=declared_type, kind=kind)
    assert (error.code, error.status) == ("media_unsupported", 415)
    assert words in error.message
    if declared_type:
        assert declared_type in error.message


def test_text_must_be_text_all_the_way(tmp_path: Path) -> None:
    data = mf.text() * 4 + b"\x00\x01binary"
    assert len(mf.text() * 4) > media.HEAD_BYTES
    assert refused(tmp_path, data).code == "media_unsupported"


def test_a_zip_declared_as_docx_is_a_zip(tmp_path: Path) -> None:
    found = run(tmp_path, mf.ooxml(content_types=False), declared_type=DOCX, filename="q3.docx")
    assert (found.kind, found.mime, found.filename) == (
        "document",
        "application/zip",
        "q3.docx.zip",
    )


def test_any_accepted_file_may_be_sent_as_a_document_as_it_is(tmp_path: Path) -> None:
    found = run(
        tmp_path, mf.jpeg(), declared_type="image/jpeg", kind="document", filename="scan.jpg"
    )
    assert (found.kind, found.mime, found.clean, found.filename) == (
        "document",
        "image/jpeg",
        None,
        "scan.jpg",
    )


@pytest.mark.parametrize("make", [mf.jpeg_garbage, mf.jpeg_truncated])
def test_an_undecodable_image_is_corrupt(tmp_path: Path, make: Callable[[], bytes]) -> None:
    error = refused(tmp_path, make(), declared_type="image/jpeg")
    assert (error.code, error.status) == ("media_corrupt", 422)
    assert "JPEG" in error.message


def test_broken_containers_are_corrupt(tmp_path: Path) -> None:
    mp4 = mf.mp4()
    assert refused(tmp_path, mp4[: len(mp4) - 40]).code == "media_corrupt"
    assert refused(tmp_path, mf.webm()[:60]).code == "media_corrupt"
    assert refused(tmp_path, mf.plain_zip()[:40]).code == "media_corrupt"
    assert refused(tmp_path, b"RIFF\x00\x00\x00\x00WAVEjunk").code == "media_corrupt"
    assert refused(tmp_path, b"").code == "media_corrupt"


def test_an_unknown_kind_is_a_bad_request(tmp_path: Path) -> None:
    assert refused(tmp_path, mf.jpeg(), kind="sticker").code == "invalid_request"


# --- decompression bombs and sizes -----------------------------------------------------------


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@pytest.mark.parametrize(
    ("width", "height", "depth"),
    [(30000, 30000, 1), (30000, 30000, 8), (10000, 10000, 8), (8000, 8000, 8)],
)
def test_a_png_bomb_is_refused_before_it_is_decoded(
    tmp_path: Path, width: int, height: int, depth: int
) -> None:
    bomb = mf.png_bomb(width, height, bit_depth=depth)
    assert len(bomb) < 10_000
    before, started = _peak_rss_mb(), time.perf_counter()
    error = refused(tmp_path, bomb, declared_type="image/png")
    assert (error.code, error.status) == ("media_bomb", 422)
    assert time.perf_counter() - started < 1.0
    assert _peak_rss_mb() - before < 100, "nothing the size of the image was allocated"


def test_too_many_frames_is_a_bomb(tmp_path: Path) -> None:
    error = refused(tmp_path, mf.gif_many_frames(1001))
    assert error.code == "media_bomb" and "1001 frames" in error.message
    assert run(tmp_path, mf.gif_many_frames(1000)).kind == "gif"
    few = load_settings(data_dir=tmp_path, media_max_gif_frames=2)
    assert refused(tmp_path, mf.webp_animated(3), settings=few).code == "media_bomb"


def test_an_animation_counts_the_pixels_of_all_its_frames(tmp_path: Path) -> None:
    tight = load_settings(data_dir=tmp_path, media_max_image_pixels=2000)  # 32 x 24 = 768 a frame
    assert run(tmp_path, mf.webp_animated(2), settings=tight).kind == "gif"
    assert refused(tmp_path, mf.webp_animated(3), settings=tight).code == "media_bomb"


def test_each_kind_has_its_own_size_limit(tmp_path: Path) -> None:
    small = load_settings(data_dir=tmp_path, media_max_image_bytes=500, media_max_voice_bytes=5000)
    error = refused(tmp_path, mf.jpeg(), settings=small)
    assert (error.code, error.status) == ("media_too_large", 413)
    assert "An image may be at most 500 bytes" in error.message
    assert run(tmp_path, mf.wav(), settings=small).kind == "audio"
    assert refused(tmp_path, mf.wav(), kind="voice", settings=small).code == "media_too_large"
    assert run(tmp_path, mf.jpeg(), kind="document", settings=small).kind == "document"


def test_the_upload_limit_is_the_largest_kind_limit(settings: Settings) -> None:
    assert media.limit_for("video", settings) == 100_000_000
    assert media.limit_for("voice", settings) == 20_000_000
    assert media.MAX_UPLOAD_BYTES(settings) == media.max_upload_bytes(settings) == 100_000_000
    bigger = load_settings(data_dir=settings.data_dir, media_max_audio_bytes=300_000_000)
    assert media.max_upload_bytes(bigger) == 300_000_000


def test_a_file_over_every_limit_is_too_large(tmp_path: Path) -> None:
    tiny = load_settings(
        data_dir=tmp_path,
        **{f"media_max_{kind}_bytes": 100 for kind in media.KINDS},  # type: ignore[arg-type]
    )
    error = refused(tmp_path, mf.pdf(), settings=tiny)
    assert error.code == "media_too_large" and "at most 100 bytes" in error.message


# --- voice notes ------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "channels"), [(2, 1), (1, 1), (3, 2), (4, 1)])
def test_a_wav_voice_note_gets_its_waveform(tmp_path: Path, width: int, channels: int) -> None:
    found = run(tmp_path, mf.wav(2.0, width=width, channels=channels), kind="voice")
    waveform = found.waveform
    assert waveform is not None and len(waveform) == 64 and max(waveform) == 255
    assert all(0 <= level <= 255 for level in waveform)
    assert statistics.mean(waveform[:30]) < 40 < 200 < statistics.mean(waveform[34:])
    assert check_waveform(waveform) == waveform


def test_only_voice_notes_get_a_waveform_and_only_from_samples(tmp_path: Path) -> None:
    assert run(tmp_path, mf.wav(), kind="audio").waveform is None
    assert run(tmp_path, mf.ogg_opus(), kind="voice").waveform is None  # needs ffmpeg


@pytest.mark.parametrize(
    "values", [[], [256], [-1], [True], ["3"], [1.5], list(range(257)), "abc", None, {"a": 1}]
)
def test_a_client_waveform_must_be_levels(values: object) -> None:
    with pytest.raises(BackchannelError) as caught:
        check_waveform(values)
    assert caught.value.code == "invalid_request"


def test_a_client_waveform_of_levels_is_kept() -> None:
    assert check_waveform([0, 255, 7]) == [0, 255, 7]
    assert check_waveform((1,) * 256) == [1] * 256


# --- ffmpeg and ffprobe, when they are installed ------------------------------------------------

_FAKE_TOOL = """#!{python}
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
with open(os.environ["FAKE_TOOL_LOG"], "a") as log:
    log.write(json.dumps([Path(sys.argv[0]).name, *args]) + "\\n")
if Path(sys.argv[0]).name == "ffprobe":
    print(json.dumps({{"format": {{"duration": "7.250"}},
                      "streams": [{{"codec_type": "video", "width": 1280, "height": 720}}]}}))
elif args[-1] == "pipe:1":
    quiet = (100).to_bytes(2, "little", signed=True) * 8000
    loud = (-20000).to_bytes(2, "little", signed=True) * 8000
    sys.stdout.buffer.write(quiet + loud)
else:
    from PIL import Image
    Image.new("RGB", (64, 36), (10, 200, 30)).save(args[-1].removeprefix("file:"), "JPEG")
"""


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("ffmpeg", "ffprobe"):
        script = tools / name
        script.write_text(_FAKE_TOOL.format(python=sys.executable))
        script.chmod(0o755)
    log = tmp_path / "tools.log"
    monkeypatch.setenv("PATH", str(tools))
    monkeypatch.setenv("FAKE_TOOL_LOG", str(log))
    return log


def test_with_ffmpeg_a_video_gets_a_poster_and_a_voice_note_a_waveform(
    tmp_path: Path, fake_tools: Path
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    video = run(uploads, mf.mp4())
    assert video.poster is not None and video.poster.mime == "image/jpeg"
    assert video.poster.path.parent == uploads
    assert video.thumbnail is not None and video.blurhash is not None
    assert (video.width, video.height) == (640, 360)  # the container said so
    voice = run(uploads, mf.ogg_opus(), kind="voice")
    assert voice.waveform is not None and len(voice.waveform) == 64
    assert voice.waveform[0] < 10 and voice.waveform[-1] == 255
    calls = [line for line in fake_tools.read_text().splitlines()]
    for call in calls:  # the demuxer forced, the file protocol only, never a bare path
        assert '"-f"' in call and '"-protocol_whitelist", "file"' in call and '"file:/' in call


def test_with_ffprobe_a_missing_duration_is_filled_in(tmp_path: Path, fake_tools: Path) -> None:
    found = run(tmp_path, mf.mp4(seconds=0))
    assert found.duration_ms == 7250


# --- file names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "mime", "safe"),
    [
        ("../../etc/passwd", "text/plain", "passwd.txt"),
        ("invoice\u202efdp.exe", "application/pdf", "invoicefdp.exe.pdf"),
        ("C:\\Users\\me\\Q3 report.PDF", "application/pdf", "Q3 report.PDF"),
        ("  ..hidden.pdf. ", "application/pdf", "hidden.pdf"),
        ("tab\there\nnew\x00line\u200b.docx", DOCX, "tab here newline.docx"),
        ("CON.txt", "text/plain", "_CON.txt"),
        ("a<b>c:d|e?.txt", "text/plain", "a_b_c_d_e_.txt"),
        ("\u202e\u2066", "application/pdf", "file.pdf"),
        ("notes.md", "text/plain", "notes.md"),
        ("résumé.pdf", "application/pdf", "résumé.pdf"),
    ],
)
def test_document_names_are_made_safe(raw: str, mime: str, safe: str) -> None:
    assert media.safe_filename(raw, mime) == safe


def test_long_names_keep_their_extension() -> None:
    name = media.safe_filename("é" * 300 + ".pdf", "application/pdf")
    assert name is not None and name.endswith("é.pdf") and len(name.encode()) <= 255


def test_inspect_names_documents_and_audio_only(tmp_path: Path) -> None:
    assert run(tmp_path, mf.pdf(), filename="../../secret/plan.pdf").filename == "plan.pdf"
    assert run(tmp_path, mf.mp3(), filename="song.mp3").filename == "song.mp3"
    assert run(tmp_path, mf.jpeg(), filename="IMG_0001.JPG").filename is None
    assert run(tmp_path, mf.pdf()).filename is None


@given(st.text(max_size=400), st.sampled_from(sorted(media.TYPES)))
def test_safe_filename_is_always_safe(raw: str, mime: str) -> None:
    name = media.safe_filename(raw, mime)
    if name is None:
        assert not raw.strip()
        return
    assert name and len(name.encode()) <= media.NAME_MAX_BYTES
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert not any(
        ord(ch) < 32 or 0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069 for ch in name
    )
    assert name.rpartition(".")[2].lower() in media.TYPES[mime].extensions


def test_derived_files_are_beside_the_upload_and_nothing_else_is_left(tmp_path: Path) -> None:
    found = run(tmp_path, mf.jpeg())
    made = {p for p in (found.clean, found.thumbnail and found.thumbnail.path) if p}
    assert all(p.parent == tmp_path and p.exists() for p in made)
    assert set(tmp_path.iterdir()) - {tmp_path / "upload.bin", tmp_path / "no-tools"} == made
    for path in made:
        os.unlink(path)
