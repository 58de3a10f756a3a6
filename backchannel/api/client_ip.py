"""The client's IP address, believing `X-Forwarded-For` only from trusted proxies.

A proxy appends the address it received the request from to `X-Forwarded-For`, so the
header reads `client, proxy1, proxy2` and only its right end can be believed: entries
to the left of the first untrusted hop were written by whoever sent the request. Hence
the walk from the right in `client_ip`, and only when the TCP peer itself is a trusted
proxy: a client connecting directly can put anything in the header and change nothing.

Only `X-Forwarded-For` is read (not RFC 7239 `Forwarded`): it is what nginx, HAProxy,
Caddy, Traefik and the cloud load balancers append. The trusted networks come from the
`trusted_proxies` setting, parsed once per app (`parse_networks`, kept on
`app.state.trusted_proxies`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Annotated, Any

from fastapi import Depends, Request

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address
UNKNOWN = "unknown"  # no peer address at all (a Unix socket): all such clients share it
IPV6_PREFIX = 64  # one IPv6 subscriber usually holds a whole /64


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """The networks named by `cidrs` (as validated by Settings.trusted_proxies)."""
    return tuple(ipaddress.ip_network(cidr, strict=True) for cidr in cidrs)


def client_ip(scope: Any, trusted: Sequence[Network]) -> str:
    """The address of the client that sent the request in ASGI `scope`, as a string.

    The TCP peer (`scope["client"]`), unless the peer is in `trusted`: then the
    `X-Forwarded-For` entries (all such headers, in order) are walked from the right,
    skipping trusted proxies, and the first untrusted address is returned; if every
    entry is trusted, the leftmost. A malformed entry (or `unknown`, `_hidden`…) ends
    the walk at the last address read before it. A peer that is not an IP address
    (e.g. httpx's "testclient") is returned as it is; no peer at all gives "unknown".
    Addresses are normalized (`::ffff:192.0.2.1` → `192.0.2.1`); ports are dropped.
    """
    peer = scope.get("client")
    if not peer or not peer[0]:
        return UNKNOWN
    address = _parse(str(peer[0]))
    if address is None:
        return str(peer[0])
    if not _trusted(address, trusted):
        return str(address)
    for entry in reversed(_forwarded_for(scope)):
        hop = _parse(entry)
        if hop is None:
            break
        address = hop
        if not _trusted(hop, trusted):
            break
    return str(address)


def limit_key(ip: str) -> str:
    """What per-IP limits count by: the IPv4 address, or the /64 an IPv6 address is in
    (a client can pick any address of its /64); anything else as it is."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


async def get_client_ip(request: Request) -> str:
    """Request dependency: `client_ip` with the app's trusted proxies."""
    trusted: tuple[Network, ...] = getattr(request.app.state, "trusted_proxies", ())
    return client_ip(request.scope, trusted)


ClientIpDep = Annotated[str, Depends(get_client_ip)]


def _forwarded_for(scope: Any) -> list[str]:
    values = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
    ]
    return [entry.strip() for entry in ",".join(values).split(",")] if values else []


def _parse(text: str) -> Address | None:
    """An address as a peer or an X-Forwarded-For entry writes it: `192.0.2.1`,
    `192.0.2.1:443`, `2001:db8::1`, `[2001:db8::1]:443`. None if it is not one."""
    if text.startswith("["):
        end = text.find("]")
        port = text[end + 1 :] if end > 0 else ":x"
        if port and not (port[0] == ":" and port[1:].isdigit()):
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # IPv4 with a port
        text, port = text.split(":", 1)
        if not port.isdigit():
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)
