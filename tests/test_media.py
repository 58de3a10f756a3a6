"""Media end to end through the API: upload, attach, download with the access rules,
ranges, signed links, view once, erasure on unsend, the sweep; and the other message
kinds (location, shared profile, shared post). Real files, made here."""

from __future__ import annotations

import asyncio
import io
import struct
import wave
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from backchannel.config import Settings
from backchannel.services import media as media_service
from tests.conftest import Api, User, make_settings

CONVERSATIONS = "/api/v1/conversations"
MEDIA = "/api/v1/media"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, media_max_image_bytes=2_000_000)


def jpeg_with_gps(width: int = 640, height: int = 480) -> bytes:
    image = Image.new("RGB", (width, height), (200, 40, 40))
    exif = Image.Exif()
    exif[0x0110] = "SecretCam 3000"  # camera model
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}  # GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def wav_seconds(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        frames = int(8000 * seconds)
        w.writeframes(b"".join(struct.pack("<h", (i * 300) % 20000 - 10000) for i in range(frames)))
    return out.getvalue()


def pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


async def upload(user: User, data: bytes, name: str, content_type: str, **fields: str) -> Any:
    return await user.post(MEDIA, files={"file": (name, data, content_type)}, data=fields)


async def uploaded(user: User, data: bytes, name: str, content_type: str, **fields: str) -> str:
    r = await upload(user, data, name, content_type, **fields)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def code(r: Any) -> str:
    return str(r.json()["error"]["code"])


async def test_a_photo_is_cleaned_attached_and_delivered(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    token = (await bob.sync())["next"]
    r = await upload(alice, jpeg_with_gps(), "holiday.jpg", "image/jpeg")
    assert r.status_code == 201, r.text
    photo = r.json()
    assert (photo["kind"], photo["width"], photo["height"]) == ("image", 640, 480)
    assert photo["has_thumbnail"] and photo["blurhash"]
    sent = await alice.send(cid, "look", media=[photo["id"]])
    assert [m["id"] for m in sent["media"]] == [photo["id"]]
    events = (await bob.sync(token))["events"]
    created = next(e for e in events if e["type"] == "message.created")
    assert created["data"]["message"]["media"][0]["id"] == photo["id"]
    history = (await bob.get(f"{CONVERSATIONS}/{cid}/messages")).json()["items"]
    assert history[-1]["media"][0]["kind"] == "image"
    r = await bob.get(f"{MEDIA}/{photo['id']}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    assert b"SecretCam" not in r.content  # the metadata is gone
    cleaned = Image.open(io.BytesIO(r.content))
    assert cleaned.size == (640, 480) and 0x8825 not in cleaned.getexif()
    thumb = await bob.get(f"{MEDIA}/{photo['id']}/thumbnail")
    assert thumb.status_code == 200
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320


async def test_only_members_and_the_uploader_fetch_and_only_the_uploader_attaches(
    api: Api,
) -> None:
    alice, bob, eve = await api.users(3)
    cid = await alice.direct(bob)
    mine = await uploaded(alice, jpeg_with_gps(), "a.jpg", "image/jpeg")
    assert (await alice.get(f"{MEDIA}/{mine}")).status_code == 200  # my own, unattached
    assert (await bob.get(f"{MEDIA}/{mine}")).status_code == 404  # not sent anywhere yet
    # someone else's upload id cannot be attached, nor can mine twice
    eves = await uploaded(eve, jpeg_with_gps(), "e.jpg", "image/jpeg")
    r = await alice.post(f"{CONVERSATIONS}/{cid}/messages", json={"text": "x", "media": [eves]})
    assert r.status_code == 404 and code(r) == "media_not_found"
    await alice.send(cid, "", media=[mine])
    r = await alice.post(f"{CONVERSATIONS}/{cid}/messages", json={"text": "", "media": [mine]})
    assert r.status_code == 404 and code(r) == "media_not_found"
    # a stranger gets exactly what a missing id gets
    stranger = await eve.get(f"{MEDIA}/{mine}")
    missing = await eve.get(f"{MEDIA}/md_doesnotexistatall000")
    assert stranger.status_code == missing.status_code == 404
    assert stranger.json() == missing.json()
    assert (await bob.get(f"{MEDIA}/{mine}")).status_code == 200
    # after leaving a group, its media is out of reach
    gid = await alice.group(bob, eve)
    shared = await uploaded(alice, jpeg_with_gps(), "g.jpg", "image/jpeg")
    await alice.send(gid, "for the group", media=[shared])
    assert (await eve.get(f"{MEDIA}/{shared}")).status_code == 200
    assert (await eve.delete(f"{CONVERSATIONS}/{gid}/members/{eve.handle}")).status_code == 204
    assert (await eve.get(f"{MEDIA}/{shared}")).status_code == 404


async def test_range_requests_and_documents(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    voice = await upload(alice, wav_seconds(1.5), "note.wav", "audio/wav", voice="true")
    assert voice.status_code == 201, voice.text
    assert voice.json()["kind"] == "voice"
    assert abs(voice.json()["duration_ms"] - 1500) < 50
    doc = await uploaded(alice, pdf(), "../../invoice.pdf", "application/pdf")
    await alice.send(cid, "", media=[voice.json()["id"], doc])
    size = voice.json()["size"]
    r = await bob.get(f"{MEDIA}/{voice.json()['id']}", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100
    assert r.headers["content-range"] == f"bytes 0-99/{size}"
    r = await bob.get(f"{MEDIA}/{voice.json()['id']}", headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and len(r.content) == 10
    r = await bob.get(f"{MEDIA}/{voice.json()['id']}", headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416 and code(r) == "range_not_satisfiable"
    r = await bob.get(f"{MEDIA}/{doc}")
    assert r.status_code == 200 and r.content == pdf()
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment") and "invoice.pdf" in disposition
    assert ".." not in disposition


async def test_signed_links(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    photo = await uploaded(alice, jpeg_with_gps(), "a.jpg", "image/jpeg")
    await alice.send(cid, "", media=[photo])
    links = (await bob.get(f"{MEDIA}/{photo}/links")).json()
    plain = api.http  # no bearer token
    assert (await plain.get(links["url"])).status_code == 200
    assert (await plain.get(links["thumbnail_url"])).status_code == 200
    assert (await plain.get(links["url"] + "0")).status_code == 404  # a tampered signature
    # a thumbnail's signature does not open the original
    assert (await plain.get(links["thumbnail_url"].replace("/thumbnail?", "?"))).status_code == 404
    assert (await plain.get(f"{MEDIA}/{photo}")).status_code == 401


async def test_view_once(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    token = (await alice.sync())["next"]
    secret = await uploaded(alice, jpeg_with_gps(), "s.jpg", "image/jpeg", view_once="true")
    await alice.send(cid, "", media=[secret])
    assert (await bob.get(f"{MEDIA}/{secret}/thumbnail")).status_code == 404
    assert (await bob.get(f"{MEDIA}/{secret}")).status_code == 200
    again = await bob.get(f"{MEDIA}/{secret}")
    assert again.status_code == 410 and code(again) == "media_gone"
    opened = [e for e in (await alice.sync(token))["events"] if e["type"] == "media.opened"]
    assert opened and opened[0]["data"] == {"media_id": secret, "user": bob.handle}
    history = (await alice.get(f"{CONVERSATIONS}/{cid}/messages")).json()["items"]
    assert history[-1]["media"][0]["opened_by"] == [bob.handle]  # the sender sees it
    theirs = (await bob.get(f"{CONVERSATIONS}/{cid}/messages")).json()["items"]
    assert "opened_by" not in theirs[-1]["media"][0]  # nobody else does
    await asyncio.sleep(0.05)  # the erasure of the bytes runs after the response
    assert (await alice.get(f"{MEDIA}/{secret}")).status_code == 410  # every recipient saw it


async def test_unsend_erases_the_media(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    photo = await uploaded(alice, jpeg_with_gps(), "a.jpg", "image/jpeg")
    sent = await alice.send(cid, "oops", media=[photo])
    key = await api.core.store.read("k", lambda t: _key(t, photo))
    assert await api.core.media_store().exists(key)
    r = await alice.post(f"{CONVERSATIONS}/{cid}/messages/{sent['id']}/unsend")
    assert r.status_code == 200 and r.json()["media"] == []
    assert (await bob.get(f"{MEDIA}/{photo}")).status_code in (404, 410)
    assert not await api.core.media_store().exists(key)


def _key(t: Any, pid: str) -> str:
    from sqlalchemy import select

    from backchannel.store.tables import media

    return str(t.conn.execute(select(media.c.storage_key).where(media.c.pid == pid)).scalar())


async def test_refused_uploads(api: Api) -> None:
    alice = await api.register()
    html = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
    r = await upload(alice, html, "cat.png", "image/png")
    assert r.status_code == 415 and code(r) == "media_unsupported"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    r = await upload(alice, svg, "cat.svg", "image/svg+xml")
    assert r.status_code == 415 and code(r) == "media_unsupported"
    big = jpeg_with_gps(4000, 4000) + b"\0" * 2_100_000
    r = await upload(alice, big, "big.jpg", "image/jpeg")
    assert r.status_code == 413 and code(r) == "media_too_large"
    r = await alice.post(MEDIA, json={"file": "not a form"})
    assert r.status_code == 400
    assert list((api.core.settings.data_dir / "tmp").glob("upload-*")) == []  # nothing left


async def test_requests_carry_text_only(tmp_path: Path, database_url: str) -> None:
    from tests.test_conversations import build_api

    async with build_api(tmp_path, database_url, dm_inbox_default="following") as api:
        alice, bob = await api.users(2)
        r = await alice.post(CONVERSATIONS, json={"kind": "direct", "members": [bob.handle]})
        cid = r.json()["id"]
        photo = await uploaded(alice, jpeg_with_gps(), "a.jpg", "image/jpeg")
        r = await alice.post(
            f"{CONVERSATIONS}/{cid}/messages", json={"text": "hi", "media": [photo]}
        )
        assert r.status_code == 422 and code(r) == "request_text_only"
        r = await alice.post(
            f"{CONVERSATIONS}/{cid}/messages",
            json={"location": {"latitude": 1.0, "longitude": 2.0}},
        )
        assert r.status_code == 422 and code(r) == "request_text_only"


async def test_unattached_uploads_are_swept(tmp_path: Path, database_url: str) -> None:
    from tests.test_conversations import build_api

    async with build_api(tmp_path, database_url, media_unattached_ttl_seconds=0.2) as api:
        alice, bob = await api.users(2)
        cid = await alice.direct(bob)
        kept = await uploaded(alice, jpeg_with_gps(), "k.jpg", "image/jpeg")
        await alice.send(cid, "", media=[kept])
        dropped = await uploaded(alice, jpeg_with_gps(100, 100), "d.jpg", "image/jpeg")
        key = await api.core.store.read("k", lambda t: _key(t, dropped))
        await asyncio.sleep(0.3)
        assert await media_service.sweep(api.core) >= 1
        assert (await alice.get(f"{MEDIA}/{dropped}")).status_code == 404
        assert not await api.core.media_store().exists(key)
        assert (await bob.get(f"{MEDIA}/{kept}")).status_code == 200


async def test_locations_profiles_and_posts(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    cid = await alice.direct(bob)
    where = await alice.send(
        cid, "", location={"latitude": 52.52, "longitude": 13.405, "label": "Alexanderplatz"}
    )
    assert where["kind"] == "location" and where["share"]["label"] == "Alexanderplatz"
    who = await alice.send(cid, "meet carol", profile=carol.handle)
    assert who["kind"] == "profile" and who["share"]["handle"] == carol.handle
    post = await alice.send(
        cid, "", post={"url": "https://social.example/p/123", "title": "My post"}
    )
    assert post["share"] == {
        "url": "https://social.example/p/123",
        "title": "My post",
        "image_url": None,
    }
    history = (await bob.get(f"{CONVERSATIONS}/{cid}/messages")).json()["items"]
    assert [m["kind"] for m in history] == ["location", "profile", "post"]
    for bad in (
        {"location": {"latitude": 91, "longitude": 0}},
        {"location": {"latitude": 1, "longitude": 2}, "profile": carol.handle},
        {"post": {"url": "javascript:alert(1)"}},
        {"text": ""},
    ):
        r = await alice.post(f"{CONVERSATIONS}/{cid}/messages", json=bad)
        assert r.status_code in (400, 422), bad
    r = await alice.post(f"{CONVERSATIONS}/{cid}/messages", json={"profile": "nobody_at_all"})
    assert r.status_code == 404 and code(r) == "user_not_found"


# --- link previews end to end -----------------------------------------------------------------


async def test_a_link_preview_is_built_after_the_send_with_its_image_rehosted(
    tmp_path: Path, database_url: str
) -> None:
    from tests.test_conversations import build_api
    from tests.test_previews import LocalServer, page

    site = LocalServer()
    await site.start()
    image = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 200)).save(image, "PNG")
    site.routes["/article"] = page(
        f"""<html><head><title>Fallback</title>
        <meta property="og:title" content="Backchannel ships media">
        <meta property="og:description" content="Photos, voice notes &amp; more.">
        <meta property="og:site_name" content="The Local News">
        <meta property="og:image" content="{site.url("/cover.png")}">
        </head><body>…</body></html>"""
    )
    site.routes["/cover.png"] = page(image.getvalue(), content_type="image/png")
    try:
        async with build_api(
            tmp_path, database_url, preview_allowed_networks=["127.0.0.1/32"]
        ) as api:
            alice, bob = await api.users(2)
            cid = await alice.direct(bob)
            token = (await bob.sync())["next"]
            sent = await alice.send(cid, f"read this {site.url('/article')} !")
            event = await _preview_event(bob, token)
            preview = event["data"]["preview"]
            assert event["data"]["message_id"] == sent["id"]
            assert preview["title"] == "Backchannel ships media"
            assert preview["description"] == "Photos, voice notes & more."
            assert preview["site_name"] == "The Local News"
            cover = preview["image"]
            assert (cover["kind"], cover["width"], cover["height"]) == ("image", 300, 200)
            fetched = await bob.get(f"{MEDIA}/{cover['id']}")
            assert fetched.status_code == 200  # served by Backchannel, to members
            history = (await bob.get(f"{CONVERSATIONS}/{cid}/messages")).json()["items"]
            assert history[-1]["preview"]["title"] == preview["title"]
            assert history[-1]["media"] == []  # the cover is the preview's, not an attachment
            # the sender removes it: gone for everyone
            r = await alice.delete(f"{CONVERSATIONS}/{cid}/messages/{sent['id']}/preview")
            assert r.status_code == 204
            history = (await bob.get(f"{CONVERSATIONS}/{cid}/messages")).json()["items"]
            assert history[-1]["preview"] is None
            r = await bob.delete(f"{CONVERSATIONS}/{cid}/messages/{sent['id']}/preview")
            assert r.status_code == 403
    finally:
        await site.stop()


async def _preview_event(user: User, token: str) -> dict[str, Any]:
    for _ in range(50):
        body = await user.sync(token, timeout=200)
        for event in body["events"]:
            if event["type"] == "message.preview":
                return dict(event)
        token = body["next"]
    raise AssertionError("no message.preview")


async def test_no_preview_for_internal_addresses_requests_or_when_off(
    tmp_path: Path, database_url: str
) -> None:
    from tests.test_conversations import build_api
    from tests.test_previews import LocalServer, page

    site = LocalServer()
    await site.start()
    site.routes["/"] = page("<title>internal</title>")
    try:
        async with build_api(tmp_path, database_url) as api:  # nothing internal allowed
            alice, bob = await api.users(2)
            cid = await alice.direct(bob)
            await alice.send(cid, f"see {site.url('/')}")
            await asyncio.sleep(0.3)
            assert site.connections == 0  # refused before any connection
            history = (await bob.get(f"{CONVERSATIONS}/{cid}/messages")).json()["items"]
            assert history[-1]["preview"] is None
    finally:
        await site.stop()


# --- storage --------------------------------------------------------------------------------


async def test_a_failing_store_refuses_the_upload_and_records_nothing(api: Api) -> None:
    from backchannel.media.local import LocalMediaStore
    from backchannel.store import media as media_db

    alice = await api.register()
    api.core.settings.data_dir.mkdir(parents=True, exist_ok=True)
    blocker = api.core.settings.data_dir / "not-a-directory"
    blocker.write_bytes(b"")
    real = api.core.media
    api.core.media = LocalMediaStore(blocker / "media")  # a real OS error on every write
    try:
        r = await upload(alice, jpeg_with_gps(), "a.jpg", "image/jpeg")
    finally:
        api.core.media = real
    assert r.status_code == 503 and code(r) == "storage_unavailable"
    count = await api.core.store.read("count", lambda t: media_db.count_media(t.conn))
    assert count == 0
    assert list((api.core.settings.data_dir / "tmp").glob("*")) == []  # no partial file


async def test_media_on_an_s3_compatible_server(tmp_path: Path, database_url: str) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    from tests.test_conversations import build_api

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        ).create_bucket(Bucket="bc-media")
        async with build_api(
            tmp_path,
            database_url,
            media_backend="s3",
            s3_bucket="bc-media",
            s3_endpoint_url=endpoint,
            s3_access_key_id="test",
            s3_secret_access_key="test",
        ) as api:
            alice, bob = await api.users(2)
            cid = await alice.direct(bob)
            voice = await uploaded(alice, wav_seconds(1.0), "v.wav", "audio/wav", voice="true")
            sent = await alice.send(cid, "", media=[voice])
            r = await bob.get(f"{MEDIA}/{voice}", headers={"Range": "bytes=10-19"})
            assert r.status_code == 206 and len(r.content) == 10
            full = await bob.get(f"{MEDIA}/{voice}")
            assert full.content[10:20] == r.content and full.content[:4] == b"RIFF"
            await alice.post(f"{CONVERSATIONS}/{cid}/messages/{sent['id']}/unsend")
            assert (await bob.get(f"{MEDIA}/{voice}")).status_code in (404, 410)
    finally:
        server.stop()


async def test_forwarding_carries_the_attachments_but_not_view_once_media(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    first = await alice.direct(bob)
    second = await bob.direct(carol)
    photo = await uploaded(alice, jpeg_with_gps(), "a.jpg", "image/jpeg")
    sent = await alice.send(first, "look", media=[photo])
    r = await bob.post(
        f"{CONVERSATIONS}/{first}/messages/{sent['id']}/forward",
        json={"conversation_ids": [second]},
    )
    assert r.status_code == 201, r.text
    (copy,) = r.json()["items"][0]["media"]
    assert copy["id"] != photo and copy["width"] == 640
    assert (await carol.get(f"{MEDIA}/{copy['id']}")).status_code == 200
    assert (await carol.get(f"{MEDIA}/{photo}")).status_code == 404  # the original stays put
    # unsending the original leaves the forwarded copy (its own message) alone
    await alice.post(f"{CONVERSATIONS}/{first}/messages/{sent['id']}/unsend")
    assert (await carol.get(f"{MEDIA}/{copy['id']}")).status_code == 200
    once = await uploaded(alice, jpeg_with_gps(), "o.jpg", "image/jpeg", view_once="true")
    secret = await alice.send(first, "", media=[once])
    r = await bob.post(
        f"{CONVERSATIONS}/{first}/messages/{secret['id']}/forward",
        json={"conversation_ids": [second]},
    )
    assert r.status_code == 403


KINDS_END_TO_END = [
    ("gif", "anim.gif", "image/gif", "gif", {}),
    ("webp", "photo.webp", "image/webp", "image", {}),
    ("png", "shot.png", "image/png", "image", {}),
    ("mp4", "clip.mp4", "video/mp4", "video", {}),
    ("webm", "clip.webm", "video/webm", "video", {}),
    ("mp3", "song.mp3", "audio/mpeg", "audio", {}),
    ("ogg_opus", "note.ogg", "audio/ogg", "voice", {"voice": "true"}),
    ("m4a", "memo.m4a", "audio/mp4", "audio", {}),
    ("ooxml", "report.docx", "application/octet-stream", "document", {}),
    ("plain_zip", "files.zip", "application/zip", "document", {}),
    ("text", "notes.txt", "text/plain", "document", {}),
]


@pytest.mark.parametrize(("maker", "name", "declared", "kind", "fields"), KINDS_END_TO_END)
async def test_every_kind_end_to_end(
    api: Api, maker: str, name: str, declared: str, kind: str, fields: dict[str, str]
) -> None:
    from tests import media_files

    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    data = getattr(media_files, maker)()
    r = await upload(alice, data, name, declared, **fields)
    assert r.status_code == 201, r.text
    uploaded_view = r.json()
    assert uploaded_view["kind"] == kind
    if kind in ("video", "audio", "voice"):
        assert uploaded_view["duration_ms"] and uploaded_view["duration_ms"] > 0
    await alice.send(cid, "", media=[uploaded_view["id"]])
    fetched = await bob.get(f"{MEDIA}/{uploaded_view['id']}")
    assert fetched.status_code == 200 and len(fetched.content) == uploaded_view["size"]
    assert fetched.headers["content-type"].startswith(uploaded_view["mime"])
    inline = kind != "document"
    assert fetched.headers["content-disposition"].startswith("inline" if inline else "attachment")


async def test_bytes_deleted_while_shared_are_put_back(api: Api) -> None:
    from backchannel.media.local import LocalMediaStore

    class RacingStore(LocalMediaStore):
        """Another node erases the last other user of these bytes right after this put
        found them stored: the race content addressing opens."""

        async def put_file(self, path: Path, *, content_type: str) -> Any:
            stored = await super().put_file(path, content_type=content_type)
            if self.race:
                self.race = False
                await self.delete(stored.key)
            return stored

    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    real = api.core.media
    racing = RacingStore(api.core.settings.data_dir / "media")
    racing.race = True  # type: ignore[attr-defined]
    api.core.media = racing
    try:
        photo = await uploaded(alice, jpeg_with_gps(), "a.jpg", "image/jpeg")
    finally:
        api.core.media = real
    await alice.send(cid, "", media=[photo])
    assert (await bob.get(f"{MEDIA}/{photo}")).status_code == 200
