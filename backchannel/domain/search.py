"""Search queries and highlights. Pure, no I/O.

A query is what a person types, never an engine's syntax: words (all must match, in any
order), `"quoted phrases"` (words next to each other, in order) and `prefix*` (a word
starting so). Everything else (operators, parentheses, punctuation) only separates words,
so no input can reach FTS5 or `to_tsquery` as syntax. `parse_query` raises
`invalid_query` for what it cannot read; store/search.py renders a parsed query for
each engine.

Words are runs of letters, digits and `_` (as FTS5's unicode61 tokenizer cuts them),
matched ignoring case and accents.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from backchannel.errors import BackchannelError

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
MIN_PREFIX_CHARS = 2  # `a*` would match most of the index
SNIPPET_CHARS = 160  # around the first match; shorter bodies are shown whole
SNIPPET_LEAD = 40  # characters shown before the first match

_WORD = re.compile(r"\w+")
# A quoted phrase, or a run of anything but quotes and spaces.
_CHUNK = re.compile(r'"([^"]*)"|([^"\s]+)')


@dataclass(frozen=True, slots=True)
class Term:
    """Words that must appear in this order, next to each other (one word: anywhere).
    `prefix`: the (only) word may be the start of a longer one."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    terms: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a snippet: `match` pieces are what the query found."""

    text: str
    match: bool


def fold(word: str) -> str:
    """A word as matching compares it: case-folded, accents removed."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _invalid(message: str) -> BackchannelError:
    return BackchannelError("invalid_query", message)


def parse_query(raw: str) -> Query:
    """The terms of `raw`. Raises `invalid_query` when it is too long, has an unclosed
    quote, a `*` anywhere but at the end of a word outside quotes (or after fewer than
    MIN_PREFIX_CHARS characters), too many terms, or no word at all."""
    if len(raw) > MAX_QUERY_CHARS:
        raise _invalid(f"A search is at most {MAX_QUERY_CHARS} characters, not {len(raw)}.")
    if raw.count('"') % 2:
        raise _invalid('A quote (") is left open.')
    terms: list[Term] = []
    for phrase, bare in _CHUNK.findall(raw):
        if phrase:
            words = tuple(w.lower() for w in _WORD.findall(phrase))
            if words:
                terms.append(Term(words))
            continue
        terms.extend(_bare_terms(bare))
    if not terms:
        raise _invalid("Search for at least one word (letters or digits).")
    if len(terms) > MAX_TERMS:
        raise _invalid(f"A search has at most {MAX_TERMS} words or phrases, not {len(terms)}.")
    return Query(tuple(dict.fromkeys(terms)))


def _bare_terms(chunk: str) -> list[Term]:
    """The words of an unquoted chunk; a `*` may only end it, right after a word."""
    star = chunk.find("*")
    if star != -1 and (star != len(chunk) - 1 or not chunk[:star][-1:].isalnum()):
        raise _invalid("`*` may only end a word, as in `meet*`.")
    words = [w.lower() for w in _WORD.findall(chunk)]
    if star == -1 or not words:
        return [Term((w,)) for w in words]
    if len(words[-1]) < MIN_PREFIX_CHARS:
        raise _invalid(f"A prefix needs at least {MIN_PREFIX_CHARS} characters before `*`.")
    return [Term((w,)) for w in words[:-1]] + [Term((words[-1],), prefix=True)]


def highlight(text: str, query: Query) -> list[Segment]:
    """A snippet of `text` cut in segments, the words the query matched marked `match`.
    Plain text (clients escape it). Bodies past SNIPPET_CHARS are cut around the first
    match, with `…` where text was left out."""
    words = [(m.start(), m.end(), fold(m.group())) for m in _WORD.finditer(text)]
    spans = _matches(words, query)
    start, end = _window(text, spans)
    segments: list[Segment] = []
    if start > 0:
        segments.append(Segment("…", False))
    cursor = start
    for lo, hi in spans:
        if hi <= start or lo >= end:
            continue
        lo, hi = max(lo, start), min(hi, end)
        if lo > cursor:
            segments.append(Segment(text[cursor:lo], False))
        segments.append(Segment(text[lo:hi], True))
        cursor = hi
    if cursor < end:
        segments.append(Segment(text[cursor:end], False))
    if end < len(text):
        segments.append(Segment("…", False))
    return segments


def _matches(words: list[tuple[int, int, str]], query: Query) -> list[tuple[int, int]]:
    """[start, end) of every word of the text a term matched, in order."""
    hit = [False] * len(words)
    for term in query.terms:
        wanted = [fold(w) for w in term.words]
        size = len(wanted)
        for i in range(len(words) - size + 1):
            found = [words[i + k][2] for k in range(size)]
            if found[0].startswith(wanted[0]) if term.prefix else found == wanted:
                for k in range(size):
                    hit[i + k] = True
    spans: list[tuple[int, int]] = []
    for (lo, hi, _word), marked in zip(words, hit, strict=True):
        if marked:
            spans.append((lo, hi))
    return spans


def _window(text: str, spans: list[tuple[int, int]]) -> tuple[int, int]:
    """The [start, end) of `text` a snippet shows: all of it when short, else
    SNIPPET_CHARS from a little before the first match, cut at spaces."""
    if len(text) <= SNIPPET_CHARS:
        return 0, len(text)
    first = spans[0][0] if spans else 0
    start = max(0, first - SNIPPET_LEAD)
    if start > 0:
        space = text.find(" ", start, first)
        start = space + 1 if space != -1 else start
    end = min(len(text), start + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", start + SNIPPET_CHARS // 2, end)
        end = space if space != -1 else end
    return start, end
