"""Spam-filter benchmark: detection and false-positive rates on the labelled corpus,
and the throughput of `SpamFilter.check`, printed as JSON.

The corpus (tests/corpus/spam_corpus.jsonl) holds one labelled message per line; a
spam message counts as detected, and a ham one as a false positive, when its
outcome is anything but `allow`. These are figures, not assertions: the minimum
quality is asserted by tests/test_spam.py.

Usage: python -m bench.spam [--corpus PATH] [--seconds S] [--misses]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backchannel.domain import links, spam
from backchannel.domain.spam import DAY_SECONDS, MessageContext, SpamFilter, Verdict

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "spam_corpus.jsonl"


@dataclass(frozen=True, slots=True)
class Sample:
    """One labelled corpus line and the context the filter sees for it."""

    label: str  # "spam" | "ham"
    note: str
    context: MessageContext


def tier_for(age_days: float) -> str:
    """The trust tier a sender of this age would have (the corpus records only ages)."""
    if age_days < 7:
        return "new"
    return "regular" if age_days < 365 else "trusted"


def load_corpus(path: Path = CORPUS) -> list[Sample]:
    """The corpus, one Sample per non-empty line; ValueError naming the line when a
    line is not a JSON object with the required fields."""
    samples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            context = MessageContext(
                text=row["text"],
                is_request=bool(row["is_request"]),
                sender_age_seconds=float(row["sender_age_days"]) * DAY_SECONDS,
                sender_tier=tier_for(float(row["sender_age_days"])),
                recent_new_conversations=int(row.get("recent_new_conversations", 0)),
                duplicate_recipients=int(row.get("duplicate_recipients", 1)),
            )
            if row["label"] not in ("spam", "ham"):
                raise ValueError(f"label must be spam or ham, got {row['label']!r}")
            samples.append(Sample(row["label"], str(row.get("note", "")), context))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: {exc!r}") from exc
    return samples


def quality(samples: list[Sample], verdicts: list[Verdict]) -> dict[str, Any]:
    """Counts and rates: recall (spam not allowed), false-positive rate (ham not
    allowed), precision, and hits per check and per outcome."""
    spam = [v for s, v in zip(samples, verdicts, strict=True) if s.label == "spam"]
    ham = [v for s, v in zip(samples, verdicts, strict=True) if s.label == "ham"]
    caught = sum(v.outcome != "allow" for v in spam)
    false_positives = sum(v.outcome != "allow" for v in ham)
    flagged = caught + false_positives
    return {
        "messages": len(samples),
        "spam": len(spam),
        "ham": len(ham),
        "detected": caught,
        "false_positives": false_positives,
        "recall": round(caught / len(spam), 4) if spam else None,
        "false_positive_rate": round(false_positives / len(ham), 4) if ham else None,
        "precision": round(caught / flagged, 4) if flagged else None,
        "outcomes": {
            "spam": dict(Counter(v.outcome for v in spam)),
            "ham": dict(Counter(v.outcome for v in ham)),
        },
        "check_hits": dict(
            Counter(signal.check for v in verdicts for signal in v.signals).most_common()
        ),
    }


def _clear_caches() -> None:
    """Forget every host the filter module has resolved (its memos, not state)."""
    for cached in (links.resolve, links.host_parts, links.phishing_compound):
        cached.cache_clear()


def throughput(
    contexts: list[MessageContext], seconds: float, *, cold: bool = False
) -> dict[str, Any]:
    """Messages per second of `check` over `contexts`, repeated for about `seconds`;
    `cold`: with a fresh filter and the host caches cleared before each pass, as if
    every host were new (the warm figure is the steady state of recurring hosts)."""
    spam_filter = SpamFilter()
    checked = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        if cold:
            _clear_caches()
            spam_filter = SpamFilter()
        for ctx in contexts:
            spam_filter.check(ctx)
        checked += len(contexts)
    return {
        "checked": checked,
        "seconds": round(elapsed, 3),
        "messages_per_second": round(checked / elapsed),
        "microseconds_per_message": round(elapsed / checked * 1e6, 1),
    }


def misses(samples: list[Sample], verdicts: list[Verdict]) -> list[dict[str, Any]]:
    """The spam allowed and the ham not allowed, by their notes (not their text)."""
    return [
        {"label": s.label, "outcome": v.outcome, "score": v.score, "note": s.note}
        for s, v in zip(samples, verdicts, strict=True)
        if (s.label == "spam") == (v.outcome == "allow")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--misses", action="store_true", help="list the misclassified samples")
    args = parser.parse_args()
    samples = load_corpus(args.corpus)
    spam_filter = SpamFilter()
    verdicts = [spam_filter.check(sample.context) for sample in samples]
    contexts = [sample.context for sample in samples]
    plain = [ctx for ctx in contexts if not spam.extract_links(ctx.text)]
    report: dict[str, Any] = {
        "benchmark": "spam",
        "corpus": str(args.corpus),
        "thresholds": {
            "hide": spam_filter.hide_score,
            "hold": spam_filter.hold_score,
            "reject": spam_filter.reject_score,
        },
        "cpus": os.cpu_count(),
        **quality(samples, verdicts),
        "throughput": {
            "corpus_warm": throughput(contexts, args.seconds),
            "corpus_cold": throughput(contexts, args.seconds, cold=True),
            "chat_without_links": throughput(plain or contexts, args.seconds),
        },
    }
    if args.misses:
        report["misclassified"] = misses(samples, verdicts)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
