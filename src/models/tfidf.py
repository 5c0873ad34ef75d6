"""Character n-gram TF-IDF with logistic regression: the fast classical baseline."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from src.evaluation.metrics import classification_metrics
from src.models.card import write_model_card
from src.models.fitting import FitContext, model_folder
from src.models.recipe import save_metrics

MODEL_FILE = "model.skops"
LABELS_FILE = "labels.json"


def save_sklearn(ctx: FitContext, model, kind: str = "sklearn") -> None:
    """A scikit-learn model folder: the model (skops, never pickle), its labels, normalisation;
    ``kind`` is embeddings when the caller adds the encoder beside them."""
    import skops.io

    model_folder(ctx.output_dir, kind)
    skops.io.dump(model, ctx.output_dir / MODEL_FILE)
    Path(ctx.output_dir, LABELS_FILE).write_text(json.dumps(
        {"task": ctx.task, "id2label": dict(enumerate(ctx.labels))}, ensure_ascii=False,
        indent=2) + "\n")
    ctx.normalizer.save(ctx.output_dir)
    ctx.speaker_input.save(ctx.output_dir)


@dataclass
class TfidfLogReg:
    """Word-bounded character n-grams suit Arabic's clitics and orthographic variants."""

    analyzer: str = "char_wb"
    ngram_min: int = 2
    ngram_max: int = 5
    min_df: int = 1
    sublinear_tf: bool = True
    C: float = 10.0
    max_iter: int = 2000

    base_model = None

    def pipeline(self, seed: int, balanced: bool):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        return Pipeline([
            ("tfidf", TfidfVectorizer(analyzer=self.analyzer, lowercase=False,
                                      ngram_range=(self.ngram_min, self.ngram_max),
                                      min_df=self.min_df, sublinear_tf=self.sublinear_tf)),
            ("classifier", LogisticRegression(C=self.C, max_iter=self.max_iter,
                                              class_weight="balanced" if balanced else None,
                                              random_state=seed)),
        ])

    def fit(self, ctx: FitContext) -> dict:
        balanced = bool(ctx.trainer.get("class_weights"))
        model = self.pipeline(ctx.seed, balanced)
        model.fit(ctx.texts("train"), ctx.targets("train"))
        metrics = {split: classification_metrics(ctx.labels, ctx.targets(split),
                                                 model.predict(ctx.texts(split)))
                   for split in ("dev", "test")}
        save_sklearn(ctx, model)
        write_model_card(
            ctx, metrics, base_model=None, library="sklearn",
            architecture=f"TF-IDF over {self.analyzer} {self.ngram_min}-{self.ngram_max}-grams "
                         "and logistic regression",
            recipe=f"C {self.C}, sublinear tf {self.sublinear_tf}, min df {self.min_df}"
                   f"{', balanced class weights' if balanced else ''}")
        save_metrics(ctx.output_dir, metrics)
        return metrics
