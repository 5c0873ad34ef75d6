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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from src.core.errors import InputError, ModelError, QawlError, warn
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
    # The targets of its train split, for a model that reads a target with each text
    # (target_input.json: Mawqif's target-specific stance); None for a model that reads none.
    trained_targets: list[str] | None = None
    # Targets not among trained_targets that were warned of already: once each.
    unseen_targets: set[str] = field(default_factory=set, repr=False)

    def probabilities(self, texts: list[str], batch_size: int = 32, progress=None,
                      speakers=None, targets: list[str] | None = None) -> np.ndarray:
        """One row of label probabilities per text. ``speakers``, one (speaker, camp) pair per
        text, reaches a model trained with a speaker input and is ignored by any other.
        ``targets``, what each text takes its stance on, is required by a model that
        ``reads_target`` and ignored by any other."""
        raise NotImplementedError

    @property
    def reads_target(self) -> bool:
        return self.trained_targets is not None

    def prepared(self, texts: list[str], speakers=None) -> list[str]:
        """The texts as the model was trained on them: speaker form, then normalisation."""
        return [self.normalizer(t) for t in self.speaker_input.apply(texts, speakers)]

    def require_targets(self, given: bool) -> None:
        """InputError for a model that reads a target with each text, when none is ``given``."""
        if self.reads_target and not given:
            raise InputError(f"{self.folder}: this {self.task} model reads a target with each "
                             f"text (trained on {', '.join(self.trained_targets)}); pass "
                             "--target or --target-column")

    def prepared_targets(self, targets: list[str] | None, count: int) -> list[str] | None:
        """``targets`` normalised as in training for a model that reads them, None for one
        that does not (given or not); InputError when such a model is given none, and a
        warning, once, for each target it was not trained on."""
        if not self.reads_target:
            return None
        self.require_targets(targets is not None)
        if len(targets) != count:
            raise ValueError(f"{len(targets)} targets for {count} texts: expected one each")
        for position, target in enumerate(targets):
            if not isinstance(target, str) or not target.strip():
                raise InputError(f"{self.folder}: text {position + 1} has no target "
                                 f"({target!r}); this {self.task} model reads one with each text")
        known = {self.normalizer(t) for t in self.trained_targets}
        for target in dict.fromkeys(targets):
            if self.normalizer(target) not in known | self.unseen_targets:
                self.unseen_targets.add(self.normalizer(target))
                warn(f"{self.folder}: target {target!r} is not one this {self.task} model was "
                     f"trained on ({', '.join(self.trained_targets)}); its scores are less "
                     "reliable")
        return [self.normalizer(t) for t in targets]


def check_targets(models: dict[str, TaskModel], option: str | None, run: Path) -> None:
    """Before any text is read: InputError when a model of ``run`` reads a target with each
    text and no ``option`` (--target, --target-column) gives one; a warning when one is given
    and no model reads it."""
    for model in models.values():
        model.require_targets(option is not None)
    if option is not None and not any(model.reads_target for model in models.values()):
        warn(f"{option}: no model of {run} reads a target (one trained with "
             "data.target_column does); ignored")


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

    def tokenize(self, texts: list[str], targets: list[str] | None = None
                 ) -> tuple[list[list[int]], list[list[int]] | None]:
        """Token ids of ``texts`` or, with ``targets``, of each (target, text) pair, special
        tokens included, not truncated; and a pair's token type ids (None for single texts,
        and for a tokenizer without them: every type is then 0)."""
        raise NotImplementedError

    def logits(self, input_ids: list[list[int]],
               token_type_ids: list[list[int]] | None = None) -> np.ndarray:
        raise NotImplementedError

    def encoded(self, texts: list[str], speakers=None, targets: list[str] | None = None
                ) -> tuple[list[list[int]], list[list[int]] | None]:
        """:meth:`tokenize` of the texts (and targets) prepared as at training time."""
        return self.tokenize(self.prepared(texts, speakers),
                             self.prepared_targets(targets, len(texts)))

    def encode(self, texts: list[str], speakers=None, targets: list[str] | None = None
               ) -> list[list[int]]:
        """Token ids of each text, prepared as at training time and not yet truncated."""
        return self.encoded(texts, speakers, targets)[0]

    def token_lengths(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.encode(texts)]

    def probabilities(self, texts: list[str], batch_size: int = 32, progress=None,
                      speakers=None, targets: list[str] | None = None) -> np.ndarray:
        encoded, types = self.encoded(texts, speakers, targets)
        # Too long for the model: keep the start, close with the final [SEP]; a pair keeps
        # its target, as the tokenizer's truncation in training kept it.
        self.truncated = [i for i, ids in enumerate(encoded) if len(ids) > self.max_length]

        def cut(sequences: list[list[int]]) -> list[list[int]]:
            return [ids if len(ids) <= self.max_length else ids[: self.max_length - 1] + ids[-1:]
                    for ids in sequences]

        encoded, types = cut(encoded), None if types is None else cut(types)
        order = np.argsort([len(ids) for ids in encoded], kind="stable")
        scores = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for begin in range(0, len(order), batch_size):
            chosen = order[begin: begin + batch_size]
            batch_types = None if types is None else [types[i] for i in chosen]
            scores[chosen] = softmax(self.logits([encoded[i] for i in chosen], batch_types))
            if progress is not None:
                progress(len(chosen))
        return scores


@dataclass
class TransformersModel(TokenModel):
    tokenizer: object = None
    model: object = None

    def tokenize(self, texts: list[str], targets: list[str] | None = None
                 ) -> tuple[list[list[int]], list[list[int]] | None]:
        if targets is None:
            return self.tokenizer(texts)["input_ids"], None
        encoded = self.tokenizer(targets, texts)
        return encoded["input_ids"], encoded.get("token_type_ids")

    def logits(self, input_ids: list[list[int]],
               token_type_ids: list[list[int]] | None = None) -> np.ndarray:
        import torch

        features = {"input_ids": input_ids}
        if token_type_ids is not None:
            features["token_type_ids"] = token_type_ids
        batch = self.tokenizer.pad(features, return_tensors="pt")
        with torch.inference_mode():
            batch = {name: tensor.to(self.model.device) for name, tensor in batch.items()}
            return self.model(**batch).logits.float().cpu().numpy()


def padded(input_ids: list[list[int]], pad_id: int, side: str = "right",
           token_type_ids: list[list[int]] | None = None) -> dict[str, np.ndarray]:
    """``input_ids`` padded to the longest with ``pad_id`` on ``side``, their attention mask
    and their token types (0 where none are given, and in the padding): what a transformers
    tokenizer's ``pad`` returns, as int64 arrays."""
    width = max(map(len, input_ids))
    ids = np.full((len(input_ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(input_ids), width), dtype=np.int64)
    types = np.zeros((len(input_ids), width), dtype=np.int64)
    for row, sequence in enumerate(input_ids):
        start = 0 if side == "right" else width - len(sequence)
        ids[row, start:start + len(sequence)] = sequence
        mask[row, start:start + len(sequence)] = 1
        if token_type_ids is not None:
            types[row, start:start + len(sequence)] = token_type_ids[row]
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


@dataclass
class OnnxModel(TokenModel):
    """The same tokenisation and batching with neither torch nor transformers: the folder's
    ``tokenizer.json`` read by ``tokenizers`` and the forward pass in onnxruntime."""

    tokenizer: object = None
    pad_id: int = 0
    padding_side: str = "right"
    session: object = None

    def tokenize(self, texts: list[str], targets: list[str] | None = None
                 ) -> tuple[list[list[int]], list[list[int]] | None]:
        if targets is None:
            return [e.ids for e in self.tokenizer.encode_batch_fast(texts)], None
        pairs = self.tokenizer.encode_batch_fast(list(zip(targets, texts, strict=True)))
        return [e.ids for e in pairs], [e.type_ids for e in pairs]

    def logits(self, input_ids: list[list[int]],
               token_type_ids: list[list[int]] | None = None) -> np.ndarray:
        batch = padded(input_ids, self.pad_id, self.padding_side, token_type_ids)
        # An export takes token_type_ids where its tokenizer gives them (and one written
        # before they were exported, never); see src.inference.onnx_export.
        names = [i.name for i in self.session.get_inputs() if i.name in ONNX_INPUTS]
        return self.session.run(["logits"], {name: batch[name] for name in names})[0]


def text_target_rows(texts: list[str], targets: list[str]) -> np.ndarray:
    """One [text, target] row per text: what a TF-IDF pipeline that reads targets takes
    (``src.models.tfidf``, target_input.json's form "column")."""
    return np.array([texts, targets], dtype=object).T


@dataclass
class SklearnModel(TaskModel):
    pipeline: object = None

    def features(self, texts: list[str], targets: list[str] | None, batch_size: int):
        """What the pipeline reads: the prepared texts themselves, or with their targets
        [text, target] rows (:func:`text_target_rows`)."""
        return texts if targets is None else text_target_rows(texts, targets)

    def probabilities(self, texts: list[str], batch_size: int = 32, progress=None,
                      speakers=None, targets: list[str] | None = None) -> np.ndarray:
        scores = self.pipeline.predict_proba(self.features(
            self.prepared(texts, speakers), self.prepared_targets(targets, len(texts)),
            batch_size))
        if progress is not None:
            progress(len(texts))
        return scores.astype(np.float32)


@dataclass
class EmbeddingModel(SklearnModel):
    """Logistic regression on frozen encoder embeddings; ``encoder`` is its encoder.json."""

    encoder: dict = field(default_factory=dict)

    def features(self, texts: list[str], targets: list[str] | None, batch_size: int):
        from src.models.me5 import embed, with_targets

        embeddings = embed(self.encoder["encoder"], texts, self.encoder["max_length"],
                           batch_size)
        known = [self.normalizer(target) for target in self.trained_targets or []]
        return with_targets(embeddings, targets, known)


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
        raise ModelError(f"{layout.labels_file(folder)}: no id2label (expected the label of "
                         'each of the model\'s outputs, {"0": LABEL, "1": LABEL, ...})')
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
    trained = _trained_length(folder, getattr(model.config, layout.TRAINED_LENGTH, None),
                              _token_limit(*limits, None))
    # By default a statement is read as far as in training: the model learnt nothing of
    # positions beyond, and a longer read costs time for nothing it can use.
    return TransformersModel(folder=folder, task=task, labels=labels,
                             normalizer=ArabicNormalizer.load(folder), tokenizer=tokenizer,
                             model=model, max_length=_token_limit(*limits, max_length or trained),
                             trained_length=trained)


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
    trained = _trained_length(folder, config.get(layout.TRAINED_LENGTH),
                              _token_limit(config["max_position_embeddings"], tokenizer_limit,
                                           None))
    return OnnxModel(folder=folder, task=task, labels=labels,
                     normalizer=ArabicNormalizer.load(folder), tokenizer=tokenizer,
                     pad_id=pad_id, padding_side=padding_side, session=session,
                     max_length=_token_limit(config["max_position_embeddings"],
                                             tokenizer_limit, max_length or trained),
                     trained_length=trained)


def trusted_skops(path: Path):
    """The scikit-learn object in the skops file ``path``; raises ModelError when it holds a
    type that skops does not trust by default."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=path)
    if untrusted:
        raise ModelError(f"{path}: holds types that are not trusted by default "
                         f"({', '.join(untrusted)}); refusing to load it")
    return skops.io.load(path, trusted=[])


def _load_sklearn(folder: Path) -> TaskModel:
    path = folder / layout.SKOPS
    task, labels = _labelled(folder)
    pipeline = trusted_skops(path)
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
    model.trained_targets = _trained_targets(folder)
    return model


def _trained_targets(folder: Path) -> list[str] | None:
    """The targets a model that reads one with each text was trained on (its
    target_input.json, in the form its kind reads); None for a model that reads none."""
    path = folder / layout.TARGET_INPUT
    if not path.is_file():
        return None
    settings = layout.read_json(path)
    kind = layout.kind_of(folder)
    form, targets = ((settings.get("form"), settings.get("targets"))
                     if isinstance(settings, dict) else (None, None))
    if form != layout.TARGET_FORMS[kind]:
        raise ModelError(f"{path}: form is {form!r}; expected {layout.TARGET_FORMS[kind]!r}, "
                         f"how a {kind} model reads its target")
    if not (isinstance(targets, list) and targets
            and all(isinstance(t, str) and t.strip() for t in targets)):
        raise ModelError(f"{path}: targets is {targets!r}; expected the list of targets the "
                         "model was trained on")
    return targets


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
                backend: str = "torch", left_out: Callable[[str, str], None] | None = None,
                ) -> tuple[dict[str, TaskModel], list[str]]:
    """The classifiers of a run folder or of one model folder, by task, and the classifier
    tasks the run has no model folder for (a speaker tagger is read by src.inference.speakers).

    A run's task folder that cannot be loaded (ModelError) does not stop the others:
    ``left_out(task, reason)`` is told of it once they are loaded, by default as a warning that
    names the tasks served. ModelError when no task can be loaded."""
    run = layout.is_run_folder(path)
    folders = (layout.task_folders(path, layout.CLASSIFIER_TASKS) if run else
               {task: folder for task, folder in layout.model_folders(path).items()
                if task in layout.CLASSIFIER_TASKS})
    if not folders:
        raise ModelError(f"{path}: holds a speaker tagger only, no "
                         f"{' or '.join(layout.CLASSIFIER_TASKS)} model")
    models, failed = {}, {}
    for task, folder in folders.items():
        try:
            if run:
                layout.check_task(folder, task)
            models[task] = load_task_model(folder, device, max_length, backend)
        except ModelError as err:
            if not run:
                raise
            failed[task] = err
    if not models:
        if len(failed) == 1:
            raise next(iter(failed.values()))
        raise ModelError(f"{path}: no model can be loaded: "
                         + "; ".join(map(str, failed.values())))
    for task, err in failed.items():
        if left_out is None:
            warn(f"{err}; leaving {task} out, using {' and '.join(models)} only")
        else:
            left_out(task, str(err))
    return models, [task for task in layout.CLASSIFIER_TASKS if task not in folders]
