"""Loading exported models and scoring statements with them, fast on a CPU.

Statements are normalised as at training time, tokenised once, sorted by length and batched
with padding to the longest in the batch, and run under ``torch.inference_mode`` or, with the
``onnx`` backends, by onnxruntime on the ONNX copies that ``python -m src.export --onnx`` writes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from src.core.errors import ModelError
from src.models import layout
from src.models.layout import ONNX_FILES, ONNX_INPUTS
from src.models.speaker_input import SpeakerInput
from src.text.normalization import ArabicNormalizer


@dataclass
class TaskModel:
    """One exported model: a task, its labels in output order, and how to score texts."""

    folder: Path
    task: str
    labels: list[str]
    normalizer: ArabicNormalizer
    truncated: list[int] = field(default_factory=list)
    speaker_input: SpeakerInput = field(default_factory=SpeakerInput)

    def probabilities(self, texts: list[str], batch_size: int = 32, progress=None,
                      speakers=None) -> np.ndarray:
        """One row of label probabilities per text. ``speakers``, one (speaker, camp) pair per
        text, reaches a model trained with a speaker input and is ignored by any other."""
        raise NotImplementedError

    def prepared(self, texts: list[str], speakers=None) -> list[str]:
        """The texts as the model was trained on them: speaker form, then normalisation."""
        return [self.normalizer(t) for t in self.speaker_input.apply(texts, speakers)]


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


@dataclass
class TransformersModel(TaskModel):
    tokenizer: object = None
    model: object = None
    max_length: int = 128

    def encode(self, texts: list[str], speakers=None) -> list[list[int]]:
        """Token ids of each text, prepared as at training time and not yet truncated."""
        return self.tokenizer(self.prepared(texts, speakers))["input_ids"]

    def token_lengths(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.encode(texts)]

    def probabilities(self, texts: list[str], batch_size: int = 32, progress=None,
                      speakers=None) -> np.ndarray:
        encoded = self.encode(texts, speakers)
        # Too long for the model: keep the start, close with the final [SEP].
        self.truncated = [i for i, ids in enumerate(encoded) if len(ids) > self.max_length]
        encoded = [ids if len(ids) <= self.max_length else ids[: self.max_length - 1] + ids[-1:]
                   for ids in encoded]
        order = np.argsort([len(ids) for ids in encoded], kind="stable")
        scores = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for begin in range(0, len(order), batch_size):
            chosen = order[begin: begin + batch_size]
            scores[chosen] = softmax(self.logits([encoded[i] for i in chosen]))
            if progress is not None:
                progress(len(chosen))
        return scores

    def logits(self, input_ids: list[list[int]]) -> np.ndarray:
        import torch

        batch = self.tokenizer.pad({"input_ids": input_ids}, return_tensors="pt")
        with torch.inference_mode():
            batch = {name: tensor.to(self.model.device) for name, tensor in batch.items()}
            return self.model(**batch).logits.float().cpu().numpy()


@dataclass
class OnnxModel(TransformersModel):
    """The same tokenisation and batching, with the forward pass in onnxruntime."""

    session: object = None

    def logits(self, input_ids: list[list[int]]) -> np.ndarray:
        batch = self.tokenizer.pad({"input_ids": input_ids}, return_tensors="np")
        feed = {name: batch[name].astype(np.int64) for name in ONNX_INPUTS}
        return self.session.run(["logits"], feed)[0]


@dataclass
class SklearnModel(TaskModel):
    pipeline: object = None

    def features(self, texts: list[str], batch_size: int):
        """What the pipeline reads: the prepared texts themselves."""
        return texts

    def probabilities(self, texts: list[str], batch_size: int = 32, progress=None,
                      speakers=None) -> np.ndarray:
        scores = self.pipeline.predict_proba(self.features(self.prepared(texts, speakers),
                                                           batch_size))
        if progress is not None:
            progress(len(texts))
        return scores.astype(np.float32)


@dataclass
class EmbeddingModel(SklearnModel):
    """Logistic regression on frozen encoder embeddings; ``encoder`` is its encoder.json."""

    encoder: dict = field(default_factory=dict)

    def features(self, texts: list[str], batch_size: int):
        from src.models.me5 import embed

        return embed(self.encoder["encoder"], texts,
                     self.encoder["max_length"], batch_size)


def _token_limit(positions: int, tokenizer, max_length: int | None) -> int:
    """``max_length`` (default: as long as possible) within what the model and tokenizer take."""
    limit = min(positions, tokenizer.model_max_length)
    return min(max_length or limit, limit)


def _load_transformers(folder: Path, device: str | None, max_length: int | None) -> TaskModel:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()  # keep stderr for what the user must read

    if not any((folder / name).exists() for name in layout.WEIGHTS):
        raise ModelError(f"{folder}: incomplete model folder, no model.safetensors "
                         "(only safetensors weights are loaded)")
    task, labels = layout.saved(folder)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True)
    except (OSError, ValueError) as err:
        raise ModelError(f"{folder}: could not be loaded ({err})") from None
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).eval()
    return TransformersModel(folder=folder, task=task, labels=labels,
                             normalizer=ArabicNormalizer.load(folder), tokenizer=tokenizer,
                             model=model, max_length=_token_limit(
                                 model.config.max_position_embeddings, tokenizer, max_length))


def _load_onnx(folder: Path, backend: str, max_length: int | None) -> TaskModel:
    import onnxruntime
    from transformers import AutoTokenizer

    path = folder / ONNX_FILES[backend]
    if not path.exists():
        flag = " --int8" if backend == "onnx-int8" else ""
        raise ModelError(f"{folder}: no {ONNX_FILES[backend]} for --backend {backend}; write it "
                         f"with `python -m src.export {folder} --onnx{flag}`")
    task, labels = layout.saved(folder)
    config = json.loads((folder / layout.CONFIG).read_text())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    options = onnxruntime.SessionOptions()
    # onnxruntime sizes its pool by the machine's cores, not the ones this process may use
    # (taskset, containers), and then oversubscribes them.
    options.intra_op_num_threads = usable_cores()
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    return OnnxModel(folder=folder, task=task, labels=labels,
                     normalizer=ArabicNormalizer.load(folder), tokenizer=tokenizer,
                     session=session, max_length=_token_limit(
                         config["max_position_embeddings"], tokenizer, max_length))


def _load_sklearn(folder: Path) -> TaskModel:
    import skops.io

    path = folder / layout.SKOPS
    untrusted = skops.io.get_untrusted_types(file=path)
    if untrusted:
        raise ModelError(f"{path}: holds types that are not trusted by default "
                         f"({', '.join(untrusted)}); refusing to load it")
    task, labels = layout.saved(folder)
    pipeline = skops.io.load(path, trusted=[])
    normalizer = ArabicNormalizer.load(folder)
    if layout.kind_of(folder) == "embeddings":
        return EmbeddingModel(folder=folder, task=task, labels=labels,
                              normalizer=normalizer, pipeline=pipeline,
                              encoder=json.loads((folder / layout.ENCODER).read_text()))
    return SklearnModel(folder=folder, task=task, labels=labels,
                        normalizer=normalizer, pipeline=pipeline)


def load_task_model(folder: Path, device: str | None = None, max_length: int | None = None,
                    backend: str = "torch") -> TaskModel:
    model = _load_task_model(folder, device, max_length, backend)
    model.speaker_input = SpeakerInput.load(folder)
    return model


def _load_task_model(folder: Path, device: str | None, max_length: int | None,
                     backend: str) -> TaskModel:
    if not folder.is_dir():
        raise ModelError(f"{folder}: no such model folder")
    if layout.kind_of(folder) != "transformers":
        if backend != "torch":
            raise ModelError(f"{folder}: a scikit-learn model, which has no --backend "
                             f"{backend}; that backend is for transformers models")
        return _load_sklearn(folder)
    if not (folder / layout.CONFIG).exists():
        raise ModelError(f"{folder}: incomplete model folder, no config.json")
    # A folder without normalization.json was trained elsewhere: its text is used as given.
    if backend != "torch":
        return _load_onnx(folder, backend, max_length)
    return _load_transformers(folder, device, max_length)


def load_models(path: Path, device: str | None = None, max_length: int | None = None,
                backend: str = "torch") -> tuple[dict[str, TaskModel], list[str]]:
    """The classifiers of a run folder or of one model folder, by task, and the classifier
    tasks that are missing (a speaker tagger is read by src.inference.speakers)."""
    folders = {task: folder for task, folder in layout.model_folders(path).items()
               if task in layout.CLASSIFIER_TASKS}
    if not folders:
        raise ModelError(f"{path}: holds a speaker tagger only, no "
                         f"{' or '.join(layout.CLASSIFIER_TASKS)} model")
    models = {task: load_task_model(folder, device, max_length, backend)
              for task, folder in folders.items()}
    return models, [task for task in layout.CLASSIFIER_TASKS if task not in models]
