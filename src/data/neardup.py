"""Near-duplicate texts by Jaccard similarity of character 5-gram sets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

NGRAM = 5
THRESHOLD = 0.8


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = THRESHOLD
) -> list[tuple[int, int, float]]:
    """Index pairs ``(i, j, jaccard)`` with ``i < j`` whose 5-gram sets overlap by ``threshold``
    or more, most similar first. Sparse products keep this fast for tens of thousands of texts."""
    if len(texts) < 2:
        return []
    # analyzer="char" keeps spaces inside n-grams, as the definition asks; no lowercasing in Arabic.
    vectorizer = CountVectorizer(analyzer="char", ngram_range=(NGRAM, NGRAM), binary=True,
                                 lowercase=False)
    grams = vectorizer.fit_transform(texts).astype(np.int32)
    sizes = np.asarray(grams.sum(axis=1)).ravel()
    shared = (grams @ grams.T).tocoo()
    upper = shared.row < shared.col
    rows, cols, inter = shared.row[upper], shared.col[upper], shared.data[upper]
    jaccard = inter / (sizes[rows] + sizes[cols] - inter)
    keep = jaccard >= threshold
    found = zip(rows[keep].tolist(), cols[keep].tolist(), jaccard[keep].tolist(), strict=True)
    return sorted(found, key=lambda pair: -pair[2])


def near_duplicate_rate(texts: Sequence[str], threshold: float = THRESHOLD) -> float:
    """Share of texts that have at least one near-duplicate elsewhere in ``texts``."""
    involved = {index for i, j, _ in near_duplicate_pairs(texts, threshold) for index in (i, j)}
    return len(involved) / len(texts) if texts else 0.0


def near_duplicates_across(
    texts: Sequence[str], reference: Sequence[str], threshold: float = THRESHOLD,
    chunk: int = 2000,
) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, jaccard)`` of ``texts[i]`` and ``reference[j]`` whose 5-gram sets overlap
    by ``threshold`` or more. Only the cross products are formed, ``chunk`` texts at a time: the
    square of a news pool's tens of thousands of statements, which share common 5-grams almost
    all with all, would not fit in memory."""
    if not texts or not reference:
        return []
    vectorizer = CountVectorizer(analyzer="char", ngram_range=(NGRAM, NGRAM), binary=True,
                                 lowercase=False)
    known = vectorizer.fit_transform(reference).astype(np.int32)
    known_sizes = np.asarray(known.sum(axis=1)).ravel()
    grams_of = vectorizer.build_analyzer()
    found = []
    for first in range(0, len(texts), chunk):
        batch = texts[first:first + chunk]
        # A 5-gram the reference lacks adds to the size of the text's set, not to any overlap.
        sizes = np.array([len(set(grams_of(text))) for text in batch])
        shared = (vectorizer.transform(batch).astype(np.int32) @ known.T).tocoo()
        rows, cols, inter = shared.row, shared.col, shared.data
        jaccard = inter / (sizes[rows] + known_sizes[cols] - inter)
        keep = jaccard >= threshold
        found += zip((rows[keep] + first).tolist(), cols[keep].tolist(), jaccard[keep].tolist(),
                     strict=True)
    return sorted(found, key=lambda pair: -pair[2])
