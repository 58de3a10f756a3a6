"""The FAQ bot's rules, without I/O: what a knowledge entry and the bot's settings may hold,
how a customer's message is normalised and scored against the entries, and what the bot
does with it — answer an entry, hand over to a person (asked for, or the bot is unsure).

Scoring is deliberately plain and explainable: for each of an entry's phrasings (its
question and alternatives) the better of the fuzzy ratio of the two normalised texts
(difflib) and the share of the phrasing's content words the message contains; a keyword of
the entry found in the message (as whole words) counts as `KEYWORD_SCORE`. The best entry
answers when its score reaches the business's threshold; below it, the bot is unsure.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from backchannel.domain import templates
from backchannel.errors import BackchannelError

QUESTION_MAX = 300
PHRASES_MAX = 20  # alternatives, and keywords, per entry
KEYWORD_MAX = 60
QUICK_REPLIES_MAX = 10  # an entry's buttons (the hand-off button comes on top)
LABEL_MAX = 40
ENTRIES_MAX = 500
BOT_TEXT_MAX = 1000
DEFAULT_THRESHOLD = 60  # percent
KEYWORD_SCORE = 0.8

DEFAULTS = {
    "unsure_text": "Sorry, I am not sure I understood. Someone from the team will answer you "
    "here soon.",
    "handoff_text": "Of course: someone from the team will answer you here soon.",
    "handoff_label": "Talk to a person",
}

# What a customer writes to reach a person (normalised, matched as whole words).
HANDOFF_PHRASES = (
    "human",
    "agent",
    "real person",
    "someone real",
    "talk to someone",
    "speak to someone",
    "talk to somebody",
    "speak to somebody",
    "representative",
    "operator",
    "customer service",
    "live chat",
)

# Words too common to say what a question is about.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "at",
        "be",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "have",
        "hi",
        "hello",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "the",
        "there",
        "this",
        "to",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "our",
        "us",
        "am",
        "was",
        "were",
        "any",
        "some",
        "thanks",
        "thank",
        "hey",
    ]
)

_NOT_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    """Lower case, accents and punctuation dropped, whitespace collapsed: `¿Dónde está
    mi PEDIDO?!` → `donde esta mi pedido`."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", plain).replace("_", " ").split())


def words(text: str) -> set[str]:
    """The content words of normalised text (stopwords and one-letter words dropped)."""
    return {w for w in text.split() if len(w) > 1 and w not in STOPWORDS}


def _contains(haystack: str, needle: str) -> bool:
    """Whether normalised `needle` occurs in normalised `haystack` as whole words."""
    return bool(needle) and f" {needle} " in f" {haystack} "


@dataclass(frozen=True, slots=True)
class Entry:
    """An entry as the matcher sees it: its id, its phrasings and keywords (normalised)."""

    id: str
    phrases: tuple[str, ...]
    keywords: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, id: str, question: str, alternatives: Sequence[str], keywords: Sequence[str]
    ) -> Entry:
        return cls(
            id,
            tuple(p for p in (normalise(q) for q in (question, *alternatives)) if p),
            tuple(k for k in (normalise(k) for k in keywords) if k),
        )


def score(text: str, entry: Entry) -> float:
    """How well normalised `text` matches `entry`, from 0 to 1."""
    if not text:
        return 0.0
    said = words(text)
    best = 0.0
    for phrase in entry.phrases:
        ratio = SequenceMatcher(None, text, phrase).ratio()
        wanted = words(phrase)
        overlap = len(said & wanted) / len(wanted) if wanted else 0.0
        best = max(best, ratio, overlap)
    if any(_contains(text, keyword) for keyword in entry.keywords):
        best = max(best, KEYWORD_SCORE)
    return best


@dataclass(frozen=True, slots=True)
class Decision:
    """What the bot does with a message: `answer` (with `entry`), `handoff` (asked for a
    person) or `unsure` (nothing scored high enough). `score` is the best entry's."""

    action: Literal["answer", "handoff", "unsure"]
    entry: str | None
    score: float


def wants_a_person(text: str, handoff_label: str) -> bool:
    """Whether normalised `text` asks for a person: a hand-off phrase, or the hand-off
    button's label (a tap on it sends the label)."""
    label = normalise(handoff_label)
    if label and text == label:
        return True
    return any(_contains(text, phrase) for phrase in HANDOFF_PHRASES)


def decide(raw: str, entries: Sequence[Entry], *, threshold: int, handoff_label: str) -> Decision:
    """The bot's decision on the customer's message `raw` (`threshold` in percent)."""
    text = normalise(raw)
    if wants_a_person(text, handoff_label):
        return Decision("handoff", None, 0.0)
    scored = [(score(text, entry), entry.id) for entry in entries]
    best_score, best_id = max(scored, default=(0.0, None), key=lambda pair: pair[0])
    if best_id is not None and best_score * 100 >= threshold:
        return Decision("answer", best_id, round(best_score, 3))
    return Decision("unsure", None, round(best_score, 3))


def tapped(raw: str, labels: Sequence[str]) -> str | None:
    """The offered button label `raw` is a tap on (the text equals it, normalised), if any."""
    text = normalise(raw)
    for label in labels:
        if text and normalise(label) == text:
            return label
    return None


# --- checking what the team writes ----------------------------------------------------------


def _line(raw: str, what: str, maximum: int) -> str:
    shown = " ".join(raw.split())
    if not shown or len(shown) > maximum:
        raise BackchannelError("invalid_request", f"{what} has 1 to {maximum} characters.")
    return shown


def check_question(raw: str) -> str:
    question = _line(raw, "A question", QUESTION_MAX)
    if not normalise(question):
        raise BackchannelError("invalid_request", "A question needs letters or digits.")
    return question


def check_phrases(raw: Sequence[str], what: str, maximum: int) -> list[str]:
    """Alternatives or keywords: at most PHRASES_MAX, each 1 to `maximum` characters, once."""
    if len(raw) > PHRASES_MAX:
        raise BackchannelError("invalid_request", f"At most {PHRASES_MAX} {what}.")
    seen: dict[str, str] = {}
    for item in raw:
        shown = _line(item, f"Each of the {what}", maximum)
        seen.setdefault(normalise(shown), shown)
    return [shown for key, shown in seen.items() if key]


def check_answer(raw: str) -> str:
    """An answer: text with saved replies' variables (domain/templates.py)."""
    return templates.check(raw)


def check_quick_replies(raw: Sequence[str]) -> list[str]:
    """An entry's buttons: at most QUICK_REPLIES_MAX labels of 1-40 characters, unique."""
    if len(raw) > QUICK_REPLIES_MAX:
        raise BackchannelError("invalid_request", f"At most {QUICK_REPLIES_MAX} quick replies.")
    labels: dict[str, str] = {}
    for item in raw:
        shown = _line(item, "A quick reply's label", LABEL_MAX)
        if normalise(shown) in labels or not normalise(shown):
            raise BackchannelError("invalid_request", "Quick reply labels differ from each other.")
        labels[normalise(shown)] = shown
    return list(labels.values())


def check_label(raw: str) -> str:
    return _line(raw, "The hand-off button's label", LABEL_MAX)


def check_bot_text(raw: str, what: str) -> str:
    text = raw.strip()
    if not text or len(text) > BOT_TEXT_MAX:
        raise BackchannelError("invalid_request", f"{what} has 1 to {BOT_TEXT_MAX} characters.")
    return text


def check_threshold(raw: int) -> int:
    if not 1 <= raw <= 100:
        raise BackchannelError("invalid_request", "threshold is a percentage from 1 to 100.")
    return raw
