"""What every model recipe receives to fit one task, and the class weights option."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from omegaconf import DictConfig
from sklearn.utils.class_weight import compute_class_weight

from src.core.errors import ModelError
from src.data.io import DataError
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

    @property
    def dataset_name(self) -> str:
        return self.data["train"].info.dataset_name or "custom"

    @property
    def labels(self) -> list[str]:
        return list(self.data["train"].features[self.task].names)

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

    def targets(self, split: str) -> list[int]:
        return list(self.data[split][self.task])

    def class_weights(self) -> np.ndarray | None:
        """Per-class loss weights for ``trainer.class_weights=balanced``, else None."""
        if not self.trainer.get("class_weights"):
            return None
        classes = np.arange(len(self.labels))
        y = np.asarray(self.targets("train"))
        present = np.isin(classes, y)
        weights = np.ones(len(classes))
        weights[present] = compute_class_weight(self.trainer.class_weights,
                                                classes=classes[present], y=y)
        return weights
