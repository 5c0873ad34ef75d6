import json
import os
from pathlib import Path

import pytest

# No test may reach a model hub; everything they need is built locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

ROOT = Path(__file__).resolve().parents[1]


def record(**overrides) -> dict:
    base = {"id": "a-1", "text": "قال المتحدث إن المفاوضات ستستأنف الأسبوع المقبل في جنيف",
            "stance": "none", "sentiment": "neutral", "speaker": "المتحدث",
            "source": "authored", "derived_from": None, "group": "a-1", "split": "train"}
    return {**base, **overrides}


@pytest.fixture
def write_jsonl(tmp_path):
    """Write records (dicts, or raw strings for broken lines) to a JSONL file in tmp_path."""

    def write(name: str, rows: list) -> Path:
        path = tmp_path / name
        lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)
                 for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write
