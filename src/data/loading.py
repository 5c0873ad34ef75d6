"""Load labelled statements into a ``DatasetDict`` (train/dev/test) with ``ClassLabel`` features.

One function serves the project's dataset and a user's own CSV or JSONL files: columns are
renamed to ``text`` and one column per task (``stance``, ``sentiment``), raw label values can be
mapped to label names, and missing dev/test files are carved out of train by stratified split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, load_dataset

from src.data.io import DataError
from src.data.schema import SPLITS

BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "csv"}


def _read(path: Path) -> Dataset:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    builder = BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise DataError(f"{path}: unknown format (expected one of {', '.join(BUILDERS)})")
    options = {}
    if builder == "csv":
        # utf-8-sig reads files with or without a BOM; pandas would turn the label "None" into NaN.
        options = {"encoding": "utf-8-sig", "keep_default_na": False,
                   "sep": "\t" if path.suffix.lower() == ".tsv" else ","}
    try:
        return load_dataset(builder, data_files=str(path), split="train", **options)
    except Exception as err:  # datasets wraps parser errors in several exception types
        raise DataError(f"{path}: could not be read as {builder} ({err})") from None


def _labelled(dataset: Dataset, path: Path, text_column: str, label_columns: Mapping[str, str],
              label_values: Mapping[str, Mapping[str, str]]) -> Dataset:
    wanted = {text_column: "text", **{column: task for task, column in label_columns.items()}}
    missing = [column for column in wanted if column not in dataset.column_names]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} "
                        f"(found {', '.join(dataset.column_names)})")
    clashes = [v for k, v in wanted.items() if v in dataset.column_names and v not in wanted]
    dataset = dataset.remove_columns(clashes)
    dataset = dataset.rename_columns({k: v for k, v in wanted.items() if k != v})
    for row, text in enumerate(dataset["text"], 1):
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{path}: row {row}: empty or missing text")

    def map_values(batch: dict) -> dict:
        for task, mapping in label_values.items():
            if task in batch and mapping:
                batch[task] = [mapping.get(str(value), value) for value in batch[task]]
        return batch

    return dataset.map(map_values, batched=True) if label_values else dataset


def _cast_labels(dataset: Dataset, path: Path, labels: Mapping[str, Sequence[str]]) -> Dataset:
    for task, names in labels.items():
        allowed = set(names)
        for row, value in enumerate(dataset[task], 1):
            if value not in allowed:
                raise DataError(f"{path}: row {row}: unknown {task} {value!r} "
                                f"(expected one of {', '.join(names)})")
        dataset = dataset.cast_column(task, ClassLabel(names=list(names)))
    return dataset


def load_splits(
    files: Mapping[str, str | None],
    name: str = "custom",
    text_column: str = "text",
    label_columns: Mapping[str, str] | None = None,
    label_values: Mapping[str, Mapping[str, str]] | None = None,
    labels: Mapping[str, Sequence[str]] | None = None,
    split_fractions: Mapping[str, float] | None = None,
    seed: int = 42,
    max_samples: int | None = None,
    sources: Sequence[str] | None = None,
) -> DatasetDict:
    """Read ``files`` (split name -> path; ``train`` required) into a DatasetDict.

    ``label_columns`` maps each task to its column (default: a column named like the task, for
    whichever of stance/sentiment exist). ``labels`` fixes each task's label order; without it
    the sorted values seen in train are used, as Hugging Face's ``run_classification`` does.
    Splits without a file are cut from train with ``split_fractions``, stratified by the first
    task. ``max_samples`` keeps a random N rows of each split, for quick runs. ``name`` is
    recorded as each split's ``info.dataset_name`` for model cards and reports. ``sources``
    keeps only the train and dev rows whose ``source`` column is one of them (what the model
    learns from and is chosen on); test keeps every row, so that reports can slice it by source.
    """
    paths = {split: Path(path) for split, path in files.items() if path}
    if "train" not in paths:
        raise DataError("data: a train file is required (data.files.train)")
    raw = {split: _read(path) for split, path in paths.items()}
    if sources is not None:
        raw = {split: _of_sources(data, paths[split], list(sources)) if split != "test" else data
               for split, data in raw.items()}
    if label_columns is None:
        label_columns = {task: task for task in ("stance", "sentiment")
                         if task in raw["train"].column_names}
    if not label_columns:
        raise DataError(f"{paths['train']}: no label column (set data.label_columns)")
    splits = {split: _labelled(data, paths[split], text_column, label_columns, label_values or {})
              for split, data in raw.items()}
    labels = dict(labels or {})
    for task in label_columns:
        labels.setdefault(task, sorted({str(v) for v in splits["train"][task]}))
    splits = {split: _cast_labels(data, paths[split], {t: labels[t] for t in label_columns})
              for split, data in splits.items()}
    missing = [split for split in SPLITS if split not in splits]
    if missing:
        fractions = split_fractions or {}
        if any(split not in fractions for split in missing):
            raise DataError(f"data: no file for {', '.join(missing)} and no split fraction "
                            "(set data.files or data.split_fractions)")
        splits.update(_carve(splits.pop("train"), {s: fractions[s] for s in missing},
                             next(iter(label_columns)), seed))
    if max_samples:
        # A random sample, not the head: files are often ordered by label or source.
        splits = {s: d.shuffle(seed=seed).select(range(min(max_samples, len(d))))
                  for s, d in splits.items()}
    for data in splits.values():
        data.info.dataset_name = name
    return DatasetDict({split: splits[split] for split in SPLITS})


def _of_sources(dataset: Dataset, path: Path, sources: list[str]) -> Dataset:
    if "source" not in dataset.column_names:
        raise DataError(f"{path}: data.sources is set but the file has no 'source' column")
    kept = dataset.filter(lambda batch: [s in sources for s in batch["source"]], batched=True)
    if len(kept) == 0:
        found = sorted(set(dataset["source"]))
        raise DataError(f"{path}: no row of source {', '.join(sources)} "
                        f"(the file has {', '.join(map(str, found))})")
    return kept


def _carve(train: Dataset, fractions: Mapping[str, float], stratify: str,
           seed: int) -> dict[str, Dataset]:
    carved = {}
    remaining = 1.0
    for split, fraction in fractions.items():
        parts = train.train_test_split(test_size=fraction / remaining, seed=seed,
                                       stratify_by_column=stratify)
        carved[split], train = parts["test"], parts["train"]
        remaining -= fraction
    carved["train"] = train
    return carved


def read_records(path: str | Path) -> list[dict]:
    """All rows of a CSV/TSV/JSONL file as dicts (for evaluation on a user's own file)."""
    return _read(Path(path)).to_list()
