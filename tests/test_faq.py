"""The FAQ bot's matching rules (domain/faq.py), without a database."""

from __future__ import annotations

import pytest

from backchannel.domain import faq
from backchannel.errors import BackchannelError

ENTRIES = [
    faq.Entry.of(
        "hours",
        "What are your opening hours?",
        ["When are you open?"],
        ["opening hours", "open"],
    ),
    faq.Entry.of(
        "shipping",
        "How much does shipping cost?",
        ["Delivery price"],
        ["shipping", "delivery"],
    ),
    faq.Entry.of("returns", "How do I return an item?", [], ["refund"]),
]


def decide(text: str, threshold: int = 60) -> faq.Decision:
    return faq.decide(text, ENTRIES, threshold=threshold, handoff_label="Talk to a person")


def test_normalise_drops_case_accents_and_punctuation() -> None:
    assert faq.normalise("¿Dónde está mi PEDIDO?!") == "donde esta mi pedido"
    assert faq.normalise("  snake_case\tand\nlines ") == "snake case and lines"
    assert faq.normalise("?!…") == ""


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("What are your opening hours?", "hours"),  # the question itself
        ("what are ur opening hours", "hours"),  # a typo: the fuzzy ratio
        ("when are you OPEN", "hours"),  # an alternative
        ("is delivery free?", "shipping"),  # a keyword
        ("shipping cost to Spain", "shipping"),  # word overlap
        ("I want a refund", "returns"),
        ("how can I return this item", "returns"),
    ],
)
def test_questions_find_their_entry(text: str, entry: str) -> None:
    decision = decide(text)
    assert decision.action == "answer" and decision.entry == entry, decision


@pytest.mark.parametrize(
    "text",
    [
        "I want to talk to a human",
        "can I speak to someone please",
        "AGENT",
        "talk to a person",  # the hand-off button's label, tapped
        "Real person!!",
    ],
)
def test_asking_for_a_person_hands_off_first(text: str) -> None:
    assert decide(text).action == "handoff"


def test_a_hand_off_phrase_wins_over_a_matching_question() -> None:
    assert decide("opening hours? no, get me a human").action == "handoff"


def test_unrelated_or_vague_text_is_unsure() -> None:
    for text in ("my parrot is sad", "hello", "???"):
        decision = decide(text)
        assert decision.action == "unsure" and decision.entry is None, text
    assert decide("my parrot is sad").score < 0.6


def test_the_threshold_decides_between_answer_and_unsure() -> None:
    text = "opening times"  # close to the hours question, not exact
    score = decide(text).score
    assert 0 < score < 1
    assert decide(text, threshold=int(score * 100)).action == "answer"
    assert decide(text, threshold=int(score * 100) + 1).action == "unsure"


def test_no_entries_is_always_unsure() -> None:
    decision = faq.decide("opening hours", [], threshold=1, handoff_label="Human please")
    assert decision == faq.Decision("unsure", None, 0.0)


def test_a_keyword_counts_only_as_whole_words() -> None:
    entry = faq.Entry.of("x", "Unrelated question here", [], ["open"])
    assert faq.score("we are open today", entry) == faq.KEYWORD_SCORE
    assert faq.score("reopened", entry) < faq.KEYWORD_SCORE


def test_a_tap_is_the_label_exactly_after_normalising() -> None:
    labels = ["Shipping costs", "Returns"]
    assert faq.tapped("shipping COSTS!", labels) == "Shipping costs"
    assert faq.tapped("shipping costs to spain", labels) is None
    assert faq.tapped("", labels) is None


def test_entries_and_settings_are_checked() -> None:
    assert faq.check_question("  What   time? ") == "What time?"
    assert faq.check_phrases(["open", "OPEN!", " shut "], "keywords", 60) == ["open", "shut"]
    assert faq.check_quick_replies(["Yes", "No"]) == ["Yes", "No"]
    assert faq.check_answer("Hi {{customer.first_name|there}}!")
    for bad in (
        lambda: faq.check_question(""),
        lambda: faq.check_question("?!"),
        lambda: faq.check_question("x" * 301),
        lambda: faq.check_phrases(["a"] * 21, "keywords", 60),
        lambda: faq.check_quick_replies(["Yes", "yes"]),
        lambda: faq.check_quick_replies(["x" * 41]),
        lambda: faq.check_quick_replies([str(n) for n in range(11)]),
        lambda: faq.check_label(" "),
        lambda: faq.check_bot_text("", "The text"),
        lambda: faq.check_threshold(0),
        lambda: faq.check_threshold(101),
    ):
        with pytest.raises(BackchannelError) as raised:
            bad()
        assert raised.value.code == "invalid_request"
    with pytest.raises(BackchannelError) as raised:
        faq.check_answer("Hi {{agent.nme}}")
    assert raised.value.code == "invalid_template"
