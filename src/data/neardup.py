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
