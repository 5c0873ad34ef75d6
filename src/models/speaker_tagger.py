"""Training the speaker tagger (``task=speaker``): BIO tags for the speaker phrase and its cue.

The annotated character spans of the real news statements (``speaker_span``, ``cue_span``;
data/GUIDELINES.md §8.1) become one tag per token through the fast tokenizer's offsets, and a
BERT recipe's token-classification model learns them with the Hugging Face Trainer. The best
checkpoint on dev is the one with the best exact speaker-span F1. ``src.inference.tagging``
reads the export.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from datasets import Dataset, DatasetDict

from src.data.io import DataError
from src.inference.tagging import BIO_LABELS, CUE, ENTITIES, SPEAKER, TAGGER_FOLDER
from src.models.card import write_model_card
from src.models.fitting import FitContext
from src.models.recipe import (
    INPUTS,
    BertRecipe,
    evaluate_splits,
    max_length_for,
    recipe_line,
    save_metrics,
    save_trained,
    trained,
    training_args,
)

# The task is named like its folder, where SpeakerTagger.in_run looks for it.
SPEAKER_TASK = TAGGER_FOLDER
SPAN_COLUMNS = {SPEAKER: "speaker_span", CUE: "cue_span"}
# Only real news statements carry spans; authored and seed statements have none, so a null span
# there would teach the tagger that their speakers are not speakers.
ANNOTATED_SOURCE = "real"
BEST_METRIC = f"{SPEAKER.lower()}_exact_f1"
IGNORED = -100  # the label the loss and the metrics skip: special tokens and padding
LABEL_IDS = {label: i for i, label in enumerate(BIO_LABELS)}
OUTSIDE = LABEL_IDS["O"]


def check_can_tag(recipe, target: str) -> None:
    if not isinstance(recipe, BertRecipe):
        raise DataError(f"task={SPEAKER_TASK}: {target} classifies whole statements and cannot "
                        "tag tokens; use model=tiny, model=me5_small or any BERT checkpoint "
                        "(model=camelbert_msa, or model.name_or_path=/path/to/bert)")


def annotated_splits(data: DatasetDict, files: Mapping[str, str | None] | None) -> DatasetDict:
    """The rows of each split whose spans were annotated: those of source ``real``, or every
    row of data without a ``source`` column. Raises :class:`DataError` naming the file when the
    span columns are missing, a split has no such row, or a span falls outside its text."""
    files = files or {}

    def where(split: str) -> str:
        return files.get(split) or f"the {split} split"

    kept = {}
    for split, rows in data.items():
        if "source" in rows.column_names:
            sources = sorted(set(rows["source"]))
            rows = rows.filter(lambda batch: [s == ANNOTATED_SOURCE for s in batch["source"]],
                               batched=True)
            if len(rows) == 0:
                raise DataError(
                    f"{where(split)}: no row of source {ANNOTATED_SOURCE}: the speaker tagger "
                    f"learns from and is chosen on the span-annotated real news statements, and "
                    f"this split has only {', '.join(map(str, sources))}")
        missing = [column for column in SPAN_COLUMNS.values() if column not in rows.column_names]
        if missing:
            raise DataError(
                f"{where(split)}: task={SPEAKER_TASK} needs the columns "
                f"{' and '.join(SPAN_COLUMNS.values())} ([start, end] character offsets into "
                f"text, or null; data/GUIDELINES.md §8.1), and it has no {', '.join(missing)}")
        for row in rows:
            for column in SPAN_COLUMNS.values():
                span, size = row[column], len(row["text"])
                if span is not None and not (len(span) == 2 and 0 <= span[0] < span[1] <= size):
                    raise DataError(f"{where(split)}: row id {row.get('id', '?')}: {column} "
                                    f"{span} is not [start, end] within its text ({size} "
                                    "characters)")
        kept[split] = rows
    return DatasetDict(kept)


def bio_tags(offsets: Sequence[tuple[int, int]], special: Sequence[int],
             spans: Mapping[str, Sequence[int] | None]) -> list[int]:
    """The label id of each token: ``B-`` on the first token whose characters overlap an
    entity's ``[start, end)`` span, ``I-`` on the others, ``O`` elsewhere and -100 on special
    tokens. A token that overlaps a span counts whole, so a span ending inside a word tags the
    word's token. A token of both spans stays the speaker's."""
    tags = [IGNORED if is_special else OUTSIDE for is_special in special]
    for entity in ENTITIES:
        span = spans.get(entity)
        if span is None:
            continue
        start, end = span
        inside = [i for i, (first, last) in enumerate(offsets)
                  if tags[i] == OUTSIDE and first < end and start < last]
        for n, i in enumerate(inside):
            tags[i] = LABEL_IDS[f"{'B' if n == 0 else 'I'}-{entity}"]
    return tags


def entity_spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """``(entity, first token, last token + 1)`` of each span in a BIO sequence. An ``I-`` that
    continues no span of its entity opens one, as conlleval reads it."""
    spans, entity, start = set(), None, 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, name = tag.partition("-")
        if entity is not None and (prefix != "I" or name != entity):
            spans.add((entity, start, i))
            entity = None
        if prefix in ("B", "I") and entity is None:
            entity, start = name, i
    return spans


def _prf(right_predictions: int, n_predicted: int, found_gold: int, n_gold: int):
    precision = right_predictions / n_predicted if n_predicted else 0.0
    recall = found_gold / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def span_metrics(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict:
    """Precision, recall and F1 of each entity's spans, in token space: ``exact`` counts a
    predicted span right when a gold span has its entity, start and end; ``overlap`` when they
    share a token (precision over predicted spans, recall over gold spans)."""
    golds = [entity_spans(tags) for tags in gold]
    preds = [entity_spans(tags) for tags in predicted]
    metrics = {}
    for entity in ENTITIES:
        exact = n_pred = n_gold = pred_hits = gold_hits = 0
        for gold_spans, pred_spans in zip(golds, preds, strict=True):
            g = [(s, e) for name, s, e in gold_spans if name == entity]
            p = [(s, e) for name, s, e in pred_spans if name == entity]
            n_gold, n_pred = n_gold + len(g), n_pred + len(p)
            exact += len(set(g) & set(p))
            pred_hits += sum(any(s < ge and gs < e for gs, ge in g) for s, e in p)
            gold_hits += sum(any(s < pe and ps < e for ps, pe in p) for s, e in g)
        for kind, scores in (("exact", _prf(exact, n_pred, exact, n_gold)),
                             ("overlap", _prf(pred_hits, n_pred, gold_hits, n_gold))):
            for name, value in zip(("precision", "recall", "f1"), scores, strict=True):
                metrics[f"{entity.lower()}_{kind}_{name}"] = value
    return metrics


def compute_span_metrics(prediction) -> dict[str, float]:
    """``compute_metrics`` for the Trainer: :func:`span_metrics` over the tokens it scores."""
    predicted = np.argmax(prediction.predictions, axis=-1)
    gold, found = [], []
    for labels, guesses in zip(prediction.label_ids, predicted, strict=True):
        scored = labels != IGNORED
        gold.append([BIO_LABELS[i] for i in labels[scored]])
        found.append([BIO_LABELS[i] for i in guesses[scored]])
    return span_metrics(gold, found)


def fit_speaker_tagger(recipe: BertRecipe, ctx: FitContext) -> dict:
    """Fit and export the tagger into ``ctx.output_dir``; ``ctx.data`` holds the annotated rows
    (:func:`annotated_splits`). Returns ``{split: span metrics}`` for dev and test. Spans past
    ``trainer.max_length`` tokens are cut off, from training, the scores and the export's
    pipeline alike (under 1% of the real spans at 96 tokens). ``trainer.class_weights`` is for
    the classifiers only."""
    from transformers import DataCollatorForTokenClassification, set_seed

    set_seed(ctx.seed)  # the token head (and tiny's whole model) is random
    # Raw text, not ctx.texts(): the spans are offsets into the text as written, and pipeline
    # users pass it so. For the same reason the export has no normalization.json: normalising
    # (dediacritising, dropping tatweel) would shift every offset after the first change.
    texts = {split: list(ctx.data[split]["text"]) for split in ctx.data}
    tokenizer, model = recipe.build(BIO_LABELS, texts["train"], head="token")
    length = max_length_for(tokenizer, model, ctx.trainer.max_length)

    def encode(split: str) -> Dataset:
        encoded = tokenizer(texts[split], truncation=True, max_length=length,
                            return_offsets_mapping=True, return_special_tokens_mask=True)
        rows = ctx.data[split]
        spans = zip(*(rows[column] for column in SPAN_COLUMNS.values()), strict=True)
        labels = [bio_tags(offsets, special, dict(zip(SPAN_COLUMNS, row_spans, strict=True)))
                  for offsets, special, row_spans in zip(encoded["offset_mapping"],
                                                         encoded["special_tokens_mask"], spans,
                                                         strict=True)]
        inputs = {name: encoded[name] for name in INPUTS if name in encoded}
        return Dataset.from_dict({**inputs, "labels": labels})

    splits = {split: encode(split) for split in ctx.data}
    args = training_args(ctx, metric_for_best_model=BEST_METRIC, greater_is_better=True)
    trainer = trained(ctx, model, tokenizer, splits, args,
                      DataCollatorForTokenClassification(tokenizer), compute_span_metrics)
    metrics = evaluate_splits(trainer, splits)
    if trainer.is_world_process_zero():
        # The pipeline truncates at model_max_length: let it tag the tokens that training and
        # the scores saw. Past them tiny's positions are untrained, and CAMeLBERT's tokenizer
        # reports an absurd limit, past the position embeddings.
        tokenizer.model_max_length = length
        save_trained(trainer, ctx.output_dir)
        write_model_card(ctx, metrics, base_model=recipe.base_model, library="transformers",
                         architecture=recipe.describe(), recipe=recipe_line(args, length))
        save_metrics(ctx.output_dir, metrics)
    return metrics
