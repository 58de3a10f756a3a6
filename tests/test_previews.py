"""Link previews: a real local HTTP(S) server, the SSRF corpus, and the HTML reader.

The fetcher is tested against a small HTTP/1.1 server started here on 127.0.0.1 (allowed
through `preview_allowed_networks` where a test needs to reach it), and against a
recording transport where a test must prove that no request was made at all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import ValidationError

from backchannel.config import Settings
from backchannel.previews import (
    Preview,
    PreviewFetcher,
    address_refusal,
    first_previewable_link,
    normalize_url,
)
from backchannel.previews.parse import (
    MAX_DESCRIPTION,
    MAX_SITE_NAME,
    MAX_TITLE,
    decode_html,
    parse_preview,
)

PUBLIC_IP = "93.184.216.34"


def preview_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"preview_allowed_networks": ["127.0.0.1/32"]}
    values.update(overrides)
    return Settings(**values)


# --- a local HTTP/1.1 server ------------------------------------------------------------


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]  # names in lower case


Handler = Callable[[Seen, asyncio.StreamWriter], Awaitable[None]]


async def respond(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
) -> None:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers or []]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


def page(
    body: str | bytes, content_type: str = "text/html; charset=utf-8", status: int = 200
) -> Handler:
    data = body.encode() if isinstance(body, str) else body

    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await respond(writer, status, data, [("Content-Type", content_type)])

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await respond(writer, status, b"", [("Location", location)])

    return handler


@dataclass
class LocalServer:
    """HTTP/1.1 on 127.0.0.1, one request per connection; counts what reaches it."""

    ssl_context: ssl.SSLContext | None = None
    routes: dict[str, Handler] = field(default_factory=dict)
    connections: int = 0
    requests: list[Seen] = field(default_factory=list)
    port: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def url(self, path: str = "/", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            line, *header_lines = head.split("\r\n")
            method, target, _ = line.split(" ", 2)
            headers = {}
            for header in header_lines:
                if header:
                    name, _, value = header.partition(":")
                    headers[name.strip().lower()] = value.strip()
            seen = Seen(method, target, headers)
            self.requests.append(seen)
            await self.routes.get(target, page("not here", status=404))(seen, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    local = LocalServer()
    await local.start()
    yield local
    await local.stop()


@pytest.fixture
async def fetchers() -> AsyncIterator[Callable[..., PreviewFetcher]]:
    """`make(settings=None, **kwargs)`: a PreviewFetcher, closed after the test."""
    made: list[PreviewFetcher] = []

    def make(settings: Settings | None = None, **kwargs: Any) -> PreviewFetcher:
        fetcher = PreviewFetcher(settings or preview_settings(), **kwargs)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.close()


class FakeResolver:
    """DNS answers by host: a list of addresses, or a list of such lists answered in turn
    (the last one repeated). Unknown hosts get PUBLIC_IP. Records every lookup."""

    def __init__(self, answers: dict[str, list[str] | list[list[str]]] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        answer = self.answers.get(host, [PUBLIC_IP])
        if answer and isinstance(answer[0], list):
            turns = [a for a in answer if isinstance(a, list)]
            return turns[min(len(self.calls_for(host)) - 1, len(turns) - 1)]
        return [a for a in answer if isinstance(a, str)]

    def calls_for(self, host: str) -> list[tuple[str, int]]:
        return [call for call in self.calls if call[0] == host]


class RecordingTransport(httpx.AsyncBaseTransport):
    """Answers every request with a small page (or `handler`'s response) and records it:
    a test that expects no request asserts `requests == []`."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.handler = handler

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.handler is not None:
            return self.handler(request)
        return httpx.Response(
            200,
            headers={"Content-Type": "text/html"},
            content=b"<title>Reached</title>",
        )


OG_PAGE = """<!doctype html><html><head>
<meta property="og:title" content="The  title &amp; more">
<meta property="og:description" content="A description
   over lines">
<meta property="og:site_name" content="Example Site">
<meta property="og:image" content="/images/cover.png">
<title>Ignored title</title>
</head><body><p>hello</p></body></html>"""


# --- fetching real pages ------------------------------------------------------------------


async def test_a_page_with_open_graph_tags_gives_every_field(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    server.routes["/article?id=7"] = page(OG_PAGE)
    preview = await fetchers().preview(server.url("/article?id=7#top"))
    assert preview == Preview(
        url=server.url("/article?id=7"),
        title="The title & more",
        description="A description over lines",
        site_name="Example Site",
        image_url=server.url("/images/cover.png"),
    )
    (seen,) = server.requests
    assert seen.headers["host"] == f"127.0.0.1:{server.port}"
    assert "Backchannel" in seen.headers["user-agent"]
    assert "cookie" not in seen.headers and "authorization" not in seen.headers
    assert seen.headers["accept-encoding"] == "identity"


async def test_the_title_tag_and_meta_description_are_the_fallbacks(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    server.routes["/"] = page(
        "<html><head><title>  Plain\n page </title>"
        '<meta name="description" content="Said &lt;plainly&gt;"></head><body>x</body>'
    )
    preview = await fetchers().preview(server.url())
    assert preview is not None
    assert (preview.title, preview.description) == ("Plain page", "Said <plainly>")
    assert preview.site_name == "127.0.0.1" and preview.image_url is None


async def test_charsets_from_the_header_and_from_meta(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    server.routes["/header"] = page(
        "<title>Привет, мир</title>".encode("cp1251"), "text/html; charset=windows-1251"
    )
    server.routes["/meta"] = page(
        '<meta charset="shift_jis"><title>こんにちは</title>'.encode("shift_jis"), "text/html"
    )
    server.routes["/none"] = page(b"<title>caf\xc3\xa9 \xff</title>", "text/html")
    fetcher = fetchers()
    assert (await fetcher.preview(server.url("/header"))).title == "Привет, мир"  # type: ignore[union-attr]
    assert (await fetcher.preview(server.url("/meta"))).title == "こんにちは"  # type: ignore[union-attr]
    assert (await fetcher.preview(server.url("/none"))).title == "café \ufffd"  # type: ignore[union-attr]


async def test_redirects_are_followed_up_to_three(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    server.routes["/r1"] = redirect("/r2", 301)
    server.routes["/r2"] = redirect(server.url("/r3"), 307)
    server.routes["/r3"] = redirect("final", 308)
    server.routes["/final"] = page("<title>Arrived</title>")
    preview = await fetchers().preview(server.url("/r1"))
    assert preview is not None and preview.title == "Arrived"
    assert preview.url == server.url("/final")

    for hop in range(1, 5):
        server.routes[f"/s{hop}"] = redirect(f"/s{hop + 1}")
    server.routes["/s5"] = page("<title>Too far</title>")
    server.requests.clear()
    assert await fetchers().preview(server.url("/s1")) is None
    assert [seen.target for seen in server.requests] == ["/s1", "/s2", "/s3", "/s4"]


@pytest.mark.parametrize(
    "location",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://0x0a000001/",
        "http://localhost/",
        "http://127.0.0.2:{port}/",
        "http://internal.test:{port}/",
        "file:///etc/passwd",
        "ftp://127.0.0.1/",
        "gopher://127.0.0.1:{port}/",
    ],
)
async def test_a_redirect_to_an_internal_address_is_refused(
    location: str, server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    resolver = FakeResolver({"internal.test": ["10.1.2.3"]})
    server.routes["/"] = redirect(location.format(port=server.port))
    assert await fetchers(resolver=resolver).preview(server.url()) is None
    assert server.connections == 1  # the first hop, and nothing after it


async def test_a_redirect_is_checked_before_any_request_is_made(
    fetchers: Callable[..., PreviewFetcher],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/"})

    transport = RecordingTransport(handler)
    fetcher = fetchers(Settings(), resolver=FakeResolver(), transport=transport)
    assert await fetcher.preview("http://example.com/") is None
    assert [str(request.url) for request in transport.requests] == [f"http://{PUBLIC_IP}/"]


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "image/png", "", "text/htmlx"]
)
async def test_a_page_that_is_not_html_gives_no_preview(
    content_type: str, server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    server.routes["/"] = page("<title>Not a page</title>", content_type)
    assert await fetchers().preview(server.url()) is None
    assert server.connections == 1


async def test_error_statuses_and_encodings_give_no_preview(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    server.routes["/gone"] = page("<title>Gone</title>", status=410)

    async def gzipped(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await respond(
            writer,
            200,
            b"\x1f\x8b...",
            [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
        )

    server.routes["/gzip"] = gzipped
    fetcher = fetchers()
    assert await fetcher.preview(server.url("/gone")) is None
    assert await fetcher.preview(server.url("/gzip")) is None


async def test_a_huge_page_is_read_only_up_to_the_cap(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    sent = 0
    finished = asyncio.Event()

    async def endless(seen: Seen, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><head><title>Big</title>"
        )
        chunk = b"<!-- " + b"x" * 65536 + b" -->"
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)  # keep the buffers small
        try:
            while True:  # no </head>, no end: only the cap stops the reader
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
        finally:
            finished.set()

    server.routes["/"] = endless
    started = time.monotonic()
    preview = await fetchers().preview(server.url())
    assert preview is not None and preview.title == "Big"
    await asyncio.wait_for(finished.wait(), 5)  # the reader hung up
    assert time.monotonic() - started < 4
    # 512 KiB read; the rest is what the two sockets' buffers held when it hung up
    print("SENT", sent)
    assert sent < 16 * 1024 * 1024, sent


async def test_reading_stops_at_the_end_of_the_head(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    async def head_then_endless(seen: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
            b"<html><head><title>Short head</title></head><body>"
        )
        await writer.drain()
        await asyncio.sleep(30)  # the body never comes: the reader must not wait for it

    server.routes["/"] = head_then_endless
    started = time.monotonic()
    preview = await fetchers(preview_settings(preview_timeout_seconds=3)).preview(server.url())
    assert preview is not None and preview.title == "Short head"
    assert time.monotonic() - started < 1


async def test_a_slow_server_gives_no_preview_within_the_deadline(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    async def silent(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async def trickle(seen: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<title>Slow</title>")
        while True:  # a byte now and then: no read ever times out, the deadline must
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.05)

    server.routes["/silent"] = silent
    server.routes["/trickle"] = trickle
    fetcher = fetchers(preview_settings(preview_timeout_seconds=0.5))
    for path in ("/silent", "/trickle"):
        started = time.monotonic()
        assert await fetcher.preview(server.url(path)) is None
        assert time.monotonic() - started < 1.5, path


async def test_an_image_is_fetched_within_its_cap(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    server.routes["/cover.png"] = page(png, "image/png")
    server.routes["/moved.png"] = redirect("/cover.png")
    server.routes["/logo.svg"] = page(b"<svg onload='alert(1)'/>", "image/svg+xml")
    server.routes["/page"] = page("<title>x</title>")
    sent = 0

    async def endless_image(seen: Seen, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n\r\n")
        while True:  # no Content-Length: only the cap stops the reader
            writer.write(b"\xff" * 65536)
            await writer.drain()
            sent += 65536

    server.routes["/endless.jpg"] = endless_image
    fetcher = fetchers()
    assert await fetcher.fetch_image(server.url("/cover.png"), max_bytes=len(png)) == (
        png,
        "image/png",
    )
    assert await fetcher.fetch_image(server.url("/moved.png"), max_bytes=10_000) is not None
    assert await fetcher.fetch_image(server.url("/cover.png"), max_bytes=len(png) - 1) is None
    assert await fetcher.fetch_image(server.url("/logo.svg"), max_bytes=10_000) is None
    assert await fetcher.fetch_image(server.url("/page"), max_bytes=10_000) is None
    assert await fetcher.fetch_image(server.url("/endless.jpg"), max_bytes=100_000) is None
    assert sent < 16 * 1024 * 1024


async def test_without_the_allowance_the_local_server_is_never_reached(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    server.routes["/"] = page(OG_PAGE)
    server.routes["/i.png"] = page(b"\x89PNG", "image/png")
    fetcher = fetchers(Settings())
    assert await fetcher.preview(server.url()) is None
    assert await fetcher.preview(server.url(host="localhost")) is None
    assert await fetcher.fetch_image(server.url("/i.png"), max_bytes=100) is None
    assert server.connections == 0


async def test_previews_off_touch_no_network(fetchers: Callable[..., PreviewFetcher]) -> None:
    resolver, transport = FakeResolver(), RecordingTransport()
    fetcher = fetchers(Settings(link_previews=False), resolver=resolver, transport=transport)
    assert await fetcher.preview("https://example.com/") is None
    assert await fetcher.fetch_image("https://example.com/a.png", max_bytes=100) is None
    assert resolver.calls == [] and transport.requests == []


async def test_no_cookies_credentials_or_proxies_from_the_environment(
    server: LocalServer,
    fetchers: Callable[..., PreviewFetcher],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there

    async def set_cookie(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 302, b"", [("Location", "/next"), ("Set-Cookie", "sid=1; Path=/")])

    server.routes["/"] = set_cookie
    server.routes["/next"] = page("<title>Next</title>")
    fetcher = fetchers()
    assert (await fetcher.preview(server.url())) is not None
    assert [seen.target for seen in server.requests] == ["/", "/next"]
    for seen in server.requests:
        assert "cookie" not in seen.headers and "authorization" not in seen.headers


# --- caching ------------------------------------------------------------------------------


async def test_previews_and_failures_are_cached_each_for_its_time(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    now = [1000.0]
    server.routes["/"] = page("<title>Cached</title>")
    fetcher = fetchers(
        preview_settings(preview_cache_seconds=60, preview_failure_cache_seconds=10),
        clock=lambda: now[0],
    )
    first = await fetcher.preview(server.url())
    assert first is not None
    assert await fetcher.preview(server.url("/#other-fragment")) == first  # same URL, normalized
    assert await fetcher.preview(server.url("/missing")) is None
    assert await fetcher.preview(server.url("/missing")) is None
    assert [seen.target for seen in server.requests] == ["/", "/missing"]
    now[0] += 11  # the failure has expired, the preview not yet
    await fetcher.preview(server.url())
    await fetcher.preview(server.url("/missing"))
    assert [seen.target for seen in server.requests] == ["/", "/missing", "/missing"]
    now[0] += 60
    await fetcher.preview(server.url())
    assert len(server.requests) == 4


async def test_concurrent_previews_of_one_link_share_one_fetch(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    async def slowish(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.1)
        await respond(writer, 200, b"<title>Once</title>", [("Content-Type", "text/html")])

    server.routes["/"] = slowish
    fetcher = fetchers()
    results = await asyncio.gather(*(fetcher.preview(server.url()) for _ in range(5)))
    assert {result.title for result in results if result} == {"Once"}
    assert len(server.requests) == 1


# --- connecting to the vetted address ---------------------------------------------------


async def test_the_connection_goes_to_the_vetted_address_under_the_hosts_name(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    # "rebind.test" resolves once to the allowed local address, then to an internal one.
    # Had the fetcher handed the name to httpx, the system resolver would have been asked
    # (and knows no .test name): the page arriving proves the vetted IP was used.
    resolver = FakeResolver({"rebind.test": [["127.0.0.1"], ["10.0.0.1"]]})
    server.routes["/"] = page("<title>Vetted</title>")
    preview = await fetchers(resolver=resolver).preview(server.url(host="rebind.test"))
    assert preview is not None and preview.title == "Vetted"
    assert preview.url == server.url(host="rebind.test")
    assert resolver.calls == [("rebind.test", server.port)]
    (seen,) = server.requests
    assert seen.headers["host"] == f"rebind.test:{server.port}"


async def test_every_redirect_hop_is_resolved_again(
    server: LocalServer, fetchers: Callable[..., PreviewFetcher]
) -> None:
    resolver = FakeResolver({"rebind.test": [["127.0.0.1"], ["10.0.0.1"]]})
    server.routes["/"] = redirect("/next")
    server.routes["/next"] = page("<title>Should not be reached</title>")
    assert await fetchers(resolver=resolver).preview(server.url(host="rebind.test")) is None
    assert len(resolver.calls_for("rebind.test")) == 2
    assert [seen.target for seen in server.requests] == ["/"]


async def test_dns_rebinding_cannot_redirect_the_connection(
    fetchers: Callable[..., PreviewFetcher],
) -> None:
    resolver = FakeResolver({"rebind.example": [[PUBLIC_IP], ["127.0.0.1"]]})
    transport = RecordingTransport()
    fetcher = fetchers(Settings(), resolver=resolver, transport=transport)
    assert await fetcher.preview("https://rebind.example/path?q=1") is not None
    (request,) = transport.requests
    assert str(request.url) == f"https://{PUBLIC_IP}/path?q=1"  # the vetted IP, port 443
    assert request.headers["host"] == "rebind.example"
    assert request.extensions["sni_hostname"] == "rebind.example"
    assert len(resolver.calls) == 1


async def test_each_answer_is_tried_in_turn_and_all_are_vetted(
    fetchers: Callable[..., PreviewFetcher],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "2606:4700::1111":
            raise httpx.ConnectError("unreachable")
        return httpx.Response(
            200, headers={"Content-Type": "text/html"}, content=b"<title>4</title>"
        )

    resolver = FakeResolver({"dual.example": ["2606:4700::1111", "8.8.8.8"]})
    transport = RecordingTransport(handler)
    fetcher = fetchers(Settings(), resolver=resolver, transport=transport)
    preview = await fetcher.preview("http://dual.example/")
    assert preview is not None and preview.title == "4"
    assert [request.url.host for request in transport.requests] == ["2606:4700::1111", "8.8.8.8"]
    assert {request.headers["host"] for request in transport.requests} == {"dual.example"}


def make_tls(tmp_path: Path, hostname: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(a server context with a certificate for `hostname` only, a client context that
    trusts the test CA that signed it)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Backchannel test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    client_context = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode()
    )
    return server_context, client_context


async def test_https_sends_the_hosts_name_and_checks_its_certificate(
    tmp_path: Path, fetchers: Callable[..., PreviewFetcher]
) -> None:
    server_context, client_context = make_tls(tmp_path, "preview.test")
    names: list[str | None] = []
    server_context.sni_callback = lambda _sock, name, _context: names.append(name)  # type: ignore[assignment,return-value]
    tls = LocalServer(ssl_context=server_context)
    await tls.start()
    try:
        tls.routes["/"] = page("<title>Over TLS</title>")
        resolver = FakeResolver({"preview.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        fetcher = fetchers(resolver=resolver, ssl_context=client_context)
        preview = await fetcher.preview(tls.url(host="preview.test", scheme="https"))
        assert preview is not None and preview.title == "Over TLS"
        assert names == ["preview.test"]
        assert tls.requests[0].headers["host"] == f"preview.test:{tls.port}"
        # The same server under another name, or under its IP: the certificate does not
        # name them, so no request is made.
        assert await fetcher.preview(tls.url(host="other.test", scheme="https")) is None
        assert await fetcher.preview(tls.url(scheme="https")) is None
        assert names == ["preview.test", "other.test", None]
        assert len(tls.requests) == 1
    finally:
        await tls.stop()


# --- the SSRF corpus: refused, with no connection at all ---------------------------------

INTERNAL_NAMES: dict[str, list[str] | list[list[str]]] = {
    "rebind.example": ["127.0.0.1"],
    "mixed.example": [PUBLIC_IP, "10.0.0.5"],
    "mixed6.example": ["2606:4700::1111", "fd12:3456::1"],
    "v6local.example": ["::1"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
    "metadata.example": ["169.254.169.254"],
    "garbage.example": ["not-an-ip"],
    "empty.example": [],
}

REFUSED = [
    # loopback and "this host", however written
    "http://localhost/",
    "http://LOCALHOST./",
    "http://localhost:80/",
    "http://app.localhost/",
    "http://127.0.0.1/",
    "http://127.1/",
    "http://127.0.0.1.:80/",
    "http://0/",
    "http://0.0.0.0/",
    "http://0x7f000001/",
    "http://0x7f.1/",
    "http://2130706433/",
    "http://017700000001/",
    "http://0177.0.0.1/",
    "http://%31%32%37.0.0.1/",
    "http://①②⑦.0.0.1/",
    "http://[::]/",
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    # IPv6 embedding an internal IPv4
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[64:ff9b::a00:1]/",
    "http://[64:ff9b:1::1]/",
    "http://[2002:7f00:1::]/",
    "http://[2002:808:808::]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    # link-local, unique-local, site-local, multicast, documentation
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[fd00:ec2::254]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    "http://[2001:db8::1]/",
    # IPv4 ranges
    "http://169.254.169.254/",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.170.2/v2/credentials",
    "http://100.64.0.1/",
    "http://100.100.100.200/",
    "http://192.0.0.192/",
    "http://168.63.129.16/",
    "http://192.168.1.1/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://198.18.0.1/",
    "http://192.0.2.1/",
    "http://198.51.100.7/",
    "http://203.0.113.9/",
    "http://224.0.0.1/",
    "http://239.255.255.250/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://1.2.3.4.5/",
    # schemes, userinfo, ports
    "ftp://example.com/",
    "file:///etc/passwd",
    "gopher://example.com:70/_GET%20/",
    "dict://example.com:11211/stat",
    "ws://example.com/",
    "javascript:alert(1)",
    "data:text/html,<title>x</title>",
    "http://user:pass@example.com/",
    "http://user@example.com/",
    "http://@example.com/",
    "http://example.com@127.0.0.1/",
    "http://example.com:22/",
    "http://example.com:6379/",
    "https://example.com:8443/",
    "http://example.com:0/",
    "http://example.com:99999/",
    "http://intranet/",
    "http:///path-only",
    # names that resolve to internal addresses
    "http://rebind.example/",
    "http://mixed.example/",
    "http://mixed6.example/",
    "http://v6local.example/",
    "http://mapped.example/",
    "http://nat64.example/",
    "https://metadata.example/",
    "http://garbage.example/",
    "http://empty.example/",
]

ALLOWED = [
    "http://example.com/",
    "https://example.com:443/",
    "http://example.com:443/",
    "http://8.8.8.8/",
    "http://[2606:4700::1111]/",
    "http://[::ffff:8.8.8.8]/",
    "http://[64:ff9b::808:808]/",
    "http://bücher.example/",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_internal_and_malformed_urls_are_refused_without_a_connection(
    url: str, fetchers: Callable[..., PreviewFetcher]
) -> None:
    assert len(REFUSED) >= 30
    transport = RecordingTransport()
    fetcher = fetchers(Settings(), resolver=FakeResolver(INTERNAL_NAMES), transport=transport)
    assert await fetcher.preview(url) is None
    assert await fetcher.fetch_image(url, max_bytes=1000) is None
    assert transport.requests == []


@pytest.mark.parametrize("url", ALLOWED)
async def test_public_urls_are_fetched(url: str, fetchers: Callable[..., PreviewFetcher]) -> None:
    """The control for the corpus above: the same set-up does reach public addresses."""
    transport = RecordingTransport()
    fetcher = fetchers(Settings(), resolver=FakeResolver(INTERNAL_NAMES), transport=transport)
    preview = await fetcher.preview(url)
    assert preview is not None and preview.title == "Reached"
    (request,) = transport.requests
    assert ipaddress.ip_address(request.url.host).is_global


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.0.1", "100.64.0.1", "198.19.255.255",
        "169.254.169.254", "168.63.129.16", "192.0.0.192", "0.0.0.0", "0.1.2.3", "224.0.0.251",
        "255.255.255.255", "240.0.0.1", "192.0.2.1", "::", "::1", "::ffff:127.0.0.1",
        "::ffff:192.168.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::",
        "2002:808:808::", "2001::1", "2001:db8::1", "fc00::1", "fd00:ec2::254", "fe80::1",
        "fec0::1", "ff02::1", "::7f00:1", "3fff::1", "100::1",
    ],
)  # fmt: skip
def test_internal_addresses_are_refused(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", PUBLIC_IP, "1.1.1.1", "2606:4700::1111", "2a00:1450:4001::200e",
     "::ffff:8.8.8.8", "64:ff9b::808:808"],
)  # fmt: skip
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_allowed_networks_must_be_networks() -> None:
    with pytest.raises(ValidationError, match="preview_allowed_networks"):
        Settings(preview_allowed_networks=["127.0.0.1/8"])
    with pytest.raises(ValidationError, match="preview_allowed_networks"):
        Settings(preview_allowed_networks=["localhost"])
    assert Settings(preview_allowed_networks=["10.0.0.0/8", "::1/128"]).preview_allowed_networks


# --- URLs and links -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("HTTPS://Example.COM", "https://example.com/"),
        ("http://example.com:80/a b?q=ü#frag", "http://example.com/a%20b?q=%C3%BC"),
        ("https://example.com:443/", "https://example.com/"),
        ("https://example.com:80/", "https://example.com:80/"),
        ("http://bücher.example/", "http://xn--bcher-kva.example/"),
        ("http://faß.de/", "http://xn--fa-hia.de/"),
        ("http://example.com./", "http://example.com/"),
        ("http://0x7f000001/", "http://127.0.0.1/"),
        ("http://[0:0::1]:8080/x", "http://[::1]:8080/x"),
        ("http:\\\\example.com\\a", "http://example.com/a"),
        (" http://exa\tmple.com/\n", "http://example.com/"),
        ("http://user@example.com/", None),
        ("http://example.com:0/", None),
        ("http://example.com:65536/", None),
        ("http://exa mple.com/", None),
        ("http://xn--a.com/", None),
        ("http://1.2.3.999/", None),
        ("mailto:a@example.com", None),
        ("http://" + "a" * 64 + ".com/", None),
        ("http://example.com/" + "a" * 3000, None),
    ],
)
def test_urls_are_normalized(url: str, normalized: str | None) -> None:
    assert normalize_url(url) == normalized


def test_the_first_previewable_link_of_a_message() -> None:
    assert first_previewable_link("see https://Example.COM/a, it's good") == "https://example.com/a"
    assert first_previewable_link("no links here") is None
    assert first_previewable_link("ftp://files.example.com/x then example.org/y") == (
        "http://example.org/y"
    )
    assert first_previewable_link("http://user@evil.example/ or https://good.example/") == (
        "https://good.example/"
    )
    assert first_previewable_link("[docs](https://docs.example.com/p) http://a.example/") == (
        "https://docs.example.com/p"
    )


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_url_normalization_never_raises_and_is_stable(text: str) -> None:
    for candidate in (text, "http://" + text, "https://example.com/" + text):
        normalized = normalize_url(candidate)
        if normalized is not None:
            assert normalized.startswith(("http://", "https://"))
            assert normalize_url(normalized) == normalized
    first_previewable_link(text)


# --- reading HTML ----------------------------------------------------------------------------

PAGE_URL = "https://news.example/story/1"


def test_open_graph_then_twitter_then_the_title_tag() -> None:
    twitter = (
        b'<meta name="twitter:title" content="Tweet title">'
        b'<meta name="twitter:description" content="Tweet text">'
        b'<meta name="twitter:image" content="//cdn.example/t.jpg">'
        b"<title>Tag title</title>"
    )
    preview = parse_preview(twitter, "text/html", PAGE_URL)
    assert preview == Preview(
        url=PAGE_URL,
        title="Tweet title",
        description="Tweet text",
        site_name="news.example",
        image_url="https://cdn.example/t.jpg",
    )
    og = b'<meta property="OG:Title" content="OG title">' + twitter
    assert parse_preview(og, "text/html", PAGE_URL).title == "OG title"  # type: ignore[union-attr]


def test_text_is_text_never_html() -> None:
    html = (
        b"<title>Tom &amp; Jerry <b>bold</b> &lt;script&gt; &#x27;q&#x27; &#0; &nbsp;x</title>"
        b'<meta name="description" content="a\x00b\x07c \xe2\x80\xaeevil\tline&#10;two">'
    )
    preview = parse_preview(html, "text/html; charset=utf-8", PAGE_URL)
    assert preview is not None
    assert preview.title == "Tom & Jerry bold <script> 'q' \ufffd x"
    assert preview.description == "abc evil line two"


def test_lengths_are_capped() -> None:
    html = (
        f'<meta property="og:title" content="{"t" * 1000}">'
        f'<meta property="og:description" content="{"d " * 1000}">'
        f'<meta property="og:site_name" content="{"s" * 1000}">'
    ).encode()
    preview = parse_preview(html, "text/html", PAGE_URL)
    assert preview is not None and preview.title and preview.description and preview.site_name
    assert len(preview.title) == MAX_TITLE and preview.title.endswith("\u2026")
    assert len(preview.description) <= MAX_DESCRIPTION
    assert len(preview.site_name) == MAX_SITE_NAME


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("/a.png", "https://news.example/a.png"),
        ("b.png", "https://news.example/story/b.png"),
        ("http://cdn.example/c.png", "http://cdn.example/c.png"),
        ("javascript:alert(1)", None),
        ("data:image/png;base64,AAAA", None),
        ("ftp://cdn.example/c.png", None),
        ("https://user@cdn.example/c.png", None),
    ],
)
def test_images_are_absolute_http_urls(image: str, expected: str | None) -> None:
    html = f'<title>t</title><meta property="og:image" content="{image}">'.encode()
    assert parse_preview(html, "text/html", PAGE_URL).image_url == expected  # type: ignore[union-attr]


def test_what_is_not_metadata_is_ignored() -> None:
    assert parse_preview(b"<html><body><p>Just text</p></body></html>", None, PAGE_URL) is None
    assert parse_preview(b"", None, PAGE_URL) is None
    svg_title = b"<svg><title>icon</title></svg><title>Real</title>"
    assert parse_preview(svg_title, None, PAGE_URL).title == "Real"  # type: ignore[union-attr]
    in_body = b"<head></head><body><meta property='og:title' content='late'><title>x</title>"
    assert parse_preview(in_body, None, PAGE_URL) is None
    script = b"<script>var t = '<title>no</title>';</script><title>yes</title>"
    assert parse_preview(script, None, PAGE_URL).title == "yes"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "content_type", "text"),
    [
        ("é".encode("cp1252"), "text/html; charset=ISO-8859-1", "é"),
        (b"\x80", "text/html; charset=latin1", "\u20ac"),  # as browsers: windows-1252
        ('<meta charset="utf-8">é'.encode(), "text/html; charset=utf-8", '<meta charset="utf-8">é'),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">\xf0', None, "П"),
        ("\ufeffé".encode("utf-16-le"), None, "é"),
        (b"+ADw-script+AD4-", "text/html; charset=utf-7", "+ADw-script+AD4-"),
        (b"caf\xc3\xa9", "text/html; charset=no-such-charset", "café"),
        (b"caf\xc3\xa9", "text/html; charset=rot13", "café"),
        ('<meta charset="utf-16">é'.encode(), None, '<meta charset="utf-16">é'),
    ],
)
def test_decoding(body: bytes, content_type: str | None, text: str) -> None:
    assert decode_html(body, content_type).endswith(text)


_HTML_BITS = st.sampled_from(
    [
        "<title>", "</title>", "<meta property='og:title' content='", "<meta name=description content=",
        "<meta property=og:image content='", "'>", '"', "<", ">", "/>", "&amp;", "&#0;", "&#xd800;",
        "&", "\x00", "\u202e", "<svg>", "</svg>", "<![CDATA[", "<!--", "-->", "<!", "<?", "<body>",
        "</head>", "<script>", "</script>", "<meta charset=", "utf-7", "shift_jis", "\r\n", " ",
        "<![if !IE]>", "<!DOCTYPE", "<a href='javascript:x'>", "\ufeff",
    ]
)  # fmt: skip


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.lists(st.one_of(_HTML_BITS, st.text(max_size=20)), max_size=60).map(
            lambda parts: "".join(parts).encode("utf-8", "surrogatepass")
        ),
    ),
    st.one_of(st.none(), st.text(max_size=40), st.just("text/html; charset=utf-16")),
)
def test_parsing_never_raises_and_keeps_its_bounds(body: bytes, content_type: str | None) -> None:
    preview = parse_preview(body, content_type, PAGE_URL)
    if preview is None:
        return
    for text, limit in (
        (preview.title, MAX_TITLE),
        (preview.description, MAX_DESCRIPTION),
        (preview.site_name, MAX_SITE_NAME),
    ):
        if text is not None:
            assert 0 < len(text) <= limit and text == text.strip()
            assert not any(unicodedata.category(ch) == "Cc" for ch in text)
            assert "\u202e" not in text and "  " not in text
    if preview.image_url is not None:
        assert normalize_url(preview.image_url) == preview.image_url


async def test_the_default_resolver_asks_the_system() -> None:
    from backchannel.previews.fetch import system_resolver

    answers = await system_resolver("localhost", 80)
    assert answers and all(ipaddress.ip_address(answer).is_loopback for answer in answers)


async def test_a_failing_resolver_gives_no_preview(
    fetchers: Callable[..., PreviewFetcher], caplog: pytest.LogCaptureFixture
) -> None:
    async def no_such_host(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def broken(host: str, port: int) -> list[str]:
        raise RuntimeError("a bug")

    assert await fetchers(resolver=no_such_host).preview("https://nx.example/") is None
    assert await fetchers(resolver=broken).preview("https://bug.example/") is None
    assert "failed unexpectedly" in caplog.text
