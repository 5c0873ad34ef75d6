"""CheckList-style behavioural tests: invariance to spelling variants and directional checks.

Invariance: a spelling or typography change that does not change meaning (diacritics, tatweel,
hamza forms, ya/alef-maksura, ta-marbuta, quotation-mark style, Eastern digits) must not change
the prediction; the failure rate is the share of changed statements whose label changes.
Directional: putting a speaker of another camp in place of the attributed one should move the
stance to that camp; negating a statement should flip its sentiment (curated minimal pairs).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import numpy as np

from src.data.io import read_jsonl
from src.data.paths import DATA_DIR
from src.text.letters import (
    ARABIC_INDIC_DIGITS,
    ARABIC_LETTER,
    GUILLEMETS,
    JOINING_LETTERS,
    STRAIGHT_QUOTE,
    TATWEEL,
)

NEGATION_PAIRS = DATA_DIR / "behaviour" / "negation.jsonl"
DIACRITICS = "\u064E\u064F\u0650\u0652"  # fatha, damma, kasra, sukun
SWAP_SPEAKERS = {"regime": "بشار الجعفري", "russia": "سيرغي لافروف",
                 "opposition": "نصر الحريري"}
WESTERN_TO_EASTERN_DIGITS = str.maketrans("0123456789", ARABIC_INDIC_DIGITS)


def add_diacritics(text: str, rng: random.Random) -> str:
    return "".join(c + rng.choice(DIACRITICS) if ARABIC_LETTER.match(c) and rng.random() < 0.3
                   else c for c in text)


def add_tatweel(text: str, rng: random.Random) -> str:
    out = []
    for i, c in enumerate(text):
        out.append(c)
        following = text[i + 1: i + 2]
        if (c in JOINING_LETTERS and following and ARABIC_LETTER.match(following)
                and rng.random() < 0.2):
            out.append(TATWEEL)
    return "".join(out)


def swap_quotes(text: str, _: random.Random) -> str:
    opening, closing = GUILLEMETS
    if opening in text:
        return text.replace(opening, STRAIGHT_QUOTE).replace(closing, STRAIGHT_QUOTE)
    return re.sub(f"{STRAIGHT_QUOTE}([^{STRAIGHT_QUOTE}]*){STRAIGHT_QUOTE}",
                  rf"{opening}\1{closing}", text)


PERTURBATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "diacritics": add_diacritics,
    "tatweel": add_tatweel,
    "alef/hamza": lambda t, _: re.sub("[أإآ]", "ا", t),
    "ya/alef-maksura": lambda t, _: re.sub(r"ى\b", "ي", t),
    "ta-marbuta": lambda t, _: re.sub(r"ة\b", "ه", t),
    "quotation marks": swap_quotes,
    "eastern digits": lambda t, _: t.translate(WESTERN_TO_EASTERN_DIGITS),
}


def _failures(predict: Callable[[list[str]], np.ndarray], cases: list[str],
              expected: np.ndarray) -> dict:
    """How many of ``cases`` are not predicted as ``expected``, and their share."""
    if not cases:
        return {"n": 0, "failures": 0, "failure_rate": None}
    failed = int((predict(cases) != expected).sum())
    return {"n": len(cases), "failures": failed, "failure_rate": failed / len(cases)}


def invariance(predict: Callable[[list[str]], np.ndarray], texts: list[str],
               seed: int = 0, predicted: np.ndarray | None = None) -> dict[str, dict]:
    """Per perturbation: statements it changes, and the share whose predicted label changes.
    ``predicted`` holds the labels of ``texts`` when the caller has them already."""
    original = np.asarray(predict(texts) if predicted is None else predicted)
    results = {}
    for name, perturb in PERTURBATIONS.items():
        rng = random.Random(seed)
        changed = [(i, perturb(text, rng)) for i, text in enumerate(texts)]
        changed = [(i, new) for i, new in changed if new != texts[i]]
        results[name] = _failures(predict, [new for _, new in changed],
                                 original[[i for i, _ in changed]])
    return results


def speaker_swap(predict: Callable[[list[str]], np.ndarray], labels: list[str],
                 texts: list[str], attributions) -> dict:
    """Replace each masculine attributed speaker named in the text by a speaker of every other
    camp; the stance should become that camp. Feminine verbs are skipped, since the swapped-in
    names are men and the sentence would no longer agree."""
    cases, expected = [], []
    for text, found in zip(texts, attributions, strict=True):
        if found.speaker is None or found.feminine or found.speaker not in text:
            continue
        for camp, name in SWAP_SPEAKERS.items():
            if camp != found.camp:
                cases.append(text.replace(found.speaker, name, 1))
                expected.append(labels.index(camp))
    return _failures(predict, cases, np.array(expected))


def negation(predict: Callable[[list[str]], np.ndarray], labels: list[str]) -> dict:
    """On the curated minimal pairs: the negated statement should get the opposite polarity."""
    pairs = read_jsonl(NEGATION_PAIRS)
    return _failures(predict, [pair["negated"] for pair in pairs],
                    np.array([labels.index(pair["negated_sentiment"]) for pair in pairs]))
