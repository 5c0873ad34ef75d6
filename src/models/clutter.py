"""Training the clutter detector (``task=clutter``) on the real articles' ``clutter`` marks.

Each real article is read in order (``article_id``, ``index``) into the rows of
``src.inference.clutter.context_rows``: the statement's character n-grams beside where it
stands in its article and how many of its words the headline and the body share. Logistic
regression learns them; the detector is saved with skops into ``RUN/clutter/``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from datasets import Dataset

from src.data.io import DataError
from src.inference.clutter import CONTEXT, context_rows, save_detector
from src.models.fitting import FitContext
from src.models.recipe import save_metrics

COLUMNS = ("article_id", "index", "text", "clutter")
# Chosen on the real dev articles of dataset 2.2 (8 clutter statements of 274): dev clutter F1
# 0.714 at C 1 and 3, 0.875 at 10, 0.933 at 30 (7 flagged, all clutter), 0.875 at 100.
C = 30.0
NGRAMS = (2, 4)


def article_rows(rows: Dataset, where: str) -> tuple[list[list], np.ndarray]:
    """The pipeline's rows for every article of ``rows`` and whether each is clutter; raises
    DataError naming ``where`` when a column is missing."""
    missing = [column for column in COLUMNS if column not in rows.column_names]
    if missing:
        raise DataError(f"{where}: task=clutter needs the columns {', '.join(COLUMNS)} (each "
                        f"real statement in article order, clutter true or false; "
                        f"data/GUIDELINES.md §8.8), and it has no {', '.join(missing)}")
    articles: dict[str, list[tuple[int, str, bool]]] = {}
    for article, index, text, clutter in zip(*(rows[column] for column in COLUMNS),
                                             strict=True):
        articles.setdefault(article, []).append((int(index), text, bool(clutter)))
    features, labels = [], []
    for statements in articles.values():
        statements.sort()
        features += context_rows([text for _, text, _ in statements])
        labels += [clutter for _, _, clutter in statements]
    return features, np.asarray(labels, dtype=int)


def pipeline(seed: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([
        ("features", ColumnTransformer([
            ("tfidf", TfidfVectorizer(analyzer="char_wb", lowercase=False, ngram_range=NGRAMS,
                                      min_df=2, sublinear_tf=True), 0),
            ("context", StandardScaler(), list(range(1, len(CONTEXT) + 1)))])),
        ("classifier", LogisticRegression(C=C, max_iter=3000, random_state=seed)),
    ])


def detection_scores(gold: np.ndarray, predicted: np.ndarray) -> dict:
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(
        gold, predicted, average="binary", zero_division=0)
    return {"clutter_precision": float(precision), "clutter_recall": float(recall),
            "clutter_f1": float(f1), "clutter": int(gold.sum()), "statements": len(gold),
            "flagged": int(predicted.sum())}


def fit_clutter(ctx: FitContext, files: Mapping[str, str | None] | None = None) -> dict:
    """Fit and save the detector into ``ctx.output_dir``; ``ctx.data`` holds the real rows
    (``src.models.speaker_tagger.annotated_splits``). Returns ``{split: scores}`` for dev and
    test."""
    from src.models.tfidf import fix_vocabularies

    files = files or {}
    rows = {split: article_rows(ctx.data[split], files.get(split) or f"the {split} split")
            for split in ctx.data}
    features, labels = rows["train"]
    if labels.sum() == 0:
        raise DataError(f"{files.get('train') or 'the train split'}: no real statement is "
                        "marked clutter, so there is nothing for task=clutter to learn")
    model = pipeline(ctx.seed).fit(features, labels)
    metrics = {split: detection_scores(rows[split][1], model.predict(rows[split][0]))
               for split in ("dev", "test") if split in rows}
    fix_vocabularies(model)
    save_detector(model, ctx.output_dir)
    save_metrics(ctx.output_dir, metrics)
    return metrics
