"""The dataset's label sets and record fields: the single definition every module reads."""

from __future__ import annotations

STANCES = ("regime", "russia", "opposition", "none")
SENTIMENTS = ("positive", "negative", "neutral")
LABELS = {"stance": STANCES, "sentiment": SENTIMENTS}
TASKS = tuple(LABELS)

# seed: the 19 sentences of data/raw/article.txt; authored: written by the project's annotators;
# real: statements of real news articles, annotated whole article by whole article.
SOURCES = ("seed", "authored", "real")
SPLITS = ("train", "dev", "test")

# Every record of the dataset carries these; extra fields are allowed and kept.
FIELDS = ("id", "text", "stance", "sentiment", "speaker", "source", "derived_from", "group",
          "split")
# Real statements carry their provenance and their spans as well (``null`` where none).
REAL_FIELDS = ("article_id", "corpus", "outlet", "url", "date", "index", "speaker_span",
               "speaker_inherited", "cue_span", "clutter")
