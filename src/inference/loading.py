"""Loading exported models and scoring statements with them, fast on a CPU.

Statements are normalised as at training time, tokenised once, sorted by length and batched
with padding to the longest in the batch, and run under ``torch.inference_mode`` or, with the
``onnx`` backends, by onnxruntime on the ONNX copies that ``python -m src.export --onnx`` writes.
The onnx backends import neither torch nor transformers (``tokenizers`` reads the tokenizer):
their seconds of imports are most of a short prediction's time (scripts/bench_cold_start.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from src.core.errors import ModelError, QawlError, warn
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
class TokenModel(TaskModel):
    """A transformers classifier, with the forward pass left to a subclass."""

    max_length: int = 128
    # The tokens per statement the model was trained on; None where no record of it was kept.
    trained_length: int | None = None

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        """Token ids of ``texts``, special tokens included, not truncated."""
        raise NotImplementedError

    def logits(self, input_ids: list[list[int]]) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: list[str], speakers=None) -> list[list[int]]:
        """Token ids of each text, prepared as at training time and not yet truncated."""
        return self.tokenize(self.prepared(texts, speakers))

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


@dataclass
class TransformersModel(TokenModel):
    tokenizer: object = None
    model: object = None

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts)["input_ids"]

    def logits(self, input_ids: list[list[int]]) -> np.ndarray:
        import torch

        batch = self.tokenizer.pad({"input_ids": input_ids}, return_tensors="pt")
        with torch.inference_mode():
            batch = {name: tensor.to(self.model.device) for name, tensor in batch.items()}
            return self.model(**batch).logits.float().cpu().numpy()


def padded(input_ids: list[list[int]], pad_id: int, side: str = "right") -> dict[str, np.ndarray]:
    """``input_ids`` padded to the longest with ``pad_id`` on ``side``, and their attention
    mask: what a transformers tokenizer's ``pad`` returns, as int64 arrays."""
    width = max(map(len, input_ids))
    ids = np.full((len(input_ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(input_ids), width), dtype=np.int64)
    for row, sequence in enumerate(input_ids):
        start = 0 if side == "right" else width - len(sequence)
        ids[row, start:start + len(sequence)] = sequence
        mask[row, start:start + len(sequence)] = 1
    return {"input_ids": ids, "attention_mask": mask}


@dataclass
class OnnxModel(TokenModel):
    """The same tokenisation and batching with neither torch nor transformers: the folder's
    ``tokenizer.json`` read by ``tokenizers`` and the forward pass in onnxruntime."""

    tokenizer: object = None
    pad_id: int = 0
    padding_side: str = "right"
    session: object = None

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self.tokenizer.encode_batch_fast(texts)]

    def logits(self, input_ids: list[list[int]]) -> np.ndarray:
        batch = padded(input_ids, self.pad_id, self.padding_side)
        return self.session.run(["logits"], {name: batch[name] for name in ONNX_INPUTS})[0]


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


def _token_limit(positions: int, tokenizer_limit: int | None, max_length: int | None) -> int:
    """``max_length`` (default: as long as possible) within what the model and tokenizer take."""
    limit = min(positions, tokenizer_limit or positions)
    return min(max_length or limit, limit)


def _trained_length(folder: Path, saved: object, limit: int) -> int | None:
    """The tokens per statement the model in ``folder`` was trained on: ``saved``, what its
    config.json records, else, for a run trained before config.json recorded it, the run's
    ``trainer.max_length`` within ``limit`` (as training capped it)."""
    if isinstance(saved, int):
        return saved
    run_config = folder.parent / layout.RUN_CONFIG
    if not layout.is_run_folder(folder.parent) or not run_config.is_file():
        return None
    import yaml

    try:
        trainer = (yaml.safe_load(run_config.read_text(encoding="utf-8")) or {}).get("trainer")
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
        return None  # the warning this feeds is not worth refusing the model for
    length = trainer.get("max_length") if isinstance(trainer, dict) else None
    return min(length, limit) if isinstance(length, int) else None


def _labelled(folder: Path) -> tuple[str, list[str]]:
    """``layout.saved(folder)``, refusing a model without labels: it would load with a head
    of transformers' default two."""
    task, labels = layout.saved(folder)
    if not labels:
        path = folder / (layout.CONFIG if layout.kind_of(folder) == "transformers"
                         else layout.LABELS)
        raise ModelError(f"{path}: no id2label (expected the label of each of the model's "
                         'outputs, {"0": LABEL, "1": LABEL, ...})')
    return task, labels


def torch_device(device: str | None) -> str:
    """``device``, by default cuda if available, checked against this machine and torch build
    (QawlError naming ``--device`` otherwise); torch's CPU threads are set to the cores this
    process may use, as onnxruntime's are (see ``_load_onnx``)."""
    import torch

    torch.set_num_threads(usable_cores())
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    cuda = torch.cuda.device_count()
    usable = "cpu" if not cuda else "cpu, cuda or cuda:0" + (f" … cuda:{cuda - 1}"
                                                              if cuda > 1 else "")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise QawlError(f"--device {device}: not a device name (expected {usable})") from None
    if chosen.type == "cuda":
        if not cuda:
            build = (f" (torch {torch.__version__} is built without it)"
                     if torch.version.cuda is None else "")
            raise QawlError(f"--device {device}: this machine has no cuda device{build}; "
                            f"expected {usable}")
        if (chosen.index or 0) >= cuda:
            raise QawlError(f"--device {device}: this machine has {cuda} cuda "
                            f"device{'s' if cuda > 1 else ''}; expected {usable}")
    elif chosen.type != "cpu":
        # mps, xpu and the like: usable if a tensor goes there and comes back (a meta tensor
        # holds no data to bring back).
        try:
            torch.zeros(1, device=chosen).cpu()
        except (RuntimeError, AssertionError, NotImplementedError) as err:
            reason = str(err).split(". ")[0].splitlines()[0] if str(err) else type(err).__name__
            raise QawlError(f"--device {device}: torch cannot use it here ({reason}); expected "
                            f"{usable}") from None
    return device


def _load_transformers(folder: Path, device: str | None, max_length: int | None) -> TaskModel:
    from safetensors import SafetensorError
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()  # keep stderr for what the user must read

    if not any((folder / name).exists() for name in layout.WEIGHTS):
        raise ModelError(f"{folder}: incomplete model folder, no model.safetensors "
                         "(only safetensors weights are loaded)")
    task, labels = _labelled(folder)
    device = torch_device(device)
    weights = next(folder / name for name in layout.WEIGHTS if (folder / name).exists())
    # transformers reports weights that config.json does not fit, or that the file lacks, in
    # a table on stderr; they are refused, or warned of, below in one line instead.
    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model, loaded = AutoModelForSequenceClassification.from_pretrained(
            folder, use_safetensors=True, ignore_mismatched_sizes=True, output_loading_info=True)
    except SafetensorError as err:
        raise ModelError(f"{weights}: not a complete safetensors file ({err}); expected the "
                         "weights as saved: copy or download them again") from None
    except (OSError, ValueError) as err:
        raise ModelError(f"{folder}: could not be loaded ({err})") from None
    finally:
        logging.set_verbosity(verbosity)
    if loaded["mismatched_keys"]:
        key, saved, expected = sorted(loaded["mismatched_keys"])[0]
        raise ModelError(f"{folder / layout.CONFIG}: does not fit {weights.name}: {key} is "
                         f"{list(saved)} in the weights but {list(expected)} for the config "
                         f"({len(labels)} labels in id2label); expected the config.json saved "
                         "with these weights")
    if loaded["missing_keys"]:
        warn(f"{weights}: holds no {', '.join(sorted(loaded['missing_keys']))}; those weights "
             "are random, and so are the predictions they make")
    model.to(device).eval()
    limits = model.config.max_position_embeddings, tokenizer.model_max_length
    return TransformersModel(folder=folder, task=task, labels=labels,
                             normalizer=ArabicNormalizer.load(folder), tokenizer=tokenizer,
                             model=model, max_length=_token_limit(*limits, max_length),
                             trained_length=_trained_length(
                                 folder, getattr(model.config, layout.TRAINED_LENGTH, None),
                                 _token_limit(*limits, None)))


def _fast_tokenizer(folder: Path):
    """(tokenizer, pad id, padding side, model_max_length or None) of a model folder: its
    ``tokenizer.json`` as ``AutoTokenizer`` applies it when called without arguments, so the
    ids are the same, special tokens included (tests/test_onnx.py checks it)."""
    from tokenizers import Tokenizer

    path = folder / layout.TOKENIZER
    if not path.is_file():
        raise ModelError(f"{folder}: no {layout.TOKENIZER}, which the onnx backends read (the "
                         "tokenizer as transformers' save_pretrained writes it)")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as err:  # tokenizers raises a bare Exception for a file it cannot parse
        raise ModelError(f"{path}: not a tokenizers file ({err})") from None
    # save_pretrained keeps the truncation and padding of the last call in the file; a
    # transformers tokenizer called without arguments applies neither.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    settings = layout.read_json(folder / layout.TOKENIZER_CONFIG, required=False)
    pad = settings.get("pad_token")
    if isinstance(pad, dict):  # an AddedToken, as older transformers saved it
        pad = pad.get("content")
    pad_id = tokenizer.token_to_id(pad) if pad else None
    if pad_id is None:
        pad_id = layout.read_json(folder / layout.CONFIG).get("pad_token_id")
    if pad_id is None:
        raise ModelError(f"{folder}: no pad token (pad_token in {layout.TOKENIZER_CONFIG} or "
                         f"pad_token_id in {layout.CONFIG}); batches cannot be padded")
    return tokenizer, pad_id, settings.get("padding_side", "right"), settings.get(
        "model_max_length")


def _load_onnx(folder: Path, backend: str, max_length: int | None) -> TaskModel:
    import onnxruntime

    path = folder / ONNX_FILES[backend]
    if not path.exists():
        flag = " --int8" if backend == "onnx-int8" else ""
        raise ModelError(f"{folder}: no {ONNX_FILES[backend]} for --backend {backend}; write it "
                         f"with `python -m src.export --run-dir {folder} --onnx{flag}`")
    task, labels = _labelled(folder)
    config = layout.read_json(folder / layout.CONFIG)
    tokenizer, pad_id, padding_side, tokenizer_limit = _fast_tokenizer(folder)
    options = onnxruntime.SessionOptions()
    # onnxruntime sizes its pool by the machine's cores, not the ones this process may use
    # (taskset, containers), and then oversubscribes them.
    options.intra_op_num_threads = usable_cores()
    # Threads that spin while they wait for the next batch hold a core that the tokenizer, the
    # other model's session or the rest of the machine needs: with spinning off the test split
    # ran 1.5-1.7x faster on 2 shared cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    return OnnxModel(folder=folder, task=task, labels=labels,
                     normalizer=ArabicNormalizer.load(folder), tokenizer=tokenizer,
                     pad_id=pad_id, padding_side=padding_side, session=session,
                     max_length=_token_limit(config["max_position_embeddings"],
                                             tokenizer_limit, max_length),
                     trained_length=_trained_length(
                         folder, config.get(layout.TRAINED_LENGTH),
                         _token_limit(config["max_position_embeddings"], tokenizer_limit, None)))


def _load_sklearn(folder: Path) -> TaskModel:
    import skops.io

    path = folder / layout.SKOPS
    untrusted = skops.io.get_untrusted_types(file=path)
    if untrusted:
        raise ModelError(f"{path}: holds types that are not trusted by default "
                         f"({', '.join(untrusted)}); refusing to load it")
    task, labels = _labelled(folder)
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
