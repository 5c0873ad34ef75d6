"""Near-duplicate texts by Jaccard similarity of character 5-gram sets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

NGRAM = 5
THRESHOLD = 0.8


def _grams(texts: Sequence[str]):
    """Each text's set of character 5-grams as a binary row, and each set's size."""
    # analyzer="char" keeps spaces inside n-grams, as the definition asks; no lowercasing in Arabic.
    vectorizer = CountVectorizer(analyzer="char", ngram_range=(NGRAM, NGRAM), binary=True,
                                 lowercase=False)
    grams = vectorizer.fit_transform(texts).astype(np.int32)
    return grams, np.asarray(grams.sum(axis=1)).ravel()


def _kept(rows, cols, inter, row_sizes, col_sizes, threshold: float
          ) -> list[tuple[int, int, float]]:
    jaccard = inter / (row_sizes[rows] + col_sizes[cols] - inter)
    keep = jaccard >= threshold
    return list(zip(rows[keep].tolist(), cols[keep].tolist(), jaccard[keep].tolist(),
                    strict=True))


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = THRESHOLD
) -> list[tuple[int, int, float]]:
    """Index pairs ``(i, j, jaccard)`` with ``i < j`` whose 5-gram sets overlap by ``threshold``
    or more, most similar first. Sparse products keep this fast for tens of thousands of texts."""
    if len(texts) < 2:
        return []
    grams, sizes = _grams(texts)
    shared = (grams @ grams.T).tocoo()
    upper = shared.row < shared.col
    found = _kept(shared.row[upper], shared.col[upper], shared.data[upper], sizes, sizes,
                  threshold)
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
    grams, sizes = _grams([*texts, *reference])
    known, known_sizes = grams[len(texts):], sizes[len(texts):]
    found = []
    for first in range(0, len(texts), chunk):
        shared = (grams[first:min(first + chunk, len(texts))] @ known.T).tocoo()
        found += _kept(shared.row + first, shared.col, shared.data, sizes, known_sizes, threshold)
    return sorted(found, key=lambda pair: -pair[2])
