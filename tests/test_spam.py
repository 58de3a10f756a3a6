"""The spam and phishing pipeline (backchannel.domain.spam): each check with what it
flags and a benign neighbour it must not, the verdict rules, hooks, fingerprints,
the corpus's minimum quality and a property over arbitrary text. No database."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backchannel.config import load_settings
from backchannel.domain.spam import (
    DAY_SECONDS,
    OUTCOMES,
    Link,
    MessageContext,
    Signal,
    SpamFilter,
    Verdict,
    extract_links,
    fingerprint,
    from_settings,
    load_hooks,
    registrable_domain,
)
from bench.spam import CORPUS, load_corpus, quality

# What the corpus run achieves (python -m bench.spam): recall 59/67 = 0.881, false
# positives 2/77 = 0.026. The bars sit just under, so losing one detection or gaining
# one false positive fails; new corpus lines may move them, never below 0.85 / 0.05.
MIN_RECALL = 0.87
MAX_FALSE_POSITIVE_RATE = 0.03

NOT_CALLABLE = 42


def ctx(
    text: str,
    *,
    request: bool = True,
    age_days: float = 30,
    tier: str = "regular",
    recent: int = 0,
    duplicates: int = 1,
    hidden: frozenset[str] = frozenset(),
) -> MessageContext:
    return MessageContext(
        text=text,
        is_request=request,
        sender_age_seconds=age_days * DAY_SECONDS,
        sender_tier=tier,
        recent_new_conversations=recent,
        duplicate_recipients=duplicates,
        hidden_words=hidden,
    )


def judge(text: str, spam_filter: SpamFilter | None = None, **kwargs: object) -> Verdict:
    return (spam_filter or SpamFilter()).check(ctx(text, **kwargs))  # type: ignore[arg-type]


def scores(verdict: Verdict, check: str) -> list[int]:
    return [signal.score for signal in verdict.signals if signal.check == check]


# --- link extraction --------------------------------------------------------------------


def test_extract_links_finds_urls_bare_domains_and_markdown() -> None:
    links = extract_links(
        "see https://www.youtube.com/watch?v=abc, and paypal-login.com/x. "
        "Also [paypal.com](http://evil.example/a) and [click here](https://github.com/x)"
    )
    assert [(link.host, link.shown_text) for link in links] == [
        ("evil.example", "paypal.com"),
        ("github.com", None),  # shown text that is not a URL or domain is not compared
        ("www.youtube.com", None),
        ("paypal-login.com", None),
    ]
    assert links[2].url == "https://www.youtube.com/watch?v=abc"  # the comma is not part of it


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("mail bob@paypal-login.com", []),  # an e-mail address is not a link
        ("setup.py, README.md, e.g. i.e. U.S. v2.0.1 node.js", []),  # file names and abbreviations
        ("https://en.wikipedia.org/wiki/Foo_(bar).", ["en.wikipedia.org"]),
        ("http://[2001:db8::1]:8080/x", ["2001:db8::1"]),
        ("http://evil.example\\@paypal.com/", ["evil.example"]),  # a browser goes to evil.example
        ("http://paypal.com@evil.example/", ["evil.example"]),
        ("203.0.113.9/login and 10.0.0.1 alone", ["203.0.113.9"]),
        ("\uff28\uff34\uff34\uff30\uff33://paypal.com", []),  # full-width HTTPS: no client link
    ],
)
def test_extract_links_edge_cases(text: str, hosts: list[str]) -> None:
    assert [link.host for link in extract_links(text)] == hosts


def test_registrable_domain_knows_second_level_suffixes() -> None:
    assert registrable_domain("news.bbc.co.uk") == "bbc.co.uk"
    assert registrable_domain("a.b.paypal.com") == "paypal.com"
    assert registrable_domain("localhost") == "localhost"


# --- one check at a time ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "score"),
    [
        ("http://203.0.113.9/login", 60),
        ("http://[2001:db8::1]/login", 60),
        ("http://3232235777/", 80),  # 192.168.1.1 as one decimal number
        ("http://0xcb007109/secure", 80),  # 203.0.113.9 in hex
        ("http://0313.0.0161.011/", 80),  # dotted octal
        ("http://192.168.1.1/", 45),  # a local network address, in a request
    ],
)
def test_raw_ip_links(url: str, score: int) -> None:
    assert scores(judge(f"look {url}"), "raw_ip_link") == [score]


def test_raw_ip_neighbours() -> None:
    assert scores(judge("router at http://192.168.1.1", request=False), "raw_ip_link") == [20]
    assert not judge("http://web2.example.com/1.2.3.4 and version 1.2.3.4").signals


@pytest.mark.parametrize(
    ("url", "score"),
    [
        ("http://xn--pypal-4ve.com/", 70),  # paypal with a Cyrillic a, as punycode
        ("https://p\u0430ypal.com/", 70),  # the same, written in Unicode
        ("http://xn--e1afmkfd.xn--p1ai/", 30),  # пример.рф, one script, but as xn--
    ],
)
def test_punycode_and_mixed_script_hosts(url: str, score: int) -> None:
    assert scores(judge(url), "punycode_domain") == [score]


@pytest.mark.parametrize(
    "url",
    ["https://пример.рф/", "https://münchen.de/", "https://東京.jp/", "https://日本語ドメイン.jp"],
)
def test_single_script_international_names_are_no_signal(url: str) -> None:
    assert scores(judge(url), "punycode_domain") == []


@pytest.mark.parametrize(
    "host",
    [
        "paypa1.com",  # 1 for l
        "rnicrosoft.com",  # rn for m
        "arnazon.com",
        "gooogle.com",  # one edit away
        "micrsooft.com",  # a swap and a drop
        "apple.com.verify-id.net",  # the real domain embedded
        "chase.com-secure-access.info",
        "paypal-secure-login.com",  # the brand beside phishing words
        "paypalsecure.net",  # ... or glued to them
        "netflix.example.org",  # a distinctive brand as a label of another domain
        "paypal.xyz",  # the brand under a generic TLD
        "amazon-delivery-update.com",  # an everyday-word brand needs phishing words
        "dlscord-gift.com",
    ],
)
def test_lookalike_domains_are_flagged(host: str) -> None:
    verdict = judge(f"http://{host}/login", request=False, age_days=900)
    assert scores(verdict, "lookalike_domain"), verdict
    assert verdict.outcome != "allow"  # in any conversation, not only requests


@pytest.mark.parametrize(
    "host",
    [
        "paypal.com",
        "www.paypal.com",
        "accounts.google.com",
        "www.apple.com",
        "store.steampowered.com",
        "amazon.co.uk",  # a brand's country site
        "amazon.de",
        "youtu.be",
        "pineapple.com",  # everyday words that contain a brand
        "apple-pie-recipes.com",
        "purchase.com",
        "startups.com",
        "finance.yahoo.com",  # one letter from binance, but another first letter
        "office.mycompany.com",
        "github.com",
    ],
)
def test_real_and_innocent_domains_are_not_lookalikes(host: str) -> None:
    assert scores(judge(f"https://{host}/help"), "lookalike_domain") == []


def test_custom_brands_replace_the_defaults() -> None:
    spam_filter = SpamFilter(brands={"acmebank": "acmebank.example"})
    assert scores(judge("http://acmebank-login.com", spam_filter), "lookalike_domain") == [80]
    assert scores(judge("http://paypa1.com", spam_filter), "lookalike_domain") == []
    assert scores(judge("https://online.acmebank.example", spam_filter), "lookalike_domain") == []


@pytest.mark.parametrize(
    ("url", "blocked"),
    [
        ("https://evil.example/x", True),
        ("https://login.EVIL.example/x", True),  # subdomains, any case
        ("bare link to login.scam.com/path", True),
        ("https://notevil.example/", False),
        ("https://evil.example.org/", False),
    ],
)
def test_blocked_domains(url: str, blocked: bool) -> None:
    spam_filter = SpamFilter(blocked_domains=["Evil.Example.", "scam.com"])
    verdict = judge(url, spam_filter, request=False)
    assert scores(verdict, "blocked_domain") == ([100] if blocked else [])
    assert (verdict.outcome == "reject") == blocked


def test_blocked_domain_wildcard_form() -> None:
    spam_filter = SpamFilter(blocked_domains=["*.other.example"])
    assert scores(judge("http://a.other.example", spam_filter), "blocked_domain") == [100]


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("[paypal.com](http://evil.example/)", 75),  # a brand's domain shown
        ("[https://docs.example.org](https://files.example.net/x)", 60),
        ("[github.com](https://github.com/x/y)", None),
        ("[www.example.com](https://example.com/x)", None),  # same registrable domain
        ("[youtube.com](https://youtu.be/abc)", None),  # both the same brand's
        ("[the docs](https://evil.example/)", None),  # shown text is no domain
    ],
)
def test_link_text_mismatch(text: str, score: int | None) -> None:
    assert scores(judge(text), "link_text_mismatch") == ([score] if score else [])


def test_url_shorteners_weigh_more_in_requests() -> None:
    assert scores(judge("https://bit.ly/3xK9"), "url_shortener") == [25]
    assert scores(judge("bit.ly/3xK9", request=False), "url_shortener") == [5]
    assert scores(judge("https://bitly.com/pages/pricing"), "url_shortener") == []


def test_userinfo_disguise() -> None:
    assert scores(judge("http://paypal.com@evil.example/"), "userinfo_link") == [70]
    assert scores(judge("ftp://anna:secret@files.example.org/"), "userinfo_link") == []


@pytest.mark.parametrize(
    ("duplicates", "is_request", "link", "score"),
    [
        (1, True, False, None),
        (2, True, True, None),
        (3, True, False, 30),
        (3, True, True, 45),
        (10, True, False, 60),
        (10, True, True, 75),
        (3, False, True, 10),  # a greeting to a few friends
        (14, False, False, 30),
    ],
)
def test_duplicate_blasts(duplicates: int, is_request: bool, link: bool, score: int | None) -> None:
    text = "Join us! https://example.org/event" if link else "Happy new year!"
    verdict = judge(text, request=is_request, duplicates=duplicates)
    assert scores(verdict, "duplicate_blast") == ([score] if score else [])


@pytest.mark.parametrize(
    ("age_days", "recent", "tier", "score"),
    [
        (0.5, 5, "new", 35),
        (0.5, 15, "new", 50),
        (3, 15, "new", 35),
        (100, 30, "regular", 50),
        (0.5, 4, "new", None),
        (30, 10, "regular", None),
        (400, 40, "trusted", None),  # trusted senders are not throttled by this check
    ],
)
def test_new_account_velocity(age_days: float, recent: int, tier: str, score: int | None) -> None:
    verdict = judge("hi!", age_days=age_days, recent=recent, tier=tier)
    assert scores(verdict, "new_account_velocity") == ([score] if score else [])


def test_links_in_requests_from_day_old_accounts() -> None:
    text = "photo: https://imgur.com/a/Xy12"
    assert scores(judge(text, age_days=0.5), "new_account_velocity") == [20]
    assert scores(judge(text, age_days=0.5, request=False), "new_account_velocity") == []
    assert scores(judge(text, age_days=2), "new_account_velocity") == []


def test_scam_phrasing_only_in_requests_and_never_alone_enough() -> None:
    one = judge("Please verify your account today")
    assert scores(one, "scam_phrase") == [20] and one.outcome == "allow"
    many = judge("You have won! Click here to claim your prize, a gift card, act now")
    assert scores(many, "scam_phrase") == [35] and many.outcome == "allow"
    assert judge("verify your account settings, lol", request=False).signals == ()
    assert judge("Please confirm your attendance on Tuesday").signals == ()
    assert judge("v\u0435rify your \u0430ccount").signals  # Cyrillic e and a
    with_link = judge("Verify your account now: https://bit.ly/abc")
    assert with_link.outcome == "hide"  # phrase 20 + shortener 25


# --- hidden words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("SPOILER: he dies", True),
        ("\uff53\uff50\uff4f\uff49\uff4c\uff45\uff52 alert", True),  # full-width, NFKC-folded
        ("spo\u200biler alert", True),  # a zero-width space does not hide it
        ("No spoilers please", False),  # word boundaries
        ("despoiler", False),
        ("Meet me at the STRASSE corner", True),  # casefold: ß is ss
        ("free    money here", True),  # phrases, whitespace collapsed
        ("this is freemoney", False),
        ("これは詐欺です", True),  # CJK words matched without spaces
    ],
)
def test_hidden_words(text: str, hidden: bool) -> None:
    words = frozenset({"spoiler", "straße", "free money", "詐欺"})
    verdict = judge(text, hidden=words)
    assert (scores(verdict, "hidden_word") == [40]) == hidden
    assert verdict.outcome == ("hide" if hidden else "allow")


def test_hidden_words_never_push_past_hide_and_are_not_named() -> None:
    spam_filter = SpamFilter(hide_score=40, hold_score=70, reject_score=90)
    only_hidden = judge("crypto crypto", spam_filter, hidden=frozenset({"crypto"}))
    assert only_hidden.outcome == "hide" and only_hidden.score == 40
    assert "crypto" not in only_hidden.reason  # the reason may reach the sender
    # With abuse signals the outcome is the abuse's own: raw IP (60) stays "hide",
    # a look-alike (80) "hold", even though the summed score reaches 100.
    ip = judge("crypto http://203.0.113.9/", spam_filter, hidden=frozenset({"crypto"}))
    assert (ip.outcome, ip.score) == ("hide", 100)
    lookalike = judge("crypto http://paypa1.com", spam_filter, hidden=frozenset({"crypto"}))
    assert (lookalike.outcome, lookalike.score) == ("hold", 100)


# --- verdicts and thresholds ----------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "outcome"),
    [
        (0, "allow"),
        (39, "allow"),
        (40, "hide"),
        (69, "hide"),
        (70, "hold"),
        (89, "hold"),
        (90, "reject"),
        (100, "reject"),
    ],
)
def test_outcome_thresholds(score: int, outcome: str) -> None:
    assert SpamFilter().outcome(score) == outcome


def test_custom_thresholds_and_the_verdict_reason() -> None:
    strict = SpamFilter(hide_score=20, hold_score=25, reject_score=30)
    verdict = judge("https://bit.ly/x and http://203.0.113.9/", strict)
    assert verdict.outcome == "reject" and verdict.score == 85
    assert verdict.reason == (
        "links to a raw IP address (203.0.113.9); "
        "links through a URL shortener (bit.ly) that hides the destination"
    )
    assert judge("hello").reason == ""


@pytest.mark.parametrize(("hide", "hold", "reject"), [(50, 40, 90), (40, 70, 60), (0, 70, 90)])
def test_thresholds_must_be_ordered(hide: int, hold: int, reject: int) -> None:
    with pytest.raises(ValueError, match="hide <= hold <= reject"):
        SpamFilter(hide_score=hide, hold_score=hold, reject_score=reject)


def test_scores_are_capped_at_100() -> None:
    verdict = judge(
        "[paypal.com](http://paypa1.com) http://3232235777/ verify your account",
        age_days=0.1,
        recent=40,
        duplicates=50,
    )
    assert verdict.score == 100 and verdict.outcome == "reject"
    assert sum(signal.score for signal in verdict.signals) > 100


# --- hooks -------------------------------------------------------------------------------


def flag_bananas(ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
    """An operator hook, as loaded from "tests.test_spam:flag_bananas"."""
    if "banana" in ctx.text:
        yield Signal("bananas", 50, f"mentions bananas ({len(links)} links)")


def broken_hook(ctx: MessageContext, links: list[Link]) -> list[Signal]:
    raise RuntimeError(f"boom on {ctx.text}")


def wrong_type_hook(ctx: MessageContext, links: list[Link]) -> list[object]:
    return ["not a signal"]


def greedy_hook(ctx: MessageContext, links: list[Link]) -> list[Signal]:
    return [Signal("greedy", 1000, "scores out of range are clamped")]


def test_hooks_add_signals() -> None:
    spam_filter = SpamFilter(hooks=[flag_bananas])
    verdict = judge("banana https://example.org", spam_filter)
    assert [(s.check, s.score) for s in verdict.signals] == [("bananas", 50)]
    assert verdict.outcome == "hide"
    assert judge("apple", spam_filter).signals == ()
    assert scores(judge("x", SpamFilter(hooks=[greedy_hook])), "greedy") == [100]


def test_failing_hooks_are_skipped_with_a_warning_naming_them_not_the_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spam_filter = SpamFilter(hooks=[broken_hook, wrong_type_hook, flag_bananas])
    with caplog.at_level(logging.WARNING, logger="backchannel.domain.spam"):
        verdict = judge("secret banana text", spam_filter)
    assert [s.check for s in verdict.signals] == ["bananas"]
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "tests.test_spam:broken_hook" in logged and "RuntimeError" in logged
    assert "tests.test_spam:wrong_type_hook" in logged
    assert "secret" not in logged


def test_load_hooks() -> None:
    assert load_hooks(["tests.test_spam:flag_bananas"]) == [flag_bananas]
    assert load_hooks(["os.path:join"])  # any importable callable
    assert load_hooks([]) == []


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("tests.test_spam", "expected 'package.module:function'"),
        (":flag_bananas", "expected 'package.module:function'"),
        ("tests.no_such_module:hook", "cannot be imported"),
        ("tests.test_spam:no_such_hook", "cannot be imported"),
        ("tests.test_spam:NOT_CALLABLE", "not callable"),
    ],
)
def test_load_hooks_errors_name_the_path(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        load_hooks([path])
    assert repr(path) in str(info.value)


def test_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        spam_blocked_domains=["evil.example"],
        spam_hide_score=30,
        spam_hold_score=60,
        spam_reject_score=95,
        spam_hooks=["tests.test_spam:flag_bananas"],
    )
    spam_filter = from_settings(settings)
    assert (spam_filter.hide_score, spam_filter.hold_score, spam_filter.reject_score) == (
        30,
        60,
        95,
    )
    assert judge("http://evil.example", spam_filter).outcome == "reject"
    assert judge("banana", spam_filter).outcome == "hide"  # 50 >= 30
    with pytest.raises(ValueError, match="no_such"):
        from_settings(load_settings(data_dir=tmp_path, spam_hooks=["tests.no_such:x"]))


# --- fingerprints -----------------------------------------------------------------------


def test_fingerprint_matches_trivially_varied_blasts() -> None:
    base = fingerprint("Win $500 today! Claim at https://prize.example/c?id=123")
    for variant in (
        "win $900 TODAY!!  claim at https://prize.example/c?id=98765 🎉",
        "Win $500 today. Claim at\nhttps://prize.example/c#ref=abc",
        "WIN $1,000 TODAY 🚀🚀 claim at https://prize.example/c?u=x&y=2",
    ):
        assert fingerprint(variant) == base, variant
    assert fingerprint("Win $500 today! Claim at https://other.example/c") != base
    assert fingerprint("See you at 7") != fingerprint("See you at the cinema")
    assert fingerprint("👍") != fingerprint("❤️")  # emoji-only texts keep their emoji
    assert len(base) == 64 and int(base, 16) >= 0


# --- the corpus -------------------------------------------------------------------------


def test_the_corpus_is_large_and_balanced() -> None:
    samples = load_corpus(CORPUS)
    labels = [sample.label for sample in samples]
    assert len(samples) >= 120
    assert 0.4 <= labels.count("spam") / len(samples) <= 0.6


def test_corpus_detection_and_false_positive_rates() -> None:
    samples = load_corpus(CORPUS)
    spam_filter = SpamFilter()
    figures = quality(samples, [spam_filter.check(sample.context) for sample in samples])
    assert figures["recall"] >= MIN_RECALL, figures
    assert figures["false_positive_rate"] <= MAX_FALSE_POSITIVE_RATE, figures


# --- properties -------------------------------------------------------------------------

URL_PIECES = (
    *("http://", "https://", "xn--", ".", "/", "[", "]", "(", ")", "@", ":", "\\", "%", "?"),
    *("0x", "1", "255.", "paypal", "-", "com", " ", "\u0430", "\u200b", "\uff48", "詐", "www."),
)
URLISH = st.sampled_from(URL_PIECES)
TEXT = st.one_of(st.text(max_size=300), st.lists(URLISH, max_size=40).map("".join))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=TEXT,
    request=st.booleans(),
    age=st.floats(min_value=0, max_value=10 * 365 * DAY_SECONDS),
    tier=st.sampled_from(["new", "regular", "trusted"]),
    recent=st.integers(min_value=0, max_value=500),
    duplicates=st.integers(min_value=0, max_value=500),
    hidden=st.frozensets(st.text(min_size=1, max_size=12), max_size=4),
)
def test_check_never_raises_and_scores_stay_in_range(
    text: str,
    request: bool,
    age: float,
    tier: str,
    recent: int,
    duplicates: int,
    hidden: frozenset[str],
) -> None:
    context = MessageContext(text, request, age, tier, recent, duplicates, hidden)
    verdict = SpamFilter(blocked_domains=["evil.example"]).check(context)
    assert 0 <= verdict.score <= 100
    assert verdict.outcome in OUTCOMES
    assert all(0 <= signal.score <= 100 for signal in verdict.signals)
    assert isinstance(fingerprint(text), str)
