"""The run-folder contract: every file a run or model folder holds, and what it says.

A *model folder* holds one exported model: a transformers folder (``config.json`` and
safetensors weights), a scikit-learn folder (``model.skops`` and ``labels.json``) or, for
frozen-embedding models, a scikit-learn folder with ``encoder.json``. A *run folder*, what
``python -m src.train`` writes, holds one model folder per task (``stance/``, ``sentiment/``,
and ``speaker/`` for the speaker tagger) beside its ``config.yaml`` and ``metrics.json``.

Which task a model does is read from what it saved (``finetuning_task`` in ``config.json``,
``task`` in ``labels.json``), never guessed from its labels, so models trained on a user's own
labels work everywhere Qawl's do. This module imports nothing heavy: the ONNX predict path and
``--help`` read it.
"""

from __future__ import annotations

import json
from pathlib import Path

from src.core.errors import ModelError
from src.core.paths import PROJECT_ROOT

RUNS_DIR = PROJECT_ROOT / "outputs" / "train" / "runs"

CLASSIFIER_TASKS = ("stance", "sentiment")
TAGGER_TASK = "speaker"  # the speaker tagger's folder and finetuning_task
TASK_FOLDERS = (*CLASSIFIER_TASKS, TAGGER_TASK)

CONFIG = "config.json"
TRAINED_LENGTH = "trained_max_length"  # in config.json: the tokens per statement in training
# in config.json or labels.json: the labels that carry no position or polarity (polar scores
# average over the others); absent in folders saved before it was recorded
NEUTRAL_LABELS = "neutral_labels"
DEFAULT_NEUTRAL = ("none", "neutral")
WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
TOKENIZER = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
SKOPS = "model.skops"
LABELS = "labels.json"
ENCODER = "encoder.json"
NORMALIZATION = "normalization.json"
SPEAKER_INPUT = "speaker_input.json"
# in a model that reads a target with each text (target-specific stance: Mawqif, StanceEval):
# {"form": one of TARGET_FORMS, "targets": those of its train split}; absent: it reads none
TARGET_INPUT = "target_input.json"
# text_pair: the tokenizer's pair (target, text), [CLS] target [SEP] text [SEP]; column: a
# scikit-learn pipeline of rows [text, target]; interaction: the text's embedding, the target
# one-hot and the embedding in the target's block (src.models.me5.with_targets)
TARGET_FORMS = {"transformers": "text_pair", "sklearn": "column", "embeddings": "interaction"}
METRICS = "metrics.json"
CARD = "README.md"
RUN_CONFIG = "config.yaml"
CHECKPOINTS = "checkpoints"
TRAINER_STATE = "trainer_state.json"  # in checkpoints/<task>/: the run's full training history
ONNX_FILES = {"onnx": "onnx/model.onnx", "onnx-int8": "onnx/model_quantized.onnx"}
# what an ONNX export takes: token_type_ids only where its tokenizer gives them (BERT, not
# XLM-R), so that a text pair reads as in training
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
BACKENDS = ("torch", *ONNX_FILES)

# What an export must hold to be complete, by kind.
REQUIRED = {"transformers": (CONFIG, WEIGHTS[0], TOKENIZER_CONFIG),
            "sklearn": (SKOPS, LABELS), "embeddings": (SKOPS, LABELS, ENCODER)}


def is_model_folder(path: Path) -> bool:
    return (path / CONFIG).is_file() or (path / SKOPS).is_file()


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and not is_model_folder(path) and any(
        is_model_folder(path / task) for task in TASK_FOLDERS)


def kind_of(folder: Path) -> str:
    """transformers, sklearn or embeddings (logistic regression on frozen encoder embeddings);
    a folder holding a scikit-learn model and a transformers one is refused: which one a
    command read would be a guess."""
    if (folder / SKOPS).is_file():
        both = [name for name in (CONFIG, WEIGHTS[0]) if (folder / name).is_file()]
        if both:
            raise ModelError(f"{folder}: holds both {SKOPS} and {', '.join(both)}: a model "
                             "folder holds one model (train or copy it into an empty folder)")
        return "embeddings" if (folder / ENCODER).is_file() else "sklearn"
    return "transformers"


def missing_files(folder: Path) -> list[str]:
    """The files an export of this kind must hold and ``folder`` lacks."""
    return [name for name in REQUIRED[kind_of(folder)] if not (folder / name).is_file()]


def read_json(path: Path, required: bool = True) -> dict:
    """A model folder's JSON object ({} for a missing file that is not ``required``), or
    ModelError naming it."""
    if not required and not path.is_file():
        return {}
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path.parent}: incomplete model folder, no {path.name}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(found, dict):
        raise ModelError(f"{path}: holds a JSON {type(found).__name__}, expected an object "
                         "({\"key\": value, ...})")
    return found


def saved(folder: Path) -> tuple[str, list[str]]:
    """The task a model folder was trained for and its labels in output order."""
    if kind_of(folder) == "transformers":
        config = read_json(folder / CONFIG)
        task, id2label = config.get("finetuning_task"), config.get("id2label") or {}
        where = f"{folder / CONFIG}: finetuning_task"
    else:
        saved_labels = read_json(folder / LABELS)
        task, id2label = saved_labels.get("task"), saved_labels.get("id2label") or {}
        where = f"{folder / LABELS}: task"
    if task not in TASK_FOLDERS:
        raise ModelError(f"{where} is {task!r}, expected one of {', '.join(TASK_FOLDERS)} (set "
                         "it to the task the model was trained for)")
    try:
        labels = [id2label[str(i)] for i in range(len(id2label))]
    except KeyError:
        raise ModelError(f"{folder}: id2label is not numbered 0..{len(id2label) - 1}") from None
    return task, labels


def labels_file(folder: Path) -> Path:
    """The file that holds a model's task and labels: config.json, or labels.json for a
    scikit-learn model."""
    return folder / (CONFIG if kind_of(folder) == "transformers" else LABELS)


def default_neutral(labels) -> list[str]:
    """The project's none/neutral among ``labels``: the neutral labels of data and models
    that name none."""
    return [label for label in labels if label in DEFAULT_NEUTRAL]


def neutral_labels(folder: Path) -> list[str]:
    """The labels the model in ``folder`` counts as non-polar: those it saved, else the
    project's none/neutral among its labels."""
    found = read_json(labels_file(folder)).get(NEUTRAL_LABELS)
    if found is None:
        return default_neutral(saved(folder)[1])
    if not isinstance(found, list) or not all(isinstance(label, str) for label in found):
        raise ModelError(f"{folder}: {NEUTRAL_LABELS} is {found!r}, expected a list of labels")
    return found


def model_folders(path: Path) -> dict[str, Path]:
    """The model folders of a run folder, or of one model folder, by the task each saved; a
    run's task folder must hold a model of that task."""
    if not path.exists():
        raise ModelError(f"{path}: no such model or run folder")
    if is_model_folder(path):
        return {saved(path)[0]: path}
    folders = task_folders(path)
    if not folders:
        raise ModelError(f"{path}: neither a model folder nor a run folder with "
                         f"{' or '.join(CLASSIFIER_TASKS)}/ inside")
    for task, folder in folders.items():
        check_task(folder, task)
    return folders


def task_folders(run: Path, tasks: tuple[str, ...] = TASK_FOLDERS) -> dict[str, Path]:
    """The task folders of ``run`` that hold a model, by folder name, none of them read: a
    command that serves the others past a broken one checks each with :func:`check_task`."""
    return {task: run / task for task in tasks if is_model_folder(run / task)}


def check_task(folder: Path, task: str) -> None:
    """ModelError unless the model in ``folder`` saved ``task`` as its task."""
    found = saved(folder)[0]
    if found != task:
        raise ModelError(f"{folder}: holds a {found} model, not {task}")


def runs_in(folder: Path) -> list[Path]:
    """The run folders directly inside ``folder`` (a multirun or runs folder), oldest name
    first; empty for a run or a model folder."""
    if not folder.is_dir() or is_model_folder(folder) or is_run_folder(folder):
        return []
    return sorted((p for p in folder.iterdir() if is_run_folder(p)),
                  key=lambda p: (len(p.name), p.name))


def newest_run(runs_dir: Path = RUNS_DIR) -> Path:
    """The most recently written run under ``runs_dir``."""
    runs = sorted((p for p in runs_dir.glob("*") if is_run_folder(p)),
                  key=lambda p: p.stat().st_mtime)
    if not runs:
        raise ModelError(f"no trained run under {runs_dir}: train one with "
                         "`python -m src.train model=tiny` or name a run folder")
    return runs[-1]
