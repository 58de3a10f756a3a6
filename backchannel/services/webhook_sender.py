"""Sending a webhook delivery without becoming a way into the network.

A webhook is a request the server makes to a URL a business's admin chose: the same
server-side request forgery hole as link previews, closed the same way (see
backchannel/previews/fetch.py, whose address checker this uses): the URL must be https
(http where `webhook_allow_http`) without userinfo; the host is resolved here and refused
when ANY of its addresses is not a public internet address (`address_refusal`) unless in
`webhook_allowed_networks`; the connection goes to a vetted address, never to the name
(the `Host` header and, for https, TLS SNI and the certificate name the host), so a DNS
answer that changes between the check and the connection changes nothing. Redirects are
not followed. No cookies, no proxy from the environment, no pooled connection.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import httpx

from backchannel import __version__
from backchannel.config import Settings
from backchannel.domain import webhooks as rules
from backchannel.previews import address_refusal, normalize_url
from backchannel.previews.fetch import IPAddress, Resolver, system_resolver

USER_AGENT = f"Backchannel-Webhooks/{__version__}"
RETRY_AFTER_CAP_S = 6 * 3600.0  # a receiver's Retry-After, at most (the backoff's cap)
# How host names are resolved: (host, port) -> addresses. Tests replace it.
resolver: Resolver = system_resolver


class Refused(Exception):
    """An endpoint URL or address the server will not POST to; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """An endpoint, vetted: where to connect (`addresses`, each checked) and its name."""

    url: str  # normalized
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    def url_at(self, address: IPAddress) -> str:
        """The request URL naming `address` instead of the host: nothing left to resolve."""
        ip = f"[{address}]" if address.version == 6 else str(address)
        parts = urlsplit(self.url)
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.scheme}://{ip}:{self.port}{parts.path}{query}"


async def vet(settings: Settings, url: str) -> Target:
    """`url` as an endpoint to POST to, or `Refused`: https (http when
    `webhook_allow_http`), no userinfo, and a host whose every address is a public one
    (`address_refusal`, as for link previews) unless in `webhook_allowed_networks`."""
    normalized = normalize_url(url)
    if normalized is None:
        raise Refused("not an http(s) URL with a valid host and no userinfo")
    parts = urlsplit(normalized)
    scheme, host = parts.scheme, parts.hostname or ""
    if scheme != "https" and not settings.webhook_allow_http:
        raise Refused("not https")
    port = parts.port or (443 if scheme == "https" else 80)
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        if host == "localhost" or host.endswith(".localhost") or "." not in host:
            raise Refused(f"{host}: a local name") from None
        try:
            answers = await resolver(host, port)
        except OSError as exc:
            raise Refused(f"{host}: does not resolve ({exc.strerror or exc})") from None
        addresses = [_address(answer) for answer in answers]
        if not addresses:
            raise Refused(f"{host}: no address") from None
    addresses = [
        a.ipv4_mapped if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped else a
        for a in addresses
    ]
    allowed = [ipaddress.ip_network(n) for n in settings.webhook_allowed_networks]
    for address in addresses:
        if any(address in network for network in allowed):
            continue
        why = address_refusal(address)
        if why is not None:
            raise Refused(f"{host} is {address}: {why}")
    return Target(normalized, scheme, host, port, tuple(dict.fromkeys(addresses)))


def _address(answer: str) -> IPAddress:
    try:
        return ipaddress.ip_address(answer)
    except ValueError:
        raise Refused("the resolver answered something that is not an IP address") from None


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt: the status (None: no response), its time, what went wrong (None: a
    2xx) and a `Retry-After` in seconds the receiver asked for."""

    status_code: int | None
    latency_ms: int
    error: str | None
    retry_after: float | None = None


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())


async def attempt(
    settings: Settings, url: str, secret: str, delivery_pid: str, body: bytes, timestamp: int
) -> Outcome:
    """POST `body`, signed, to the endpoint `url` (vetted now: a name may point elsewhere
    than when the webhook was made). Redirects are not followed. Never raises."""
    started = time.perf_counter()

    def took() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        async with asyncio.timeout(settings.webhook_timeout_seconds):
            target = await vet(settings, url)
            status, retry_after = await _post(
                settings, target, delivery_pid, secret, body, timestamp
            )
    except Refused as exc:
        return Outcome(None, took(), f"refused: {exc}")
    except TimeoutError:
        return Outcome(None, took(), f"timed out after {settings.webhook_timeout_seconds:g} s")
    except (httpx.HTTPError, OSError) as exc:
        return Outcome(None, took(), f"{type(exc).__name__}: {exc}"[: rules.RESPONSE_ERROR_MAX])
    if 200 <= status < 300:
        return Outcome(status, took(), None)
    error = f"status {status}"
    if 300 <= status < 400:
        error += " (redirects are not followed)"
    after = rules.retry_after_seconds(retry_after, cap=RETRY_AFTER_CAP_S)
    return Outcome(status, took(), error, after)


async def _post(
    settings: Settings,
    target: Target,
    delivery_pid: str,
    secret: str,
    body: bytes,
    timestamp: int,
) -> tuple[int, str | None]:
    """(status, Retry-After) from the first of the target's addresses that connects."""
    headers = {
        **rules.headers(secret, delivery_pid, timestamp, body),
        "Host": target.host_header,
        "User-Agent": USER_AGENT,
        "Connection": "close",
    }
    total = settings.webhook_timeout_seconds
    extensions: dict[str, object] = {
        "timeout": {
            "connect": settings.webhook_connect_timeout_seconds,
            "read": total,
            "write": total,
            "pool": total,
        }
    }
    if target.scheme == "https" and target.host not in map(str, target.addresses):
        extensions["sni_hostname"] = target.host  # and so the certificate checked
    # No pool, no cookies, no proxy from the environment: one connection per attempt.
    transport = httpx.AsyncHTTPTransport(
        verify=_tls(), trust_env=False, retries=0, limits=httpx.Limits(max_keepalive_connections=0)
    )
    failure: Exception = Refused("no address")
    try:
        for address in target.addresses:
            request = httpx.Request(
                "POST",
                target.url_at(address),
                headers=headers,
                content=body,
                extensions=extensions,
            )
            try:
                response = await transport.handle_async_request(request)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure = exc
                continue
            await response.aclose()  # the body is not read: the status says it all
            return response.status_code, response.headers.get("retry-after")
        raise failure
    finally:
        await transport.aclose()
