"""Fetching pages and images for link previews without becoming a way into the network.

A preview is a request the server makes on a message author's behalf, to a URL they chose:
the classic server-side request forgery (SSRF) hole. So, for every hop of every fetch:

1. the URL must be http(s) without userinfo, on its scheme's default port or 80/443
   (`normalize_url`);
2. the fetcher resolves the host itself and refuses it when ANY address it resolves to is
   not a public internet address (`address_refusal`: private, loopback, link-local,
   CGNAT, documentation, multicast, reserved, cloud metadata, IPv6 forms embedding such
   an IPv4, ...), unless it is in `preview_allowed_networks` (tests, closed networks);
3. it connects to a vetted address itself, never to the name: the request URL names the
   IP, the `Host` header the host, and for https the TLS SNI and the certificate checked
   are the host's (httpcore's `sni_hostname` extension). A DNS answer that changes
   between the check and the connection (DNS rebinding) so changes nothing;
4. redirects are followed by hand, at most `MAX_REDIRECTS`, each new URL checked and
   resolved again from step 1.

Requests carry no cookies, no credentials (no cookie jar, no `.netrc`, `trust_env` off, so
no proxy from the environment either) and a User-Agent naming Backchannel; connections are
never reused (a pooled connection would carry one host's TLS session to another host on
the same IP). Each fetch has a total deadline, and reads at most a bounded number of bytes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import ipaddress
import logging
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from backchannel import __version__
from backchannel.config import Settings
from backchannel.previews.parse import DEFAULT_PORTS, Preview, normalize_url, parse_preview

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_REDIRECTS = 3
DNS_THREADS = 8  # concurrent name lookups of the default resolver
ALLOWED_PORTS = frozenset({80, 443})
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = f"Mozilla/5.0 (compatible; Backchannel/{__version__} link preview)"

# Refused whatever `ipaddress` says of them: its classification changes between Python
# releases (3.11.7 calls 192.0.0.192 and fec0::1 global), and some ranges it does not
# single out at all (multicast is "global").
_REFUSED_NETWORKS: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(network), why)
    for network, why in (
        ("0.0.0.0/8", "this network"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("255.255.255.255/32", "broadcast"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments"),  # Teredo 2001::/32 among them
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
# Cloud instance metadata services: credentials for the taking. Most sit in ranges refused
# above; Azure's wire server (168.63.129.16) is a public address that answers only inside.
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, OpenStack...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure wire server
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def address_refusal(ip: IPAddress) -> str | None:
    """Why the previewer may not connect to `ip`, or None when it is a public internet
    address. An IPv6 address that embeds an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`,
    NAT64 `64:ff9b::a.b.c.d`) is judged by the IPv4 address; IPv4-compatible, 6to4 and
    Teredo addresses are refused outright (deprecated, and they tunnel to an IPv4)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or (
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None
        )
        if embedded is not None:
            why = address_refusal(embedded)
            return None if why is None else f"embeds {embedded}: {why}"
    if ip in _METADATA_ADDRESSES:
        return "cloud metadata service"
    for network, why in _REFUSED_NETWORKS:
        if ip in network:
            return f"{why} ({network})"
    for flag in ("private", "loopback", "link_local", "multicast", "reserved", "unspecified"):
        if getattr(ip, f"is_{flag}"):
            return flag.replace("_", "-")
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if not ip.is_global:
        return "not global"
    return None


async def system_resolver(
    host: str, port: int, *, executor: concurrent.futures.Executor | None = None
) -> list[str]:
    """`host`'s addresses from the system resolver (getaddrinfo, in `executor`'s threads;
    None: the event loop's default executor)."""
    lookup = functools.partial(
        socket.getaddrinfo, host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    infos = await asyncio.get_running_loop().run_in_executor(executor, lookup)
    return [str(info[4][0]) for info in infos]


class _Refused(Exception):
    """A URL or response the previewer will not use; the message says why (for logs)."""


@dataclass(frozen=True, slots=True)
class _Target:
    """One hop, vetted: where to connect (`addresses`) and what to call it there."""

    url: str  # normalized; names the host
    scheme: str
    host: str  # ASCII host name, or the IP as written in the URL
    port: int
    addresses: tuple[IPAddress, ...]  # every one checked, in the resolver's order

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    def url_at(self, address: IPAddress) -> str:
        """The request URL naming `address` instead of the host: nothing left to resolve."""
        ip = f"[{address}]" if address.version == 6 else str(address)
        parts = urlsplit(self.url)
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.scheme}://{ip}:{self.port}{parts.path}{query}"


@dataclass(frozen=True, slots=True)
class _Body:
    url: str  # the final URL, normalized
    content_type: str
    data: bytes


class _Cache:
    """An LRU of previews (None included) by normalized URL, each with its own expiry."""

    def __init__(self, size: int, clock: Callable[[], float]) -> None:
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Preview | None]] = OrderedDict()

    def get(self, key: str) -> tuple[bool, Preview | None]:
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if entry[0] <= self._clock():
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, entry[1]

    def put(self, key: str, value: Preview | None, ttl: float) -> None:
        if self._size == 0 or ttl <= 0:
            return
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


class PreviewFetcher:
    """Fetches link previews and their images under the protections in this module's
    docstring. One per app: it holds the cache and the HTTP transport; `close()` it.

    `resolver(host, port)` returns the host's IP addresses (default: `system_resolver`,
    in a few threads of the fetcher's own); `transport` and `ssl_context` replace the
    HTTP transport or its TLS trust (tests: a transport that records requests, a context
    trusting the test's own CA); `clock` is the cache's clock (monotonic seconds)."""

    def __init__(
        self,
        settings: Settings,
        *,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._dns_threads: concurrent.futures.ThreadPoolExecutor | None = None
        if resolver is None:
            # Threads of their own: a name server that never answers (anyone can run one
            # for their domain) holds a getaddrinfo thread for seconds, and must not
            # starve the event loop's default executor.
            self._dns_threads = concurrent.futures.ThreadPoolExecutor(
                DNS_THREADS, thread_name_prefix="preview-dns"
            )
            resolver = functools.partial(system_resolver, executor=self._dns_threads)
        self._resolver = resolver
        self._allowed: Sequence[IPNetwork] = tuple(
            ipaddress.ip_network(network) for network in settings.preview_allowed_networks
        )
        if self._allowed:
            log.warning(
                "link previews may fetch from internal networks %s (preview_allowed_networks)",
                ", ".join(map(str, self._allowed)),
            )
        self._transport = transport or httpx.AsyncHTTPTransport(
            verify=ssl_context or True,
            trust_env=False,
            http1=True,
            http2=False,
            retries=0,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=0),
        )
        self._cache = _Cache(settings.preview_cache_entries, clock)
        self._inflight: dict[str, asyncio.Task[Preview | None]] = {}

    async def preview(self, url: str) -> Preview | None:
        """The preview of the page at `url`, or None when there is none to show: previews
        off, a refused URL or address, not HTML, an error status, a timeout, no metadata.
        Never raises for network or content problems. Results, None included, are cached
        by normalized URL; concurrent calls for one URL share one fetch."""
        if not self._settings.link_previews:
            return None
        key = normalize_url(url)
        if key is None:
            return None
        hit, cached = self._cache.get(key)
        if hit:
            return cached
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._preview_uncached(key))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        # shielded: one caller giving up does not cancel the fetch the others wait for
        return await asyncio.shield(task)

    async def fetch_image(self, url: str, *, max_bytes: int) -> tuple[bytes, str] | None:
        """The image at `url` (a preview's `image_url`) and its content type (`image/*`,
        SVG excluded: it is a document that runs scripts), or None: refused, not an
        image, larger than `max_bytes`, failed or too slow. Not cached; never raises
        for network or content problems."""
        if not self._settings.link_previews:
            return None
        body = await self._guarded(
            url,
            accept="image/*",
            wanted=lambda mime: mime.startswith("image/") and mime != "image/svg+xml",
            limit=max_bytes,
            truncate=False,
        )
        if body is None:
            return None
        return body.data, body.content_type.split(";", 1)[0].strip().lower()

    async def close(self) -> None:
        """Stop fetches in flight and close the transport."""
        for task in list(self._inflight.values()):
            task.cancel()
        await self._transport.aclose()
        if self._dns_threads is not None:
            self._dns_threads.shutdown(wait=False, cancel_futures=True)

    # --- the fetch ---------------------------------------------------------------------

    async def _preview_uncached(self, key: str) -> Preview | None:
        body = await self._guarded(
            key,
            accept="text/html,application/xhtml+xml",
            wanted=PAGE_TYPES.__contains__,
            limit=self._settings.preview_max_page_bytes,
            truncate=True,
        )
        result = None if body is None else parse_preview(body.data, body.content_type, body.url)
        ttl = (
            self._settings.preview_cache_seconds
            if result is not None
            else self._settings.preview_failure_cache_seconds
        )
        self._cache.put(key, result, ttl)
        return result

    async def _guarded(
        self,
        url: str,
        *,
        accept: str,
        wanted: Callable[[str], bool],
        limit: int,
        truncate: bool,
    ) -> _Body | None:
        """`_fetch` within the total deadline, every expected failure made None."""
        try:
            async with asyncio.timeout(self._settings.preview_timeout_seconds):
                return await self._fetch(
                    url, accept=accept, wanted=wanted, limit=limit, truncate=truncate
                )
        except _Refused as exc:
            log.debug("link preview refused: %s", exc)
        except TimeoutError:
            log.debug("link preview timed out")
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
            log.debug("link preview failed: %s", type(exc).__name__)
        except Exception:
            # A preview is an extra: a bug here must not fail the message it belongs to.
            log.warning("link preview failed unexpectedly", exc_info=True)
        return None

    async def _fetch(
        self,
        url: str,
        *,
        accept: str,
        wanted: Callable[[str], bool],
        limit: int,
        truncate: bool,
    ) -> _Body:
        """GET `url` and, by hand, the redirects it leads to (each hop vetted anew);
        the body of the final 200 response, at most `limit` bytes: cut there when
        `truncate`, else refused when longer."""
        for _hop in range(MAX_REDIRECTS + 1):
            target = await self._vet(url)
            response = await self._open(target, accept)
            try:
                if response.status_code in REDIRECT_STATUSES:
                    location = response.headers.get("location", "").strip()
                    if not location:
                        raise _Refused(f"redirect without a location ({response.status_code})")
                    url = urljoin(target.url, location)
                    continue
                if response.status_code != 200:
                    raise _Refused(f"status {response.status_code}")
                content_type = response.headers.get("content-type", "")
                mime = content_type.split(";", 1)[0].strip().lower()
                if not wanted(mime):
                    raise _Refused(f"content type {mime or 'missing'}")
                encoding = response.headers.get("content-encoding", "identity").strip().lower()
                if encoding not in ("", "identity"):
                    raise _Refused(f"content encoding {encoding} (identity was asked for)")
                data = await _read(response, limit, truncate=truncate)
                return _Body(target.url, content_type, data)
            finally:
                await response.aclose()
        raise _Refused(f"more than {MAX_REDIRECTS} redirects")

    async def _vet(self, url: str) -> _Target:
        """`url` as a hop to make, or _Refused: see the module docstring, steps 1 and 2."""
        normalized = normalize_url(url)
        if normalized is None:
            raise _Refused("not an http(s) URL with a valid host and no userinfo")
        parts = urlsplit(normalized)
        scheme, host = parts.scheme, parts.hostname or ""
        port = parts.port or DEFAULT_PORTS[scheme]
        try:
            addresses: list[IPAddress] = [ipaddress.ip_address(host)]
        except ValueError:
            if host == "localhost" or host.endswith(".localhost") or "." not in host:
                raise _Refused(f"{host}: a local name") from None
            addresses = [_parse_answer(answer) for answer in await self._resolver(host, port)]
            if not addresses:
                raise _Refused(f"{host}: no address") from None
        # An IPv4-mapped address is its IPv4 address: connect to that one.
        addresses = [
            a.ipv4_mapped if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped else a
            for a in addresses
        ]
        for address in addresses:
            why = None if self._is_allowed(address) else address_refusal(address)
            if why is not None:
                raise _Refused(f"{host} resolves to {address}: {why}")
        if port not in ALLOWED_PORTS and not all(map(self._is_allowed, addresses)):
            raise _Refused(f"port {port}: only 80 and 443")
        return _Target(normalized, scheme, host, port, tuple(dict.fromkeys(addresses)))

    def _is_allowed(self, address: IPAddress) -> bool:
        return any(address in network for network in self._allowed)

    async def _open(self, target: _Target, accept: str) -> httpx.Response:
        """A response from the first of the target's addresses that accepts a
        connection; its body is still to be read (and the response closed)."""
        headers = {
            "Host": target.host_header,
            "User-Agent": USER_AGENT,
            "Accept": accept,
            "Accept-Encoding": "identity",
            "Connection": "close",
        }
        connect = self._settings.preview_connect_timeout_seconds
        total = self._settings.preview_timeout_seconds
        extensions: dict[str, object] = {
            "timeout": {"connect": connect, "read": total, "write": total, "pool": total}
        }
        if target.scheme == "https" and not _is_ip(target.host):
            extensions["sni_hostname"] = target.host  # and so the certificate checked
        failure: Exception = _Refused("no address")
        for address in target.addresses:
            request = httpx.Request(
                "GET", target.url_at(address), headers=headers, extensions=extensions
            )
            try:
                return await self._transport.handle_async_request(request)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure = exc
        raise failure


def _parse_answer(answer: str) -> IPAddress:
    try:
        return ipaddress.ip_address(answer)
    except ValueError:
        raise _Refused("the resolver answered something that is not an IP address") from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _read(response: httpx.Response, limit: int, *, truncate: bool) -> bytes:
    """At most `limit` bytes of the body: the first `limit` when `truncate` (and
    stopping early at `</head>`), else all of it or _Refused when it is longer."""
    length = response.headers.get("content-length", "")
    if not truncate and length.isdigit() and int(length) > limit:
        raise _Refused(f"{length} bytes, more than {limit}")
    data = bytearray()
    async for chunk in response.aiter_bytes():
        start = max(0, len(data) - 6)
        data += chunk
        if not truncate and len(data) > limit:
            raise _Refused(f"more than {limit} bytes")
        if truncate and len(data) >= limit:
            return bytes(data[:limit])
        if truncate and b"</head" in data[start:].lower():
            break  # the metadata is all in the head
    return bytes(data)
