"""Reading a page for its preview: URLs normalized, HTML read for its metadata. Pure, no I/O.

`first_previewable_link(text)` picks the link a message previews; `normalize_url(url)` is
the one form of a link the previewer fetches and caches by: http(s) only, no userinfo, the
host in ASCII (IDNA) or as a canonical IP, the default port left out.
`parse_preview(body, content_type, url)` reads a page's title, description, site name and
image from its Open Graph and Twitter tags, falling back to `<title>`, `<meta
name=description>` and the host. What it returns is plain text, to be stored and shown as
text, never as HTML: entities decoded, tags left out, control characters dropped,
whitespace collapsed and lengths capped.
"""

from __future__ import annotations

import codecs
import contextlib
import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import quote, unquote, urljoin, urlsplit

import idna

from backchannel.domain.links import extract_links, resolve

MAX_URL_LENGTH = 2048
MAX_TITLE = 200
MAX_DESCRIPTION = 500
MAX_SITE_NAME = 100
DEFAULT_PORTS = {"http": 80, "https": 443}

_TITLE_KEYS = ("og:title", "twitter:title")
_DESCRIPTION_KEYS = ("og:description", "twitter:description", "description")
_IMAGE_KEYS = (
    "og:image",
    "og:image:url",
    "og:image:secure_url",
    "twitter:image",
    "twitter:image:src",
)
_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL_RE = re.compile(r"[0-9]+|0x[0-9a-f]*")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_PRESCAN_BYTES = 4096
_META_CHARSET_RE = re.compile(rb"""(?i)<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]{1,40})""")
_HEADER_CHARSET_RE = re.compile(r"""(?i)charset\s*=\s*["']?\s*([a-z0-9_.:-]{1,40})""")
# Labels that name a codec Python has but a page must not pick: they turn plain bytes
# into markup (utf-7, unicode-escape) or are no character encoding at all.
_REFUSED_CODECS = frozenset(
    {"utf-7", "idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined", "mbcs", "oem"}
)  # fmt: skip
# What browsers read these labels as (WHATWG Encoding): Latin-1 and ASCII are windows-1252,
# and a <meta> cannot switch to UTF-16 (the bytes it is written in are ASCII-compatible).
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "l1": "cp1252",
    "us-ascii": "cp1252", "ascii": "cp1252", "iso8859-1": "cp1252",
}  # fmt: skip
# Bidirectional embeddings, overrides and isolates: they reorder the text around them
# (a title that shows "exe.pdf" for "fdp.exe").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True, slots=True)
class Preview:
    """What a link shows: plain text, never HTML; `url` is where the page was found
    (after redirects) and `image_url` an absolute http(s) URL, when there is one."""

    url: str
    title: str | None
    description: str | None
    site_name: str | None
    image_url: str | None


# --- URLs ---------------------------------------------------------------------------


def normalize_url(url: str) -> str | None:
    """`url` as the previewer fetches it, or None when it cannot be previewed: not http(s),
    with userinfo (`http://a@b/`), without a valid host or port. The host becomes ASCII
    (IDNA, UTS #46 as browsers map it) or a canonical IP (`http://0x7f000001/` reads as
    `http://127.0.0.1/`, as a browser would go there); the fragment and a default port
    are dropped, and the path and query percent-encoded. Never raises."""
    url = re.sub(r"[\t\n\r]", "", url.strip()).replace("\\", "/")
    if len(url) > MAX_URL_LENGTH:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or "@" in parts.netloc or parts.hostname is None:
        return None
    host = canonical_host(parts.hostname)
    if host is None:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        if port == 0:
            return None
        netloc += f":{port}"
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    query = f"?{quote(parts.query, safe=_QUERY_SAFE)}" if parts.query else ""
    return f"{scheme}://{netloc}{path}{query}"


def canonical_host(host: str) -> str | None:
    """A URL's host (brackets already removed) as the previewer names it: a canonical IP
    (IPv4 in dotted decimal, however it was written; IPv6 compressed) or an ASCII host
    name, lower-case, without a trailing dot. None when it is neither."""
    # lower(), not casefold(): UTS #46 keeps "ß" (faß.de is xn--fa-hia.de, not fass.de)
    host = unicodedata.normalize("NFKC", unquote(host)).lower()
    host = host.replace("\u3002", ".").replace("\uff0e", ".").replace("\uff61", ".")
    host = host.removesuffix(".")
    if not host or "%" in host:  # "%" is left only by an IPv6 zone (fe80::1%eth0)
        return None
    if ":" in host:
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            return None
    ip = resolve(host).ip
    if ip is not None:
        return str(ip)
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return None
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        return None
    if _NUMERIC_LABEL_RE.fullmatch(labels[-1]):
        return None  # a browser reads this as an IPv4 address, and it is not a valid one
    for label in labels:
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError):
                return None
    return host


def first_previewable_link(text: str) -> str | None:
    """The first http(s) link in `text` (as `extract_links` orders them: markdown links,
    then URLs, then bare domains) that normalizes, in its normalized form; else None."""
    for link in extract_links(text):
        if link.url.split(":", 1)[0].lower() in DEFAULT_PORTS:
            normalized = normalize_url(link.url)
            if normalized is not None:
                return normalized
    return None


# --- pages --------------------------------------------------------------------------


def parse_preview(body: bytes, content_type: str | None, url: str) -> Preview | None:
    """The preview of the page `body` found at `url` (normalized), or None when it has
    no title, description or image. `body` may be cut short (the fetcher reads only the
    start of a page); it is decoded by its BOM, else the charset of `content_type`, else
    a `<meta charset>`, else as UTF-8 with replacement. Never raises."""
    reader = _MetaReader()
    # _HeadRead ends the reading at <body>; and html.parser may still trip on odd markup
    # (an AssertionError in some Python versions): either way, keep what was read.
    with contextlib.suppress(Exception):
        reader.feed(decode_html(body, content_type))
        reader.close()
    found = reader.meta
    title = _first_text(found, _TITLE_KEYS, MAX_TITLE) or _clean(reader.title, MAX_TITLE)
    description = _first_text(found, _DESCRIPTION_KEYS, MAX_DESCRIPTION)
    image = _image_url(found, url)
    if title is None and description is None and image is None:
        return None
    site = _first_text(found, ("og:site_name",), MAX_SITE_NAME)
    if site is None:
        site = _clean(urlsplit(url).hostname or "", MAX_SITE_NAME)
    return Preview(url=url, title=title, description=description, site_name=site, image_url=image)


def decode_html(body: bytes, content_type: str | None) -> str:
    """`body` as text: by its byte-order mark, else the `charset` of `content_type`, else
    the first `<meta charset>` (or `http-equiv` Content-Type) of its first 4 KiB, else
    UTF-8; undecodable bytes become U+FFFD. Never raises."""
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    candidates: list[tuple[str, bool]] = []
    header = _HEADER_CHARSET_RE.search(content_type or "")
    if header:
        candidates.append((header.group(1), False))
    meta = _META_CHARSET_RE.search(body[:_PRESCAN_BYTES])
    if meta:
        candidates.append((meta.group(1).decode("ascii"), True))
    for label, from_meta in candidates:
        chosen = _codec(label, from_meta=from_meta)
        if chosen is not None:
            try:
                return body.decode(chosen, errors="replace")
            except (LookupError, UnicodeError, ValueError):
                continue
    return body.decode("utf-8", errors="replace")


def _codec(label: str, *, from_meta: bool) -> str | None:
    label = label.strip().lower()
    label = _CHARSET_ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name in _REFUSED_CODECS:
        return None
    if from_meta and name.startswith("utf-16"):
        return "utf-8"
    return name


class _HeadRead(Exception):
    """Raised to stop reading at `<body>`: the metadata is in the head."""


class _MetaReader(HTMLParser):
    """Collects `<meta property|name=... content=...>` (the first of each key, keys
    lower-case) and the text of the first `<title>` outside an `<svg>`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False
        self._title_done = False
        self._svg_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            raise _HeadRead
        if tag == "svg":
            self._svg_depth += 1
        elif tag == "title" and not self._title_done and self._svg_depth == 0:
            self._in_title = True
        elif tag == "meta":
            values = {name: value or "" for name, value in attrs}
            key = (values.get("property") or values.get("name") or "").strip().lower()
            if key and "content" in values:
                self.meta.setdefault(key, values["content"])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "svg":  # <svg/> opens nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            raise _HeadRead
        if tag == "svg" and self._svg_depth:
            self._svg_depth -= 1
        elif tag == "title" and self._in_title:
            self._in_title = False
            self._title_done = True

    def handle_data(self, data: str) -> None:
        if self._in_title and len(self.title) < 4 * MAX_TITLE:
            self.title += data


def _first_text(meta: dict[str, str], keys: tuple[str, ...], limit: int) -> str | None:
    for key in keys:
        text = _clean(meta.get(key, ""), limit)
        if text is not None:
            return text
    return None


def _image_url(meta: dict[str, str], page_url: str) -> str | None:
    """The first image tag's URL, made absolute against the page's; http(s) only."""
    for key in _IMAGE_KEYS:
        value = meta.get(key, "").strip()
        if not value:
            continue
        try:
            absolute = urljoin(page_url, value)
        except ValueError:
            continue
        normalized = normalize_url(absolute)
        if normalized is not None:
            return normalized
    return None


def _clean(text: str, limit: int) -> str | None:
    """`text` shown as one line of plain text: control and bidi characters dropped,
    whitespace runs made one space, at most `limit` characters (an ellipsis marks a
    cut); None when nothing is left."""
    kept = []
    for ch in text:
        if ch.isspace():
            kept.append(" ")
        elif ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs"):
            continue
        else:
            kept.append(ch)
    cleaned = " ".join("".join(kept).split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "\u2026"
    return cleaned or None
