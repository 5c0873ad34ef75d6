"""Where the project's dataset lives in the repository."""

from __future__ import annotations

from pathlib import Path

from src.data.schema import SPLITS

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
RAW_ARTICLE = DATA_DIR / "raw" / "article.txt"
ANNOTATIONS_DIR = DATA_DIR / "annotations"
SPLITS_DIR = DATA_DIR / "qawl"
SPLIT_FILES = {split: SPLITS_DIR / f"{split}.jsonl" for split in SPLITS}
