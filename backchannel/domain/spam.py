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

What a link or host is (its IP, punycode, registrable domain, what its name reads
like) is read in `backchannel.domain.links`; this module weighs it.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, cast

from backchannel.domain.links import (
    CJK_SCRIPTS,
    HOMOGLYPHS,
    LOCAL_NETWORKS,
    Brand,
    Host,
    HostParts,
    Link,
    brand_compound,
    country_site,
    distinct_hosts,
    extract_links,
    host_of,
    host_parts,
    make_brand,
    mixes_scripts,
    normalize_domain,
    phishing_compound,
    reads_like,
    resolve,
    scripts_of,
)
from backchannel.domain.links import registrable_domain as registrable_domain  # re-exported

if TYPE_CHECKING:
    from backchannel.config import Settings

log = logging.getLogger(__name__)

OUTCOMES = ("allow", "hide", "hold", "reject")
DAY_SECONDS = 86_400.0

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
SHORTENERS = frozenset(
    {
        "bit.ly", "tinyurl.com", "t.co", "goo.gl", "is.gd", "cutt.ly", "ow.ly", "buff.ly",
        "rebrand.ly", "rb.gy", "shorturl.at", "tiny.cc", "v.gd", "bl.ink", "t.ly", "s.id",
        "shorte.st", "adf.ly", "bit.do", "qrco.de", "tr.im", "soo.gd", "clck.ru", "u.to",
    }
)  # fmt: skip
_DEFAULT_OFFICIAL = frozenset(DEFAULT_BRANDS.values()) | OFFICIAL_DOMAINS


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


Check = Callable[[MessageContext, list[Link]], Iterable[Signal]]


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


# --- checks -------------------------------------------------------------------------


def raw_ip_links(ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
    """Links to an IP address instead of a name: 60 anywhere, 80 when the IPv4 is
    disguised as one number or hex; 20 (45 in a request) for a local network one."""
    for host in distinct_hosts(links):
        resolved = resolve(host)
        if resolved.ip is None:
            continue
        if resolved.encoded_ip:
            yield Signal(
                "raw_ip_link", 80, f"links to an IP address disguised as {host} ({resolved.ip})"
            )
        elif any(resolved.ip in network for network in LOCAL_NETWORKS):
            score = 45 if ctx.is_request else 20
            yield Signal("raw_ip_link", score, f"links to a local network address ({resolved.ip})")
        else:
            yield Signal("raw_ip_link", 60, f"links to a raw IP address ({resolved.ip})")


def punycode_domains(ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
    """Hosts whose letters mix scripts in one name (70: paypal with a Cyrillic a),
    or written in punycode (30: xn--). A single-script international name, written
    as such (пример.рф), is no signal."""
    for host in distinct_hosts(links):
        resolved = resolve(host)
        if resolved.ip is not None:
            continue
        if not resolved.text.isascii() and any(map(mixes_scripts, resolved.text.split("."))):
            scripts = " and ".join(sorted(name.title() for name in scripts_of(resolved.text)))
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
        shown_host = host_of(link.shown_text)
        if shown_host is None:
            continue
        shown, target = resolve(shown_host), resolve(link.host)
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
    for host in distinct_hosts(links):
        resolved = resolve(host)
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
    text = _normalize(ctx.text).translate(HOMOGLYPHS).replace("\u2019", "'")
    found = _scam_phrases(text)
    if found:
        score = (20, 30, 35)[min(len(found), 3) - 1]
        quoted = ", ".join(f'"{phrase}"' for phrase in found[:3])
        yield Signal("scam_phrase", score, f"uses common scam phrasing ({quoted})")


def _shown(resolved: Host) -> str:
    """A host for moderators: its ASCII form, and how it displays when that differs."""
    if resolved.ascii == resolved.text:
        return resolved.ascii
    return f"{resolved.ascii} (displayed as {resolved.text})"


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


def _lookalike_score(resolved: Host, parts: HostParts, brand: Brand) -> int:
    """How much a host (not an official domain) poses as `brand`: 85 with the real
    domain embedded, 80 for a name that reads like it, 80 (60 for an everyday-word
    brand) for the brand beside phishing words, 55 for a distinctive brand as a
    label or hyphenated part of another domain (netflix.example.org); else 0."""
    text = f".{parts.text}."
    if f".{brand.domain}." in text or f".{brand.domain}-" in text:
        return 85
    if len(brand.skeleton) < 3 or country_site(resolved, brand):
        return 0
    trick = parts.name != brand.label  # the same skeleton from other letters
    if reads_like(parts.name_skeleton, brand) and (trick or not brand.common_word):
        return 80
    hits = [t for t in parts.tokens if reads_like(t, brand)]
    glued = any(brand_compound(t, brand) for t in parts.tokens)
    beside = any(phishing_compound(t) for t in parts.tokens if t not in hits)
    if glued or (hits and beside):
        return 60 if brand.common_word else 80
    return 55 if hits and not brand.common_word else 0


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
        self.blocked_domains = frozenset(normalize_domain(d) for d in blocked_domains) - {""}
        brand_map = DEFAULT_BRANDS if brands is None else brands
        self._brands = tuple(make_brand(name, domain) for name, domain in brand_map.items())
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
        for host in distinct_hosts(links):
            resolved = resolve(host)
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
        for host in distinct_hosts(links):
            resolved = resolve(host)
            if resolved.ip is not None or resolved.registrable in self._official:
                continue
            score, brand = self._best_lookalike(resolved)
            if brand is not None:
                yield Signal(
                    "lookalike_domain",
                    score,
                    f"links to {_shown(resolved)}, which looks like {brand.domain} but is not",
                )

    def _best_lookalike_uncached(self, resolved: Host) -> tuple[int, Brand | None]:
        """The brand `resolved` poses as most, and how much; (0, None) for none."""
        parts = host_parts(resolved)
        best: tuple[int, Brand | None] = (0, None)
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
    return unicodedata.name(ch, "").split(" ", 1)[0] in CJK_SCRIPTS | {"THAI", "LAO", "KHMER"}


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
