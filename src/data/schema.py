"""The dataset's label sets and record fields: the single definition every module reads."""

from __future__ import annotations

STANCES = ("regime", "russia", "opposition", "none")
SENTIMENTS = ("positive", "negative", "neutral")
LABELS = {"stance": STANCES, "sentiment": SENTIMENTS}
TASKS = tuple(LABELS)

SOURCES = ("seed", "authored")
SPLITS = ("train", "dev", "test")

# Every record of the dataset carries these; extra fields are allowed and kept.
FIELDS = ("id", "text", "stance", "sentiment", "speaker", "source", "derived_from", "group",
          "split")
