"""Spam, phishing and malware-link filtering: a pipeline of small checks. Pure, no I/O.

`SpamFilter.check(ctx)` runs every check on one message (or message request): each
check looks at the `MessageContext` and the links found in its text and yields zero
or more `Signal`s, each with a score (0..100) and a reason for moderators. The scores
add up (capped at 100) into a `Verdict` whose outcome the caller acts on: `allow`,
`hide` (Hidden Requests, or behind a warning), `hold` (for a moderator) or `reject`
(refused, with the reasons, to the sender). Suspect messages are never dropped
silently. Operators add their own checks as hooks (`spam_hooks`), with the same
signature as the built-in ones (`Check`).

Calibration (on tests/corpus/spam_corpus.jsonl, `python -m bench.spam`): hard link
signals (raw IPs, look-alike and blocked domains) count the same in every
conversation; soft ones (scam phrasing, shorteners, blasts) weigh more in requests,
where the recipient does not know the sender. No message text is ever logged.
"""

from __future__ import annotations

import hashlib
import importlib
import ipaddress
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, cast
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from backchannel.config import Settings

log = logging.getLogger(__name__)

OUTCOMES = ("allow", "hide", "hold", "reject")
DAY_SECONDS = 86_400.0
MAX_LINKS = 64  # links looked at per message: bounds the work on a message made of links

# Brand name -> its real registrable domain. A host is a look-alike when it is none of
# these (nor OFFICIAL_DOMAINS) but carries a brand's name or something that reads like it.
DEFAULT_BRANDS: Mapping[str, str] = {
    "paypal": "paypal.com",
    "apple": "apple.com",
    "icloud": "icloud.com",
    "google": "google.com",
    "gmail": "gmail.com",
    "youtube": "youtube.com",
    "microsoft": "microsoft.com",
    "office": "office.com",
    "outlook": "outlook.com",
    "amazon": "amazon.com",
    "netflix": "netflix.com",
    "instagram": "instagram.com",
    "facebook": "facebook.com",
    "whatsapp": "whatsapp.com",
    "twitter": "twitter.com",
    "x": "x.com",
    "coinbase": "coinbase.com",
    "binance": "binance.com",
    "metamask": "metamask.io",
    "chase": "chase.com",
    "bankofamerica": "bankofamerica.com",
    "wellsfargo": "wellsfargo.com",
    "dhl": "dhl.com",
    "fedex": "fedex.com",
    "ups": "ups.com",
    "usps": "usps.com",
    "steamcommunity": "steamcommunity.com",
    "steam": "steampowered.com",
    "discord": "discord.com",
    "telegram": "telegram.org",
    "tiktok": "tiktok.com",
    "linkedin": "linkedin.com",
    "dropbox": "dropbox.com",
    "docusign": "docusign.com",
    "meta": "meta.com",
}
# Brands that are also everyday words: their name alone in a host proves nothing
# (pineapple.com, apple-pie-recipes.com, office.mycompany.com), so they need a trick
# (homoglyphs, the real domain embedded) or a phishing word beside them.
COMMON_WORD_BRANDS = frozenset(
    {"apple", "office", "outlook", "amazon", "chase", "ups", "steam", "discord", "telegram", "meta"}
)
# Other domains the brands really use (short links, CDNs, country-neutral services).
OFFICIAL_DOMAINS = frozenset(
    {
        "paypal.me", "paypalobjects.com", "paypal-community.com", "youtu.be", "ytimg.com",
        "gstatic.com", "googleapis.com", "googleusercontent.com", "google-analytics.com",
        "googletagmanager.com", "goo.gl", "apple.news", "icloud-content.com", "live.com",
        "microsoftonline.com", "office365.com", "sharepoint.com", "1drv.ms", "amazonaws.com",
        "amzn.to", "aboutamazon.com", "nflxvideo.net", "fb.com", "fb.me", "fbcdn.net",
        "messenger.com", "cdninstagram.com", "instagr.am", "wa.me", "whatsapp.net", "t.co",
        "twimg.com", "t.me", "telegram.me", "discord.gg", "discordapp.com", "discordapp.net",
        "tiktokcdn.com", "steamstatic.com", "lnkd.in", "dropboxusercontent.com",
        "docusign.net", "bofa.com",
    }
)  # fmt: skip
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
SHORTENERS = frozenset(
    {
        "bit.ly", "tinyurl.com", "t.co", "goo.gl", "is.gd", "cutt.ly", "ow.ly", "buff.ly",
        "rebrand.ly", "rb.gy", "shorturl.at", "tiny.cc", "v.gd", "bl.ink", "t.ly", "s.id",
        "shorte.st", "adf.ly", "bit.do", "qrco.de", "tr.im", "soo.gd", "clck.ru", "u.to",
    }
)  # fmt: skip
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
_DEFAULT_OFFICIAL = frozenset(DEFAULT_BRANDS.values()) | OFFICIAL_DOMAINS
_LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16")
) + tuple(ipaddress.ip_network(n) for n in ("::1/128", "fc00::/7", "fe80::/10"))

# Letters of other scripts drawn like Latin ones (a subset of Unicode's confusables),
# then the digit and symbol swaps of typo-squatting; "rn" reads as "m", "vv" as "w".
_HOMOGLYPHS = str.maketrans(
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
_CJK_SCRIPTS = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO"})


@dataclass(frozen=True, slots=True)
class Signal:
    """One reason to suspect a message: which check, how much (0..100) and why."""

    check: str
    score: int
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a message. `score` sums every signal (capped at 100); the
    outcome follows the thresholds, except that hidden-word signals (a recipient's
    preference, not abuse) only ever raise `allow` to `hide`."""

    outcome: str
    score: int
    signals: tuple[Signal, ...]

    @property
    def reason(self) -> str:
        """The signals' reasons joined with "; " ("" when there is none)."""
        return "; ".join(signal.reason for signal in self.signals)


@dataclass(frozen=True, slots=True)
class MessageContext:
    """Everything the checks may look at; built by the caller for each message."""

    text: str
    is_request: bool
    sender_age_seconds: float
    sender_tier: str
    recent_new_conversations: int = 0
    duplicate_recipients: int = 0
    hidden_words: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Link:
    """A link found in a message: the target `url`, its `host` (lower-case, NFKC, as
    written: Unicode or xn--), and the visible text when a markdown link shows a
    URL or domain of its own (`[paypal.com](http://...)`), else None."""

    url: str
    host: str
    shown_text: str | None


Check = Callable[[MessageContext, list[Link]], Iterable[Signal]]


@dataclass(frozen=True, slots=True)
class _Host:
    """A host, resolved once: ASCII (xn--) and Unicode forms, IP, registrable domain."""

    ascii: str
    text: str
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    encoded_ip: bool  # an IPv4 written as one number, hex or octal (http://3232235777/)
    registrable: str  # ASCII; for an IP, the IP itself


@dataclass(frozen=True, slots=True)
class _Brand:
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
    host = _host_of(url)
    if host is not None:
        links.append(Link(url=url, host=host, shown_text=shown))


def _host_of(url: str) -> str | None:
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
def _resolve(host: str) -> _Host:
    """A host's forms; cached, as the same few hosts recur across messages."""
    ip, encoded = _ip_of(host)
    if ip is not None:
        return _Host(host, host, ip, encoded, str(ip))
    labels = host.split(".")
    text = ".".join(_decode_label(label) for label in labels)
    ascii_form = ".".join(_encode_label(label) for label in text.split("."))
    return _Host(ascii_form, text, None, False, registrable_domain(ascii_form))


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


# --- text ---------------------------------------------------------------------------


def _normalize(text: str) -> str:
    """NFKC, case-folded, format characters (zero-width joiners...) removed and
    whitespace collapsed: the form hidden words and phrases are matched against."""
    if not text.isascii():  # ASCII is NFKC already and holds no format characters
        text = unicodedata.normalize("NFKC", text)
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.casefold().split())


_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")


def fingerprint(text: str) -> str:
    """A sha256 hex digest equal for trivially varied copies of one text: case,
    whitespace, punctuation and emoji, URL query strings and fragments, and the
    values of numbers ($500, 1,000.00) are ignored. The caller counts duplicate blasts with it."""
    words = []
    for word in _normalize(text).split():
        if "/" in word and "." in word:
            word = re.split(r"[?#]", word, maxsplit=1)[0]
        words.append(_NUMBER_RE.sub("0", word))
    basis = " ".join(words)
    core = " ".join("".join(ch for ch in basis if ch.isalnum() or ch == " ").split())
    return hashlib.sha256((core or basis).encode()).hexdigest()


def _skeleton(text: str) -> str:
    """What a name looks like: accents dropped, homoglyphs, digits and look-alike
    letter pairs folded to one Latin letter (`paypa1`, `rnicrosoft` and `p\u0430ypal`
    with a Cyrillic a read as `paypal`, `microsoft`)."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.translate(_HOMOGLYPHS).translate(_LEET)
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


def _scripts(label: str) -> set[str]:
    """The scripts of a label's letters (LATIN, CYRILLIC...; Han, kana and Hangul as CJK)."""
    scripts = set()
    for ch in label:
        if ch.isalpha():
            script = unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]
            scripts.add("CJK" if script in _CJK_SCRIPTS else script)
    return scripts


def _mixes_scripts(label: str) -> bool:
    """Latin with Cyrillic or Greek (or any two alphabets) in one label; Latin with
    CJK is allowed, as Unicode's "highly restrictive" profile does (UTS #39)."""
    scripts = _scripts(label)
    if "CJK" in scripts and scripts - {"CJK"} <= {"LATIN"}:
        return False
    return len(scripts) > 1


# --- checks -------------------------------------------------------------------------


def raw_ip_links(ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
    """Links to an IP address instead of a name: 60 anywhere, 80 when the IPv4 is
    disguised as one number or hex; 20 (45 in a request) for a local network one."""
    for host in _distinct_hosts(links):
        resolved = _resolve(host)
        if resolved.ip is None:
            continue
        if resolved.encoded_ip:
            yield Signal(
                "raw_ip_link", 80, f"links to an IP address disguised as {host} ({resolved.ip})"
            )
        elif any(resolved.ip in network for network in _LOCAL_NETWORKS):
            score = 45 if ctx.is_request else 20
            yield Signal("raw_ip_link", score, f"links to a local network address ({resolved.ip})")
        else:
            yield Signal("raw_ip_link", 60, f"links to a raw IP address ({resolved.ip})")


def punycode_domains(ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
    """Hosts whose letters mix scripts in one name (70: paypal with a Cyrillic a),
    or written in punycode (30: xn--). A single-script international name, written
    as such (пример.рф), is no signal."""
    for host in _distinct_hosts(links):
        resolved = _resolve(host)
        if resolved.ip is not None:
            continue
        if not resolved.text.isascii() and any(map(_mixes_scripts, resolved.text.split("."))):
            scripts = " and ".join(sorted(name.title() for name in _scripts(resolved.text)))
            yield Signal(
                "punycode_domain",
                70,
                f"links to {_shown(resolved)}, which mixes {scripts} letters in one name",
            )
        elif "xn--" in host:
            yield Signal("punycode_domain", 30, f"links to a punycode domain, {_shown(resolved)}")


def link_text_mismatches(ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
    """Markdown links showing one domain and leading to another: 60, or 75 when the
    domain shown is a well-known brand's (and the target is not that brand's too)."""
    for link in links:
        if link.shown_text is None:
            continue
        shown_host = _host_of(link.shown_text)
        if shown_host is None:
            continue
        shown, target = _resolve(shown_host), _resolve(link.host)
        official = shown.registrable in _DEFAULT_OFFICIAL
        if shown.registrable == target.registrable or (
            official and target.registrable in _DEFAULT_OFFICIAL
        ):
            continue  # youtube.com shown, youtu.be behind: the same owner
        yield Signal(
            "link_text_mismatch",
            75 if official else 60,
            f"a link shows {shown.registrable} but goes to {target.ascii}",
        )


def url_shorteners(ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
    """Links through a URL shortener, which hides where they lead: 25 in a request,
    5 elsewhere (friends share them all the time)."""
    for host in _distinct_hosts(links):
        resolved = _resolve(host)
        if resolved.ascii in SHORTENERS or resolved.registrable in SHORTENERS:
            yield Signal(
                "url_shortener",
                25 if ctx.is_request else 5,
                f"links through a URL shortener ({resolved.ascii}) that hides the destination",
            )


def userinfo_links(ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
    """URLs dressed as one site before an `@` and going to another
    (http://paypal.com@evil.example/): 70."""
    for link in links:
        netloc = link.url.split("://", 1)[-1].replace("\\", "/").split("/", 1)[0]
        userinfo, at, _ = netloc.rpartition("@")
        if at and "." in userinfo:
            yield Signal(
                "userinfo_link",
                70,
                f"a link dressed as {userinfo[:60]} actually goes to {link.host}",
            )


def duplicate_blasts(ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
    """The same text sent to many conversations: in a request 30 from 3 of them,
    60 from 10 (15 more with a link); elsewhere 10 and 30 (greetings go round too)."""
    count = ctx.duplicate_recipients
    if count < 3:
        return
    strong = count >= 10
    if ctx.is_request:
        score = (60 if strong else 30) + (15 if links else 0)
    else:
        score = 30 if strong else 10
    yield Signal("duplicate_blast", score, f"the same text went to {count} conversations")


def new_account_velocity(ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
    """Young accounts starting many conversations (35; 50 for 15 in an hour from an
    account under a day old, or 30 from any but trusted ones), and links in a
    request from an account under a day old (20)."""
    if ctx.sender_tier == "trusted":
        return
    count, age = ctx.recent_new_conversations, ctx.sender_age_seconds
    if count >= 30 or (age < DAY_SECONDS and count >= 15):
        score = 50
    elif (age < DAY_SECONDS and count >= 5) or (age < 7 * DAY_SECONDS and count >= 15):
        score = 35
    else:
        score = 0
    if score:
        days = age / DAY_SECONDS
        yield Signal(
            "new_account_velocity",
            score,
            f"started {count} conversations in the last hour from an account {days:.1f} days old",
        )
    if ctx.is_request and links and age < DAY_SECONDS:
        yield Signal(
            "new_account_velocity", 20, "links in a request from an account under a day old"
        )


# (the words a phrase may start with, the phrase), matched on normalized text. Only
# the phrases a trigger word starts are tried, at that word: one cheap scan per text.
_SCAM_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("verify", "confirm", "validate", "update"),
        r"(?:verify|confirm|validate|update) your (?:account|identity|wallet|details|payment|information|email)\b",
    ),
    (
        ("your",),
        r"your (?:\w+ )?account (?:will be|has been|is|was) (?:temporarily )?(?:suspended|locked|closed|disabled|limited|restricted|deactivated)\b",
    ),
    (("unusual",), r"unusual (?:sign-?in|login|log-?in) (?:activity|attempt)"),
    (("you",), r"you(?:'ve| have)? (?:won|been selected)\b"),
    (
        ("claim", "collect"),
        r"(?:claim|collect) your (?:prize|reward|gift|airdrop|winnings|bonus|refund)\b",
    ),
    (
        ("click",),
        r"click (?:here|the link|below|this link) to (?:claim|verify|confirm|unlock|restore|receive|get)\b",
    ),
    (("gift",), r"gift ?cards?\b"),
    (
        ("crypto", "bitcoin", "forex", "investment"),
        r"(?:crypto|bitcoin|forex) (?:investment|trading) (?:opportunity|platform|plan)\b|investment opportunity\b",
    ),
    (("guaranteed",), r"guaranteed (?:returns?|profits?|income)\b"),
    (("double",), r"double your (?:money|bitcoin|btc|crypto|investment|eth)\b"),
    (("free",), r"free (?:bitcoin|btc|eth|crypto|nfts?|iphone|robux|v-?bucks)\b"),
    (
        ("bitcoin", "btc", "usdt", "eth", "crypto"),
        r"(?:bitcoin|btc|usdt|eth|crypto) (?:giveaway|airdrop)\b",
    ),
    (("seed", "recovery", "secret"), r"(?:seed|recovery|secret) phrase\b"),
    (
        ("redelivery", "customs", "shipping", "delivery", "package"),
        r"(?:redelivery|customs|shipping|delivery) fee\b|package (?:could not|couldn't|cannot|can't) be delivered\b",
    ),
    (("earn",), r"earn \$?\d[\d,.]*k? (?:per|a|every) (?:day|week|hour)\b"),
    (("congratulations",), r"congratulations\W+(?:you|winner|dear)\b"),
    (
        ("add", "contact", "text"),
        r"(?:add|contact|text) me on (?:whatsapp|telegram|signal|wechat)\b",
    ),
    (("act", "limited", "within"), r"act now\b|limited time offer\b|within 24 hours\b"),
)
_SCAM_PATTERNS = tuple(re.compile(pattern) for _, pattern in _SCAM_PHRASES)


def _index_triggers() -> dict[str, tuple[int, ...]]:
    index: dict[str, list[int]] = {}
    for number, (words, _) in enumerate(_SCAM_PHRASES):
        for word in words:
            index.setdefault(word, []).append(number)
    return {word: tuple(numbers) for word, numbers in index.items()}


_SCAM_TRIGGERS = _index_triggers()
_SCAM_TRIGGER_RE = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, _SCAM_TRIGGERS), key=len, reverse=True)) + ")"
)


def _scam_phrases(text: str) -> list[str]:
    """The scam phrases in a normalized text, each kind once, in order of appearance."""
    found: dict[int, str] = {}
    for trigger in _SCAM_TRIGGER_RE.finditer(text):
        for number in _SCAM_TRIGGERS[trigger.group(0)]:
            if number not in found and (m := _SCAM_PATTERNS[number].match(text, trigger.start())):
                found[number] = m.group(0)
    return list(found.values())


def scam_phrasing(ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
    """Common scam phrasing, in requests only: 20 for one phrase, 30 for two, 35 for
    more. Never enough on its own to hide a request: it must meet another signal."""
    if not ctx.is_request:
        return
    text = _normalize(ctx.text).translate(_HOMOGLYPHS).replace("\u2019", "'")
    found = _scam_phrases(text)
    if found:
        score = (20, 30, 35)[min(len(found), 3) - 1]
        quoted = ", ".join(f'"{phrase}"' for phrase in found[:3])
        yield Signal("scam_phrase", score, f"uses common scam phrasing ({quoted})")


def _shown(resolved: _Host) -> str:
    """A host for moderators: its ASCII form, and how it displays when that differs."""
    if resolved.ascii == resolved.text:
        return resolved.ascii
    return f"{resolved.ascii} (displayed as {resolved.text})"


def _distinct_hosts(links: list[Link]) -> list[str]:
    """Each host once, in order of appearance."""
    return list(dict.fromkeys(link.host for link in links))


BUILT_IN_CHECKS: tuple[Check, ...] = (
    raw_ip_links,
    punycode_domains,
    link_text_mismatches,
    url_shorteners,
    userinfo_links,
    duplicate_blasts,
    new_account_velocity,
    scam_phrasing,
)


# --- look-alike domains ---------------------------------------------------------------


def _make_brand(name: str, domain: str) -> _Brand:
    domain = domain.casefold().strip(".")
    suffix = registrable_domain(domain).split(".", 1)[1] if "." in domain else ""
    label = domain[: -len(suffix) - 1] if suffix else domain
    skeleton = _skeleton(name)
    common = name in COMMON_WORD_BRANDS
    distance = 0 if common else 2 if len(skeleton) >= 9 else 1 if len(skeleton) >= 5 else 0
    return _Brand(name, domain, label, skeleton, common, distance)


def _country_site(resolved: _Host, brand: _Brand) -> bool:
    """The brand's own name under a country code (amazon.de, apple.co.jp)."""
    label, _, suffix = resolved.registrable.partition(".")
    country = suffix in SECOND_LEVEL_SUFFIXES or (
        len(suffix) == 2 and suffix not in GENERIC_COUNTRY_CODES
    )
    return label == brand.label and country


@dataclass(frozen=True, slots=True)
class _Parts:
    """A host's name split for brand matching (suffix labels left out)."""

    text: str  # the Unicode host
    name: str  # the label before the suffix, hyphens removed ("paypa1secure")
    name_skeleton: str
    tokens: tuple[str, ...]  # skeletons of the labels' hyphen-separated parts


@lru_cache(maxsize=4096)
def _parts(resolved: _Host) -> _Parts | None:
    suffix_labels = resolved.registrable.count(".")
    if suffix_labels == 0:
        return None  # a single-label host (localhost): nothing to pose as
    labels = resolved.text.split(".")[:-suffix_labels]
    tokens = tuple(_skeleton(token) for label in labels for token in label.split("-") if token)
    name = labels[-1].replace("-", "")
    return _Parts(resolved.text, name, _skeleton(name), tokens)


def _lookalike_score(resolved: _Host, parts: _Parts, brand: _Brand) -> int:
    """How much a host (not an official domain) poses as `brand`: 85 with the real
    domain embedded, 80 for a name that reads like it, 80 (60 for an everyday-word
    brand) for the brand beside phishing words, 55 for a distinctive brand as a
    label or hyphenated part of another domain (netflix.example.org); else 0."""
    text = f".{parts.text}."
    if f".{brand.domain}." in text or f".{brand.domain}-" in text:
        return 85
    if len(brand.skeleton) < 3 or _country_site(resolved, brand):
        return 0
    trick = parts.name != brand.label  # the same skeleton from other letters
    if _reads_like(parts.name_skeleton, brand) and (trick or not brand.common_word):
        return 80
    hits = [t for t in parts.tokens if _reads_like(t, brand)]
    glued = any(_compound(t, brand) for t in parts.tokens)
    beside = any(_phishing_compound(t) for t in parts.tokens if t not in hits)
    if glued or (hits and beside):
        return 60 if brand.common_word else 80
    return 55 if hits and not brand.common_word else 0


def _reads_like(skeleton: str, brand: _Brand) -> bool:
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


def _compound(token: str, brand: _Brand) -> bool:
    """The brand glued to phishing words in one token (paypalsecure, myappleidverify)."""
    start = token.find(brand.skeleton)
    if start < 0 or token == brand.skeleton:
        return False
    before, after = token[:start], token[start + len(brand.skeleton) :]
    return all(not part or _phishing_compound(part) for part in (before, after))


@lru_cache(maxsize=4096)
def _phishing_compound(token: str) -> bool:
    """Whether a (skeleton) token is made of phishing words only (secure, idverify)."""
    if not token:
        return True
    return any(
        token.startswith(word) and _phishing_compound(token[len(word) :])
        for word in _PHISHING_SKELETONS
    )


_PHISHING_SKELETONS = frozenset(_skeleton(word) for word in PHISHING_WORDS)


# --- the filter -------------------------------------------------------------------------


class SpamFilter:
    """The pipeline: built-in checks, the block-list, look-alikes, operator hooks and
    the recipient's hidden words, turned into a `Verdict` by the three thresholds
    (1 <= hide_score <= hold_score <= reject_score <= 100, else ValueError)."""

    def __init__(
        self,
        *,
        blocked_domains: Iterable[str] = (),
        hide_score: int = 40,
        hold_score: int = 70,
        reject_score: int = 90,
        hooks: Sequence[Check] = (),
        brands: Mapping[str, str] | None = None,
    ) -> None:
        if not 1 <= hide_score <= hold_score <= reject_score <= 100:
            raise ValueError(
                "Spam thresholds must satisfy 1 <= hide <= hold <= reject <= 100; got "
                f"hide={hide_score}, hold={hold_score}, reject={reject_score}."
            )
        self.hide_score, self.hold_score, self.reject_score = hide_score, hold_score, reject_score
        self.blocked_domains = frozenset(_normalize_domain(d) for d in blocked_domains) - {""}
        brand_map = DEFAULT_BRANDS if brands is None else brands
        self._brands = tuple(_make_brand(name, domain) for name, domain in brand_map.items())
        self._official = frozenset(b.domain for b in self._brands) | OFFICIAL_DOMAINS
        self._checks: tuple[Check, ...] = (
            *BUILT_IN_CHECKS,
            self.blocked_domain_links,
            self.lookalike_domains,
        )
        self._hooks = tuple(hooks)
        # Per filter, as the answer depends on its brands; the same hosts recur.
        self._best_lookalike = lru_cache(maxsize=4096)(self._best_lookalike_uncached)

    def check(self, ctx: MessageContext) -> Verdict:
        """Run every check on one message; never raises on any text (hooks that
        raise are skipped)."""
        links = extract_links(ctx.text)
        signals = [signal for check in self._checks for signal in check(ctx, links)]
        for hook in self._hooks:
            signals.extend(_run_hook(hook, ctx, links))
        return self._verdict(signals, list(self._hidden_words(ctx)))

    def outcome(self, score: int) -> str:
        """The outcome a score earns by the thresholds."""
        if score >= self.reject_score:
            return "reject"
        if score >= self.hold_score:
            return "hold"
        return "hide" if score >= self.hide_score else "allow"

    def _verdict(self, signals: list[Signal], hidden: list[Signal]) -> Verdict:
        abuse = min(100, sum(signal.score for signal in signals))
        outcome = self.outcome(abuse)
        if hidden and outcome == "allow":
            outcome = "hide"
        total = min(100, abuse + sum(signal.score for signal in hidden))
        return Verdict(outcome, total, tuple(signals + hidden))

    def blocked_domain_links(self, ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
        """Links to a blocked domain or any of its subdomains: 100."""
        if not self.blocked_domains:
            return
        for host in _distinct_hosts(links):
            resolved = _resolve(host)
            for name in {resolved.ascii, resolved.text}:
                labels = name.split(".")
                suffixes = {".".join(labels[i:]) for i in range(len(labels))}
                if blocked := suffixes & self.blocked_domains:
                    yield Signal(
                        "blocked_domain", 100, f"links to a blocked domain ({min(blocked)})"
                    )
                    break

    def lookalike_domains(self, ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
        """Hosts posing as a well-known brand (see `_lookalike_score`); a brand's real
        domains and their subdomains (www.paypal.com, accounts.google.com) never are."""
        for host in _distinct_hosts(links):
            resolved = _resolve(host)
            if resolved.ip is not None or resolved.registrable in self._official:
                continue
            score, brand = self._best_lookalike(resolved)
            if brand is not None:
                yield Signal(
                    "lookalike_domain",
                    score,
                    f"links to {_shown(resolved)}, which looks like {brand.domain} but is not",
                )

    def _best_lookalike_uncached(self, resolved: _Host) -> tuple[int, _Brand | None]:
        """The brand `resolved` poses as most, and how much; (0, None) for none."""
        parts = _parts(resolved)
        best: tuple[int, _Brand | None] = (0, None)
        if parts is None:
            return best
        for brand in self._brands:
            score = _lookalike_score(resolved, parts, brand)
            if score > best[0]:
                best = (score, brand)
        return best

    def _hidden_words(self, ctx: MessageContext) -> Iterator[Signal]:
        """One signal (hide_score) when the text holds any of the recipient's hidden
        words or phrases, matched on word boundaries (CJK ones anywhere). The reason
        does not name the word: it may reach the sender."""
        if not ctx.hidden_words:
            return
        pattern = _hidden_words_pattern(ctx.hidden_words)
        if pattern is not None and pattern.search(_normalize(ctx.text)):
            yield Signal(
                "hidden_word", self.hide_score, "contains a word or phrase the recipient hides"
            )


def _normalize_domain(domain: str) -> str:
    domain = unicodedata.normalize("NFKC", domain.strip()).casefold().strip(".")
    domain = domain.removeprefix("*.")
    return ".".join(_encode_label(label) for label in domain.split(".") if label)


@lru_cache(maxsize=1024)
def _hidden_words_pattern(words: frozenset[str]) -> re.Pattern[str] | None:
    """One regex for a recipient's hidden words; cached, as a recipient's list rarely changes."""
    parts = []
    for word in sorted(filter(None, map(_normalize, words)), key=len, reverse=True):
        left = "" if _is_cjk(word[0]) else r"(?<!\w)"
        right = "" if _is_cjk(word[-1]) else r"(?!\w)"
        parts.append(left + re.escape(word) + right)
    return re.compile("|".join(parts)) if parts else None


def _is_cjk(ch: str) -> bool:
    """Scripts written without spaces between words, where \\b means nothing."""
    return unicodedata.name(ch, "").split(" ", 1)[0] in _CJK_SCRIPTS | {"THAI", "LAO", "KHMER"}


def _run_hook(hook: Check, ctx: MessageContext, links: list[Link]) -> list[Signal]:
    """A hook's signals, scores clamped to 0..100; none, with a warning naming the
    hook (never the text), when it raises or returns something other than Signals."""
    try:
        signals = list(hook(ctx, links))
        if not all(isinstance(signal, Signal) for signal in signals):
            raise TypeError("a spam hook must yield Signal objects")
    except Exception as exc:
        log.warning("spam hook %s failed (%s); skipped", _hook_name(hook), type(exc).__name__)
        return []
    return [Signal(s.check, max(0, min(100, int(s.score))), s.reason) for s in signals]


def _hook_name(hook: Check) -> str:
    module = getattr(hook, "__module__", None) or "?"
    return f"{module}:{getattr(hook, '__qualname__', type(hook).__name__)}"


def load_hooks(paths: Sequence[str]) -> list[Check]:
    """The callables named by "package.module:function" paths (the attribute part may
    be dotted, "module:Class.method"); ValueError naming the path when one cannot be
    imported, lacks the attribute or is not callable."""
    hooks: list[Check] = []
    for path in paths:
        module_name, colon, attribute = path.partition(":")
        if not colon or not module_name or not attribute:
            raise ValueError(f"Spam hook {path!r}: expected 'package.module:function'.")
        try:
            target: object = importlib.import_module(module_name)
            for name in attribute.split("."):
                target = getattr(target, name)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"Spam hook {path!r} cannot be imported: {exc}") from exc
        if not callable(target):
            raise ValueError(f"Spam hook {path!r} is a {type(target).__name__}, not callable.")
        hooks.append(cast(Check, target))
    return hooks


def from_settings(settings: Settings) -> SpamFilter:
    """The filter the settings describe (`spam_*`); ValueError for bad thresholds or
    hooks. Whether to run it at all is `settings.spam_filter`, the caller's call."""
    return SpamFilter(
        blocked_domains=settings.spam_blocked_domains,
        hide_score=settings.spam_hide_score,
        hold_score=settings.spam_hold_score,
        reject_score=settings.spam_reject_score,
        hooks=load_hooks(settings.spam_hooks),
    )
