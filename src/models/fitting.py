"""What every model recipe receives to fit one task, and the class weights option."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from omegaconf import DictConfig
from sklearn.utils.class_weight import compute_class_weight

from src.core.errors import ModelError
from src.data.io import DataError
from src.data.loading import neutral_labels_of
from src.evaluation.metrics import classification_metrics
from src.evaluation.targets import target_scores
from src.models import layout
from src.models.speaker_input import SpeakerInput
from src.text.normalization import ArabicNormalizer

METRICS_FILE = "metrics.json"


def model_folder(folder: Path, kind: str) -> Path:
    """``folder``, created, to save a model of ``kind`` (see :func:`layout.kind_of`) into. One
    that holds a model of another kind is refused: the files of both would stay side by side,
    and what read the folder would take one of them."""
    if layout.is_model_folder(folder) and (found := layout.kind_of(folder)) != kind:
        raise ModelError(f"{folder}: holds a {found} model already; a model folder holds one "
                         f"model (save the {kind} model into an empty folder)")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class FitContext:
    task: str
    data: DatasetDict
    normalizer: ArabicNormalizer
    trainer: DictConfig
    seed: int
    output_dir: Path
    checkpoint_dir: Path
    resume: bool = False
    speaker_input: SpeakerInput = field(default_factory=SpeakerInput)
    # task -> labels of no position or polarity (data.neutral_labels); null: none/neutral
    neutral_labels: Mapping[str, Sequence[str] | None] | None = None

    @property
    def dataset_name(self) -> str:
        return self.data["train"].info.dataset_name or "custom"

    @property
    def labels(self) -> list[str]:
        return list(self.data["train"].features[self.task].names)

    @property
    def neutral(self) -> list[str]:
        """This task's labels that polar macro-F1 leaves out; saved with the model."""
        return neutral_labels_of(self.neutral_labels, self.task, self.labels)

    def texts(self, split: str) -> list[str]:
        texts = self.data[split]["text"]
        if self.speaker_input.template is not None:
            texts = self.speaker_input.apply(texts, self.speakers(split))
        return [self.normalizer(text) for text in texts]

    @cached_property
    def actors(self):
        """The project's actor list, read once for every split."""
        from src.text.attribution import ActorList

        return ActorList.load()

    def speakers(self, split: str) -> list[tuple[str | None, str | None]]:
        """The annotated speaker of each row and the camp the actor list gives it (the first
        actor named decides, as for a joint speaker)."""
        if "speaker" not in self.data[split].column_names:
            raise DataError(f"speaker_input is set but the {split} data has no 'speaker' column")
        found = []
        for speaker in self.data[split]["speaker"]:
            mentions = self.actors.mentions(speaker) if speaker else []
            found.append((speaker, mentions[0][2].camp if mentions else None))
        return found

    def label_ids(self, split: str) -> list[int]:
        return list(self.data[split][self.task])

    @property
    def reads_target(self) -> bool:
        """Whether this task's model reads each text's target: the stance task, on data with
        a target column (``data.target_column``, Mawqif's target)."""
        return self.task == "stance" and "target" in self.data["train"].column_names

    def target_texts(self, split: str) -> list[str] | None:
        """Each row's target, normalised as the texts are; None when the model reads none."""
        if not self.reads_target:
            return None
        return [self.normalizer(target) for target in self.data[split]["target"]]

    @property
    def trained_targets(self) -> list[str]:
        """The targets of the train split, as written, sorted: target_input.json's."""
        return sorted(set(self.data["train"]["target"])) if self.reads_target else []

    def save_target_input(self, form: str) -> None:
        """Record in the export that the model reads a target, in ``form``
        (``layout.TARGET_FORMS``), and the targets it was trained on."""
        if self.reads_target:
            Path(self.output_dir, layout.TARGET_INPUT).write_text(json.dumps(
                {"form": form, "targets": self.trained_targets}, ensure_ascii=False,
                indent=2) + "\n")

    def scores(self, split: str, predicted: Sequence[int]) -> dict:
        """The metrics of ``predicted`` label ids on ``split``: accuracy, macro-F1, polar
        macro-F1 and, for a model that reads a target, StanceEval's score and each target's
        (:func:`src.evaluation.targets.target_scores`)."""
        gold = self.label_ids(split)
        metrics = classification_metrics(self.labels, gold, predicted, self.neutral)
        return {**metrics, **self.target_scores(split, predicted)}

    def target_scores(self, split: str, predicted: Sequence[int]) -> dict:
        """StanceEval's score and the per-target scores of ``predicted``; {} for a model that
        reads no target."""
        if not self.reads_target:
            return {}
        names = self.labels
        return target_scores([names[i] for i in self.label_ids(split)],
                             [names[i] for i in predicted], self.data[split]["target"], names,
                             self.neutral)

    def class_weights(self) -> np.ndarray | None:
        """Per-class loss weights for ``trainer.class_weights=balanced``, else None."""
        if not self.trainer.get("class_weights"):
            return None
        classes = np.arange(len(self.labels))
        y = np.asarray(self.label_ids("train"))
        present = np.isin(classes, y)
        weights = np.ones(len(classes))
        weights[present] = compute_class_weight(self.trainer.class_weights,
                                                classes=classes[present], y=y)
        return weights
