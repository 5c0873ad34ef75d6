"""Fine-tuning a BERT-family classifier on one task with the Hugging Face Trainer."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

from src.data.io import DataError
from src.evaluation.metrics import compute_metrics_for
from src.models.card import write_model_card
from src.models.fitting import METRICS_FILE, FitContext, model_folder
from src.models.layout import NEUTRAL_LABELS, TARGET_FORMS, TRAINED_LENGTH, TRAINER_STATE

INPUTS = ("input_ids", "token_type_ids", "attention_mask")


def max_length_for(tokenizer, model, configured: int) -> int:
    """``configured``, capped by what the model can take. CAMeLBERT's tokenizer reports an
    absurd ``model_max_length``, so the position embeddings are the real limit."""
    limits = [configured, tokenizer.model_max_length,
              getattr(model.config, "max_position_embeddings", configured)]
    return min(limits)


def pick_head(head: str, sequence, token):
    """The model class for ``head``: one label per statement (stance, sentiment) or one label
    per token (the speaker tagger)."""
    if head not in ("sequence", "token"):
        raise ValueError(f"head={head!r}: expected 'sequence' or 'token'")
    return sequence if head == "sequence" else token


def training_args(ctx: FitContext, **overrides):
    """The trainer config's ``TrainingArguments`` for this task, with ``overrides``."""
    import torch
    from hydra.utils import instantiate

    if not torch.accelerator.is_available():
        # Pinned memory only speeds copies to an accelerator; without one torch warns about it
        # on every data loader, once per epoch.
        overrides = {"dataloader_pin_memory": False, **overrides}
    args = instantiate(ctx.trainer.args)(output_dir=str(ctx.checkpoint_dir), seed=ctx.seed,
                                         **overrides)
    if (args.bf16 and args.device.type == "cpu"
            and not torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        # Measured on an AVX2-only CPU: a bf16 step took 16 times as long as fp32.
        warnings.warn("bf16 requested on a CPU without native bf16 (AVX512-BF16/AMX); it is "
                      "emulated and far slower than fp32 here", stacklevel=1)
    return args


def check_training_args(args) -> None:
    """Refuse a trainer argument that ``TrainingArguments`` types as a number and the config
    gives as something else: the Trainer takes it as it is and fails in its optimiser, with a
    traceback, once the model is built."""
    import typing

    from transformers import TrainingArguments

    hints = typing.get_type_hints(TrainingArguments)
    for key, value in args.items():
        allowed = set(typing.get_args(hints.get(key)) or [hints.get(key)])
        if not allowed & {int, float} or not allowed <= {int, float, type(None)}:
            continue
        numbers = (int, float) if float in allowed else (int,)
        if (value is None and type(None) in allowed) or (isinstance(value, numbers)
                                                         and not isinstance(value, bool)):
            continue
        expected = ("a number" if float in allowed else "a whole number") + (
            " or null" if type(None) in allowed else "")
        shown = str(value).lower() if isinstance(value, bool) else value
        raise DataError(f"trainer.args.{key}={shown}: expected {expected}")


def early_stopping(ctx: FitContext) -> list:
    from transformers import EarlyStoppingCallback

    patience = ctx.trainer.get("early_stopping_patience")
    return [EarlyStoppingCallback(patience)] if patience else []


def evaluate_splits(trainer, splits: dict) -> dict:
    """Dev and test metrics of the trained (best) model, as the exports record them."""
    return {split: _strip(trainer.evaluate(splits[split], metric_key_prefix=split), split)
            for split in ("dev", "test")}


def save_trained(trainer, folder: Path) -> None:
    model_folder(folder, "transformers")
    trainer.save_model(str(folder))
    # The Trainer pickles its arguments there; the run's config.yaml records them.
    Path(folder, "training_args.bin").unlink(missing_ok=True)


def trained(ctx: FitContext, model, tokenizer, splits: dict, args, collator, compute_metrics,
            loss=None):
    """A Trainer fitted on ``splits["train"]``, chosen on ``splits["dev"]``, resumed from the
    last checkpoint when ``ctx.resume``: the one training loop of classifiers and tagger."""
    from transformers import Trainer

    from src.models.progress import show_progress

    # Before the first checkpoint, so that each names its task as the export does: the loaders
    # read the task from what a model saved.
    model.config.finetuning_task = ctx.task
    trainer = Trainer(model=model, args=args, train_dataset=splits["train"],
                      eval_dataset=splits["dev"], processing_class=tokenizer,
                      data_collator=collator, compute_metrics=compute_metrics,
                      compute_loss_func=loss, callbacks=early_stopping(ctx))
    show_progress(trainer, ctx.task)
    trainer.train(resume_from_checkpoint=last_checkpoint(ctx.checkpoint_dir)
                  if ctx.resume else None)
    if trainer.is_world_process_zero():
        # The whole run's history (every epoch's dev scores, the epochs early stopping let
        # run, train_runtime): the checkpoint kept is the best one, whose state ends with it.
        ctx.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        trainer.state.save_to_json(str(ctx.checkpoint_dir / TRAINER_STATE))
    return trainer


def last_checkpoint(folder: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


class BertRecipe:
    """Shared fit-and-export path; subclasses say how to build the tokenizer and model."""

    base_model: str | None

    def build(self, labels: Sequence[str], train_texts: Sequence[str], head: str = "sequence"):
        """The tokenizer and a model with a ``head`` (see :func:`pick_head`) over ``labels``."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line for the model card: what was trained."""
        raise NotImplementedError

    def fit(self, ctx: FitContext) -> dict:
        import torch
        from datasets import Dataset
        from transformers import DataCollatorWithPadding, set_seed

        set_seed(ctx.seed)  # the classification head (and tiny's whole model) is random
        texts = {split: ctx.texts(split) for split in ctx.data}
        targets = {split: ctx.target_texts(split) for split in ctx.data}
        # A vocabulary learnt from the data (tiny's) must cover the targets too.
        tokenizer, model = self.build(ctx.labels, texts["train"] + (targets["train"] or []))
        length = max_length_for(tokenizer, model, ctx.trainer.max_length)

        def encode(split: str) -> Dataset:
            # A target is the first text of a pair: [CLS] target [SEP] text [SEP], with the
            # token types where the model has them, as pipeline's {"text", "text_pair"} reads it.
            pair = (targets[split], texts[split]) if targets[split] else (texts[split],)
            encoded = tokenizer(*pair, truncation=True, max_length=length)
            data = {name: encoded[name] for name in INPUTS if name in encoded}
            return Dataset.from_dict({**data, "labels": ctx.label_ids(split)})

        splits = {split: encode(split) for split in ctx.data}
        args = training_args(ctx)
        # Set before training, so that every checkpoint is a model folder the loaders read.
        setattr(model.config, TRAINED_LENGTH, length)
        setattr(model.config, NEUTRAL_LABELS, ctx.neutral)
        weights = ctx.class_weights()
        loss = None
        if weights is not None:
            weight = torch.tensor(weights, dtype=torch.float)

            def loss(outputs, labels, num_items_in_batch=None):
                logits = outputs["logits"]
                return torch.nn.functional.cross_entropy(
                    logits, labels, weight=weight.to(logits.device, logits.dtype))

        trainer = trained(ctx, model, tokenizer, splits, args, DataCollatorWithPadding(tokenizer),
                          compute_metrics_for(ctx.labels, ctx.neutral), loss)
        metrics = evaluate_splits(trainer, splits)
        if ctx.reads_target:
            for split in ("dev", "test"):
                predicted = trainer.predict(splits[split]).predictions.argmax(axis=-1)
                metrics[split].update(ctx.target_scores(split, predicted.tolist()))
        if trainer.is_world_process_zero():
            save_trained(trainer, ctx.output_dir)
            ctx.normalizer.save(ctx.output_dir)
            ctx.speaker_input.save(ctx.output_dir)
            ctx.save_target_input(TARGET_FORMS["transformers"])
            write_model_card(ctx, metrics, base_model=self.base_model, library="transformers",
                             architecture=self.describe(), recipe=recipe_line(args, length))
            save_metrics(ctx.output_dir, metrics)
        return metrics


def recipe_line(args, max_length: int) -> str:
    warmup = args.warmup_steps
    return (f"learning rate {args.learning_rate}, batch {args.per_device_train_batch_size} per "
            f"device, {args.num_train_epochs} epochs, warm-up {warmup:g}"
            f"{' of the steps' if warmup < 1 else ' steps'}, weight decay {args.weight_decay}, "
            f"max length {max_length}, best dev {args.metric_for_best_model} checkpoint"
            f"{', bf16' if args.bf16 else ''}")


def _strip(metrics: dict, prefix: str) -> dict:
    """Our metric names without the Trainer's prefix and timing entries."""
    keep = {}
    for key, value in metrics.items():
        name = key.removeprefix(f"{prefix}_")
        if "runtime" in name or "per_second" in name or name == "epoch":
            continue
        keep[name] = round(float(value), 6)
    return keep


def save_metrics(folder: Path, metrics: dict) -> None:
    Path(folder, METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
