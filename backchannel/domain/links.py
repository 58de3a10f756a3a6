"""Reading links and hosts: what a message links to and what each host is. Pure, no I/O.

`extract_links(text)` finds the links in a message (markdown, http(s) URLs, bare
domains and IPs); `resolve(host)` reads a host once, as a browser would go to it:
its ASCII (xn--) and Unicode forms, the IP it names (perhaps disguised as one
number, hex or octal) and its registrable domain. The rest says what a name reads
like: its scripts (`mixes_scripts`), its skeleton (homoglyphs, digits and look-alike
letter pairs folded to Latin letters) and whether it reads as a brand's
(`reads_like`, `brand_compound`, `country_site`). These are facts about hosts; how
much each one counts against a message is `backchannel.domain.spam`'s call.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urlsplit

MAX_LINKS = 64  # links looked at per message: bounds the work on a message made of links

# Second-level suffixes under which the registrable domain is three labels (bbc.co.uk).
SECOND_LEVEL_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "com.au", "net.au", "org.au",
        "co.nz", "co.jp", "ne.jp", "or.jp", "com.br", "com.mx", "com.ar", "co.in",
        "co.za", "com.tr", "com.cn", "com.hk", "com.sg", "co.kr", "com.tw", "co.il",
        "com.ua", "com.pl", "com.es", "co.id", "com.my", "com.ph", "com.vn", "com.pk",
    }
)  # fmt: skip
# Country codes sold to anyone as generic names: a brand there is not its country site.
GENERIC_COUNTRY_CODES = frozenset(
    {"co", "io", "me", "cc", "ws", "tk", "ml", "ga", "cf", "gq", "ly", "to", "gg", "sh",
     "ai", "tv", "su", "la", "fm", "am", "pw", "nu", "st", "vc", "bz", "cx"}
)  # fmt: skip
# Top-level domains recognised in bare (scheme-less) links; file extensions that are
# also country codes (.py, .sh, .md, .rs, .pl) are left out on purpose.
BARE_TLDS = frozenset(
    {
        "com", "net", "org", "info", "biz", "io", "co", "me", "app", "dev", "ai", "gg", "tv",
        "ly", "to", "cc", "us", "uk", "de", "fr", "ru", "cn", "jp", "in", "br", "au", "ca",
        "nl", "es", "it", "ch", "se", "no", "eu", "xyz", "top", "online", "site", "club",
        "shop", "store", "live", "link", "click", "icu", "vip", "buzz", "win", "bid", "loan",
        "work", "support", "help", "security", "account", "services", "page", "website",
        "tk", "ml", "ga", "cf", "gq", "su", "ws", "pw", "zip", "mov", "cam", "rest", "bond",
    }
)  # fmt: skip
# Private, loopback and link-local networks: an address there is no site on the internet.
LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16")
) + tuple(ipaddress.ip_network(n) for n in ("::1/128", "fc00::/7", "fe80::/10"))

# Brands that are also everyday words: their name alone in a host proves nothing
# (pineapple.com, apple-pie-recipes.com, office.mycompany.com), so they need a trick
# (homoglyphs, the real domain embedded) or a phishing word beside them.
COMMON_WORD_BRANDS = frozenset(
    {"apple", "office", "outlook", "amazon", "chase", "ups", "steam", "discord", "telegram", "meta"}
)
# Words phishing hosts put next to a brand: paypal-secure-login.com, appleid-verify.net.
PHISHING_WORDS = frozenset(
    {
        "login", "log", "signin", "sign", "secure", "security", "verify", "verification",
        "account", "accounts", "support", "help", "helpdesk", "id", "update", "service",
        "services", "online", "auth", "wallet", "pay", "payment", "billing", "alert",
        "alerts", "confirm", "center", "team", "unlock", "recovery", "restore", "reset",
        "claim", "gift", "bonus", "reward", "rewards", "prize", "promo", "delivery",
        "tracking", "track", "parcel", "package", "customs", "refund", "invoice", "notice",
        "official", "web", "app", "my", "mail", "portal", "connect", "sync", "airdrop",
        "giveaway", "free", "us", "safe", "check", "access", "case", "appeal", "review",
    }
)  # fmt: skip

# Letters of other scripts drawn like Latin ones (a subset of Unicode's confusables),
# then the digit and symbol swaps of typo-squatting; "rn" reads as "m", "vv" as "w".
HOMOGLYPHS = str.maketrans(
    {  # written as escapes: the letters themselves are what this table is about
        "\u0430": "a", "\u0441": "c", "\u0501": "d", "\u0435": "e", "\u0451": "e", "\u04bb": "h",
        "\u0456": "i", "\u0457": "i", "\u0458": "j", "\u043a": "k", "\u04cf": "l", "\u043e": "o",
        "\u0440": "p", "\u051b": "q", "\u0455": "s", "\u0443": "y", "\u051d": "w", "\u0445": "x",
        "\u0261": "g", "\u0269": "i", "\u03b1": "a", "\u03b9": "i", "\u03ba": "k", "\u03bd": "v",
        "\u03bf": "o", "\u03c1": "p", "\u03c5": "u", "\u03c7": "x", "\u03c9": "w", "\u0585": "o",
        "\u057d": "u", "\u0570": "h",
    }
)  # fmt: skip
_LEET = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "3": "e", "4": "a", "5": "s"})
_SEQUENCES = (("rn", "m"), ("vv", "w"), ("cl", "d"))
CJK_SCRIPTS = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO"})


@dataclass(frozen=True, slots=True)
class Link:
    """A link found in a message: the target `url`, its `host` (lower-case, NFKC, as
    written: Unicode or xn--), and the visible text when a markdown link shows a
    URL or domain of its own (`[paypal.com](http://...)`), else None."""

    url: str
    host: str
    shown_text: str | None


@dataclass(frozen=True, slots=True)
class Host:
    """A host, resolved once: ASCII (xn--) and Unicode forms, IP, registrable domain."""

    ascii: str
    text: str
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    encoded_ip: bool  # an IPv4 written as one number, hex or octal (http://3232235777/)
    registrable: str  # ASCII; for an IP, the IP itself


@dataclass(frozen=True, slots=True)
class Brand:
    """A brand as hosts imitate it (see `make_brand`)."""

    name: str
    domain: str
    label: str  # the domain without its suffix ("paypal")
    skeleton: str
    common_word: bool
    max_distance: int


# --- links --------------------------------------------------------------------------

_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_BARE_HOST = rf"(?:{_LABEL}\.)+(?:[a-z]{{2,24}}|xn--[a-z0-9-]{{1,59}})"
_MARKDOWN_RE = re.compile(r"\[([^\[\]\n]{1,300})\]\(\s*<?([^\s()<>]{1,2048})>?\s*\)")
_URL_RE = re.compile(r"(?i)\bhttps?://[^\s<>\"'`]{1,2048}")
_BARE_RE = re.compile(
    rf"(?i)(?<![\w@./:-])({_BARE_HOST})(:\d{{1,5}})?(/[^\s<>\"'`]{{0,2048}})?(?![\w@-])"
)
_BARE_IP_RE = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5}/?|/)[^\s<>\"'`]{0,2048}")
_SHOWN_RE = re.compile(rf"(?i)(?:https?://)?{_BARE_HOST}(?::\d{{1,5}})?(?:/\S*)?")
_TRAILING = ".,;:!?'\"*_"


def extract_links(text: str) -> list[Link]:
    """The links in `text`, in this order: markdown `[text](url)` links, http(s) URLs,
    then bare domains (`paypal-login.com/x`, a known TLD needed) and bare IPs with a
    path or port. Never raises; at most MAX_LINKS links; e-mail addresses are not links."""
    if "." not in text and ":" not in text:
        return []
    links: list[Link] = []
    masked = text
    for match in _MARKDOWN_RE.finditer(text):
        shown = match.group(1).strip()
        _add_link(links, match.group(2), shown if _SHOWN_RE.fullmatch(shown) else None)
        masked = masked[: match.start()] + " " * len(match.group(0)) + masked[match.end() :]
    for match in _URL_RE.finditer(masked):
        _add_link(links, _trim_url(match.group(0)), None)
    masked = _URL_RE.sub(lambda m: " " * len(m.group(0)), masked)
    for match in _BARE_RE.finditer(masked):
        if match.group(1).rsplit(".", 1)[-1].lower() in BARE_TLDS:
            _add_link(links, "http://" + _trim_url(match.group(0)), None)
    for match in _BARE_IP_RE.finditer(masked):
        _add_link(links, "http://" + _trim_url(match.group(0)), None)
    return links[:MAX_LINKS]


def _trim_url(url: str) -> str:
    """A URL without the punctuation that ends the sentence around it; a closing
    bracket stays when the URL opened one (en.wikipedia.org/wiki/Foo_(bar))."""
    while url and (url[-1] in _TRAILING or _unbalanced_close(url)):
        url = url[:-1]
    return url


def _unbalanced_close(url: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    last = url[-1]
    return last in pairs and url.count(last) > url.count(pairs[last])


def _add_link(links: list[Link], url: str, shown: str | None) -> None:
    if len(links) >= MAX_LINKS:
        return
    host = host_of(url)
    if host is not None:
        links.append(Link(url=url, host=host, shown_text=shown))


def distinct_hosts(links: list[Link]) -> list[str]:
    """Each host once, in order of appearance."""
    return list(dict.fromkeys(link.host for link in links))


# --- hosts ----------------------------------------------------------------------------


def host_of(url: str) -> str | None:
    """The host a browser would go to (a backslash ends the host there too, and
    `%xx` escapes are decoded), NFKC and lower-case; None when there is none."""
    if "://" not in url:
        url = "http://" + url
    try:
        host = urlsplit(url.replace("\\", "/")).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = unicodedata.normalize("NFKC", unquote(host)).casefold()
    host = host.replace("\u3002", ".").replace("\uff61", ".").rstrip(".")
    return host or None


@lru_cache(maxsize=4096)
def resolve(host: str) -> Host:
    """A host's forms; cached, as the same few hosts recur across messages."""
    ip, encoded = _ip_of(host)
    if ip is not None:
        return Host(host, host, ip, encoded, str(ip))
    labels = host.split(".")
    text = ".".join(_decode_label(label) for label in labels)
    ascii_form = ".".join(_encode_label(label) for label in text.split("."))
    return Host(ascii_form, text, None, False, registrable_domain(ascii_form))


def _decode_label(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        return label


def _encode_label(label: str) -> str:
    if label.isascii():
        return label
    try:
        return label.encode("idna").decode("ascii")
    except UnicodeError:
        return label


def registrable_domain(host: str) -> str:
    """The part of `host` one registers: the last two labels, or three under a
    known second-level suffix (`news.bbc.co.uk` -> `bbc.co.uk`). A heuristic, not
    the Public Suffix List: shared hosting (github.io) counts as one domain."""
    labels = host.split(".")
    size = 3 if len(labels) >= 3 and ".".join(labels[-2:]) in SECOND_LEVEL_SUFFIXES else 2
    return ".".join(labels[-size:])


def _ip_of(host: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address | None, bool]:
    """(the IP a host names, whether it was encoded), as browsers read IPv4 hosts:
    dotted parts in decimal, 0x-hex or 0-octal, the last part filling the rest."""
    try:
        return ipaddress.ip_address(host), False
    except ValueError:
        pass
    parts = host.split(".")
    numbers = [_ipv4_number(part) for part in parts]
    if len(parts) > 4 or any(n is None for n in numbers):
        return None, False
    *head, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(parts)):
        return None, False
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value), True


def _ipv4_number(part: str) -> int | None:
    if re.fullmatch(r"0[xX][0-9a-fA-F]{0,8}", part):
        return int(part[2:] or "0", 16)
    if re.fullmatch(r"0[0-7]{1,11}", part):
        return int(part, 8)
    if part == "0" or (re.fullmatch(r"[0-9]{1,10}", part) and not part.startswith("0")):
        return int(part)
    return None


def normalize_domain(domain: str) -> str:
    """A domain as written in settings (any case, Unicode, a leading "*." or a trailing
    dot), in the ASCII form `resolve` gives hosts; "" for none."""
    domain = unicodedata.normalize("NFKC", domain.strip()).casefold().strip(".")
    domain = domain.removeprefix("*.")
    return ".".join(_encode_label(label) for label in domain.split(".") if label)


# --- what a name reads like -----------------------------------------------------------


def _skeleton(text: str) -> str:
    """What a name looks like: accents dropped, homoglyphs, digits and look-alike
    letter pairs folded to one Latin letter (`paypa1`, `rnicrosoft` and `p\u0430ypal`
    with a Cyrillic a read as `paypal`, `microsoft`)."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.translate(HOMOGLYPHS).translate(_LEET)
    for sequence, letter in _SEQUENCES:
        text = text.replace(sequence, letter)
    return text


def _within_distance(a: str, b: str, limit: int) -> bool:
    """Whether the optimal-string-alignment distance (edits, swaps of neighbours)
    between `a` and `b` is at most `limit`; cheap when the lengths differ a lot."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        if min(current) > limit:
            return False
        previous2, previous = previous, current
    return previous[-1] <= limit


def scripts_of(label: str) -> set[str]:
    """The scripts of a label's letters (LATIN, CYRILLIC...; Han, kana and Hangul as CJK)."""
    scripts = set()
    for ch in label:
        if ch.isalpha():
            script = unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]
            scripts.add("CJK" if script in CJK_SCRIPTS else script)
    return scripts


def mixes_scripts(label: str) -> bool:
    """Latin with Cyrillic or Greek (or any two alphabets) in one label; Latin with
    CJK is allowed, as Unicode's "highly restrictive" profile does (UTS #39)."""
    scripts = scripts_of(label)
    if "CJK" in scripts and scripts - {"CJK"} <= {"LATIN"}:
        return False
    return len(scripts) > 1


# --- brands a host may pose as -------------------------------------------------------


def make_brand(name: str, domain: str) -> Brand:
    """A brand by its name and real domain: its label and skeleton, and how many edits
    a name may be from it and still read as it (none for COMMON_WORD_BRANDS)."""
    domain = domain.casefold().strip(".")
    suffix = registrable_domain(domain).split(".", 1)[1] if "." in domain else ""
    label = domain[: -len(suffix) - 1] if suffix else domain
    skeleton = _skeleton(name)
    common = name in COMMON_WORD_BRANDS
    distance = 0 if common else 2 if len(skeleton) >= 9 else 1 if len(skeleton) >= 5 else 0
    return Brand(name, domain, label, skeleton, common, distance)


def country_site(resolved: Host, brand: Brand) -> bool:
    """The brand's own name under a country code (amazon.de, apple.co.jp)."""
    label, _, suffix = resolved.registrable.partition(".")
    country = suffix in SECOND_LEVEL_SUFFIXES or (
        len(suffix) == 2 and suffix not in GENERIC_COUNTRY_CODES
    )
    return label == brand.label and country


@dataclass(frozen=True, slots=True)
class HostParts:
    """A host's name split for brand matching (suffix labels left out)."""

    text: str  # the Unicode host
    name: str  # the label before the suffix, hyphens removed ("paypa1secure")
    name_skeleton: str
    tokens: tuple[str, ...]  # skeletons of the labels' hyphen-separated parts


@lru_cache(maxsize=4096)
def host_parts(resolved: Host) -> HostParts | None:
    """A host's name split for brand matching; None for a single-label host."""
    suffix_labels = resolved.registrable.count(".")
    if suffix_labels == 0:
        return None  # a single-label host (localhost): nothing to pose as
    labels = resolved.text.split(".")[:-suffix_labels]
    tokens = tuple(_skeleton(token) for label in labels for token in label.split("-") if token)
    name = labels[-1].replace("-", "")
    return HostParts(resolved.text, name, _skeleton(name), tokens)


def reads_like(skeleton: str, brand: Brand) -> bool:
    """Whether a skeleton reads as the brand: the same one, or within the brand's
    edit distance with the first letter kept."""
    if skeleton == brand.skeleton:
        return True
    return (
        brand.max_distance > 0
        and len(skeleton) >= 5
        and skeleton[0] == brand.skeleton[0]
        and _within_distance(skeleton, brand.skeleton, brand.max_distance)
    )


def brand_compound(token: str, brand: Brand) -> bool:
    """The brand glued to phishing words in one token (paypalsecure, myappleidverify)."""
    start = token.find(brand.skeleton)
    if start < 0 or token == brand.skeleton:
        return False
    before, after = token[:start], token[start + len(brand.skeleton) :]
    return all(not part or phishing_compound(part) for part in (before, after))


@lru_cache(maxsize=4096)
def phishing_compound(token: str) -> bool:
    """Whether a (skeleton) token is made of phishing words only (secure, idverify)."""
    if not token:
        return True
    return any(
        token.startswith(word) and phishing_compound(token[len(word) :])
        for word in _PHISHING_SKELETONS
    )


_PHISHING_SKELETONS = frozenset(_skeleton(word) for word in PHISHING_WORDS)
