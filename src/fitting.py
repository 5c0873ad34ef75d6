"""What every model recipe receives to fit one task, and the class weights option."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from omegaconf import DictConfig
from sklearn.utils.class_weight import compute_class_weight

from src.normalization import ArabicNormalizer

METRICS_FILE = "metrics.json"


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

    @property
    def dataset_name(self) -> str:
        return self.data["train"].info.dataset_name or "custom"

    @property
    def labels(self) -> list[str]:
        return list(self.data["train"].features[self.task].names)

    def texts(self, split: str) -> list[str]:
        return [self.normalizer(text) for text in self.data[split]["text"]]

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
