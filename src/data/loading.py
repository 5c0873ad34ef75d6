"""Load labelled statements into a ``DatasetDict`` (train/dev/test) with ``ClassLabel`` features.

One function serves the project's dataset and a user's own CSV or JSONL files: columns are
renamed to ``text`` and one column per task (``stance``, ``sentiment``), raw label values can be
mapped to label names, and missing dev/test files are carved out of train by stratified split.
Data that would train or score a model wrongly is refused with the file and line to fix: a task
of fewer than two labels, and dev or test texts that train has too.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import datasets
from datasets import ClassLabel, Dataset, DatasetDict, load_dataset

from src.core.errors import warn
from src.data.io import CSV_ENCODING, DataError, csv_delimiter, csv_options, read_numbered_jsonl
from src.data.schema import SPLITS
from src.models.layout import default_neutral
from src.text.normalization import ArabicNormalizer

BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "csv"}
EXPECTED = {"json": "one JSON object per line", "csv": "a header row, then one row per statement"}
# Each row's place in its file, kept through filtering and splitting for the messages that
# name a line, and dropped from the splits returned.
ROW = "__row__"
# How many of the texts shared between splits a message lists.
SHOWN = 3
# Two texts are the same when they are equal under the project's default normalisation
# (Unicode forms, diacritics, tatweel, Eastern digits), spacing and case aside. A fixed key
# rather than the run's normaliser: the loader is built from the data config alone (evaluation
# has no normalisation of its own), and a copy is a copy whatever a model strips.
SAME_TEXT = ArabicNormalizer()


def _read(path: Path) -> Dataset:
    if path.is_dir():
        raise DataError(f"{path}: is a directory (expected a CSV, TSV or JSONL file)")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    builder = BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise DataError(f"{path}: unknown format (expected one of {', '.join(BUILDERS)})")
    options = csv_options(path) if builder == "csv" else {}
    verbosity = datasets.logging.get_verbosity()
    # datasets logs a parser error before raising it; the DataError below says it in one line.
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    try:
        dataset = load_dataset(builder, data_files=str(path), split="train", **options)
    except Exception as err:  # datasets wraps parser errors in several exception types
        raise _unreadable(path, builder, err) from None
    finally:
        datasets.logging.set_verbosity(verbosity)
    if len(dataset) == 0:
        raise DataError(f"{path}: no rows (expected {EXPECTED[builder]})")
    return dataset


def _unreadable(path: Path, builder: str, err: Exception) -> DataError:
    """What is wrong with a file that datasets could not read, as precisely as can be told."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as decode:
        return DataError(f"{path}: not UTF-8 text ({decode.reason} at byte {decode.start})")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return DataError(f"{path}: the file is empty (expected {EXPECTED[builder]})")
    if builder == "csv" and len(lines) == 1:
        return DataError(f"{path}: no rows under the header (expected {EXPECTED[builder]})")
    if path.suffix.lower() == ".jsonl":
        try:
            read_numbered_jsonl(path)
        except DataError as found:
            return found
    return DataError(f"{path}: could not be read as {builder} ({err})")


def _line_numbers(path: Path) -> list[int] | None:
    """The line on which each row of ``path`` starts, as datasets reads the rows; None where
    lines do not tell rows apart (a JSON document)."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        # Lines end at "\n" alone, as for datasets and src.data.io.
        lines = path.read_text(encoding="utf-8-sig").split("\n")
        return [number for number, line in enumerate(lines, 1) if line.strip()]
    if suffix not in (".csv", ".tsv"):
        return None
    with path.open(encoding=CSV_ENCODING, newline="") as handle:
        # csv, like pandas, lets a quoted field span lines and skips blank lines.
        reader = csv.reader(handle, delimiter=csv_delimiter(path))
        starts, line = [], 1
        for fields in reader:
            if fields:
                starts.append(line)
            line = reader.line_num + 1
    return starts[1:]  # the header's line is no row's


def _places(path: Path, rows: Sequence[int]) -> list[str]:
    """``file:line`` of each row (1-based), or ``file: row N`` where the line is not known."""
    lines = _line_numbers(path) or []
    return [f"{path}:{lines[row - 1]}" if row <= len(lines) else f"{path}: row {row}"
            for row in rows]


def _where(path: Path, row: int) -> str:
    return _places(path, [row])[0]


def _labelled(dataset: Dataset, path: Path, text_column: str, label_columns: Mapping[str, str],
              label_values: Mapping[str, Mapping[str, str]],
              target_column: str | None = None) -> Dataset:
    wanted = {text_column: "text", **{column: task for task, column in label_columns.items()}}
    if target_column:
        wanted[target_column] = "target"
    missing = [column for column in wanted if column not in dataset.column_names]
    if missing:
        where = {text_column: "data.text_column", target_column: "data.target_column",
                 **{column: f"data.label_columns.{task}" for task, column in label_columns.items()}}
        named = ", ".join(f"{column} ({where[column]})" for column in missing)
        others = [task for task, column in label_columns.items() if column in missing]
        hint = (f"; a task the file has no column for is left out with task=, or named with "
                f"data.label_columns.{others[0]}=COLUMN" if others else "")
        raise DataError(f"{path}: missing column(s) {named}; found "
                        f"{', '.join(c for c in dataset.column_names if c != ROW)}{hint}")
    clashes = [v for k, v in wanted.items() if v in dataset.column_names and v not in wanted]
    # A target column is what the stance model reads: only data.target_column names one.
    if "target" in dataset.column_names and "target" not in wanted.values():
        clashes.append("target")
    dataset = dataset.remove_columns(clashes)
    dataset = dataset.rename_columns({k: v for k, v in wanted.items() if k != v})
    for row, text in zip(dataset[ROW], dataset["text"], strict=True):
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{_where(path, row)}: empty or missing text")
    if target_column:
        for row, target in zip(dataset[ROW], dataset["target"], strict=True):
            if not isinstance(target, str) or not target.strip():
                raise DataError(f"{_where(path, row)}: empty or missing target (column "
                                f"'{target_column}', data.target_column)")

    def map_values(batch: dict) -> dict:
        for task, mapping in label_values.items():
            if task in batch and mapping:
                batch[task] = [mapping.get(str(value), value) for value in batch[task]]
        return batch

    return dataset.map(map_values, batched=True) if label_values else dataset


def _cast_labels(dataset: Dataset, path: Path, labels: Mapping[str, Sequence[str]]) -> Dataset:
    for task, names in labels.items():
        allowed = set(names)
        for row, value in zip(dataset[ROW], dataset[task], strict=True):
            if value not in allowed:
                raise DataError(f"{_where(path, row)}: unknown {task} {value!r} "
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
    allow_overlap: bool = False,
    tasks: Sequence[str] | None = None,
    neutral_labels: Mapping[str, Sequence[str] | None] | None = None,
    target_column: str | None = None,
) -> DatasetDict:
    """Read ``files`` (split name -> path; ``train`` required) into a DatasetDict.

    ``label_columns`` maps each task to its column (default: a column named like the task, for
    whichever of stance/sentiment exist); ``tasks``, when given, keeps only those tasks' columns,
    so a file needs no column for a task that is not trained. ``label_values`` maps raw values
    to label names per task. ``neutral_labels`` names, per task, the labels of no position or
    polarity (see :func:`neutral_labels_of`); they are checked against the labels here.
    ``target_column``, for target-specific stance (Mawqif, StanceEval), is kept as a ``target``
    column of non-empty strings. ``labels`` fixes each task's label order; without it
    the sorted values seen in train are used, as Hugging Face's ``run_classification`` does.
    Splits without a file are cut from train with ``split_fractions``, stratified by the first
    task. ``max_samples`` keeps a random N rows of each split, for quick runs. ``name`` is
    recorded as each split's ``info.dataset_name`` for model cards and reports. ``sources``
    keeps only the train and dev rows whose ``source`` column is one of them (what the model
    learns from and is chosen on); test keeps every row, so that reports can slice it by source.

    A task of fewer than two labels (given, or seen in train) is refused, and so are dev or
    test texts that train has too, the same once normalised (see ``SAME_TEXT``), unless
    ``allow_overlap``, which warns instead. Rows marked ``clutter`` (web boilerplate that
    repeats across articles by design) are not compared.
    """
    paths = {split: Path(path) for split, path in files.items() if path}
    if "train" not in paths:
        raise DataError("data: a train file is required (data.files.train)")
    raw = {split: _numbered(_read(path)) for split, path in paths.items()}
    if sources is not None:
        raw = {split: _of_sources(data, paths[split], list(sources)) if split != "test" else data
               for split, data in raw.items()}
    if label_columns is None:
        label_columns = {task: task for task in ("stance", "sentiment")
                         if task in raw["train"].column_names}
    if tasks is not None:
        label_columns = {task: column for task, column in label_columns.items() if task in tasks}
    if not label_columns:
        wanted = " or ".join(tasks) if tasks else "label"
        raise DataError(f"{paths['train']}: no {wanted} column named (set "
                        f"data.label_columns.{tasks[0] if tasks else 'TASK'}=COLUMN)")
    splits = {split: _labelled(data, paths[split], text_column, label_columns, label_values or {},
                               target_column)
              for split, data in raw.items()}
    # A task given no labels (data.labels.TASK: null) takes them from train.
    labels = {task: names for task, names in (labels or {}).items() if names is not None}
    for task, column in label_columns.items():
        # A classifier of one class learns nothing, and scores a perfect macro-F1 doing so.
        if task in labels and len(labels[task]) < 2:
            raise DataError(f"data.labels.{task}: {_count_of(labels[task], 'label')} for column "
                            f"'{column}' of {paths['train']}; expected at least 2")
        labels.setdefault(task, sorted({str(v) for v in splits["train"][task]}))
        if len(labels[task]) < 2:
            raise DataError(f"{paths['train']}: column '{column}' has "
                            f"{_count_of(labels[task], 'class')} in train; expected at least 2 "
                            "to tell apart")
    splits = {split: _cast_labels(data, paths[split], {t: labels[t] for t in label_columns})
              for split, data in splits.items()}
    neutral = {task: neutral_labels_of(neutral_labels, task, labels[task], paths["train"])
               for task in label_columns}
    missing = [split for split in SPLITS if split not in splits]
    if missing:
        fractions = split_fractions or {}
        if any(split not in fractions for split in missing):
            raise DataError(f"data: no file for {', '.join(missing)} and no split fraction "
                            "(set data.files or data.split_fractions)")
        splits.update(_carve(splits.pop("train"), paths["train"],
                             {s: fractions[s] for s in missing}, next(iter(label_columns)), seed))
    _check_overlap(splits, {split: paths.get(split, paths["train"]) for split in SPLITS},
                   allow_overlap)
    if max_samples:
        # A random sample, not the head: files are often ordered by label or source.
        splits = {s: d.shuffle(seed=seed).select(range(min(max_samples, len(d))))
                  for s, d in splits.items()}
    splits = {split: data.remove_columns(ROW) for split, data in splits.items()}
    for data in splits.values():
        data.info.dataset_name = name
    # Without a label of no position, polar macro-F1 cannot be computed: said once the data is
    # known to be usable, so that it never stands before the error that stops a run.
    for task in (task for task, found in neutral.items() if not found):
        warn(f"{paths['train']}: no {task} label is none or neutral "
             f"({', '.join(labels[task])}), so no polar macro-F1 is computed; name the labels "
             f"of no {task} with data.neutral_labels.{task}=[LABEL]")
    return DatasetDict({split: splits[split] for split in SPLITS})


def neutral_labels_of(given: Mapping[str, Sequence[str] | None] | None, task: str,
                      labels: Sequence[str], where: Path | str = "data") -> list[str]:
    """The labels of ``task`` that carry no position or polarity: ``given[task]`` (each must be
    one of ``labels``), by default the project's none/neutral among them."""
    named = (given or {}).get(task)
    if named is None:
        return default_neutral(labels)
    named = [str(label) for label in ([named] if isinstance(named, str) else named)]
    unknown = [label for label in named if label not in labels]
    if unknown:
        raise DataError(f"data.neutral_labels.{task}: {', '.join(map(repr, unknown))} is not a "
                        f"{task} label of {where} (its labels: {', '.join(labels)}); name labels "
                        "after data.label_values maps them")
    return named


def _numbered(dataset: Dataset) -> Dataset:
    return dataset.add_column(ROW, list(range(1, len(dataset) + 1)))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "es" if noun.endswith("s") else "s")


def _count_of(names: Sequence[str], noun: str) -> str:
    """``1 class (favor)``, ``0 classes``."""
    return _count(len(names), noun) + (f" ({', '.join(names)})" if names else "")


def _same_text_keys(dataset: Dataset) -> list[bytes | None]:
    """Each row's text as a short digest of its normalised form; None for clutter rows."""
    clutter = dataset["clutter"] if "clutter" in dataset.column_names else [None] * len(dataset)
    return [None if marked else hashlib.blake2b(" ".join(SAME_TEXT(text).split()).casefold()
                                                .encode(), digest_size=16).digest()
            for text, marked in zip(dataset["text"], clutter, strict=True)]


def _check_overlap(splits: Mapping[str, Dataset], files: Mapping[str, Path],
                   allow: bool) -> None:
    """Dev and test texts that train has too: a model scored on what it learnt from scores
    high in silence."""
    in_train: dict[bytes, int] = {}
    for row, key in zip(splits["train"][ROW], _same_text_keys(splits["train"]), strict=True):
        if key is not None:
            in_train.setdefault(key, row)
    found = []
    for split in ("dev", "test"):
        shared = [(row, in_train[key]) for row, key in
                  zip(splits[split][ROW], _same_text_keys(splits[split]), strict=True)
                  if key in in_train]
        if not shared:
            continue
        shown = sorted(shared)[:SHOWN]
        pairs = zip(_places(files[split], [row for row, _ in shown]),
                    _places(files["train"], [row for _, row in shown]), strict=True)
        listed = ", ".join(f"{here} = {there}" for here, there in pairs)
        more = ", ..." if len(shared) > SHOWN else ""
        found.append(f"{split} shares {_count(len(shared), 'text')} with train "
                     f"({listed}{more})")
    if not found:
        return
    message = "; ".join(found) + ", the same once normalised"
    if allow:
        warn(f"{message}; going on as data.allow_overlap is set")
        return
    raise DataError(f"{message}; remove them from one side, or set data.allow_overlap=true "
                    "to go on")


def _of_sources(dataset: Dataset, path: Path, sources: list[str]) -> Dataset:
    if "source" not in dataset.column_names:
        raise DataError(f"{path}: data.sources is set but the file has no 'source' column")
    kept = dataset.filter(lambda batch: [s in sources for s in batch["source"]], batched=True)
    if len(kept) == 0:
        found = sorted(set(dataset["source"]))
        raise DataError(f"{path}: no row of source {', '.join(sources)} "
                        f"(the file has {', '.join(map(str, found))})")
    return kept


def _carve(train: Dataset, path: Path, fractions: Mapping[str, float], stratify: str,
           seed: int) -> dict[str, Dataset]:
    members = Counter(train[stratify])
    alone = next(((row, value) for row, value in zip(train[ROW], train[stratify], strict=True)
                  if members[value] == 1), None)
    if alone is not None:
        row, value = alone
        label = train.features[stratify].int2str(value)
        raise DataError(f"{_where(path, row)}: {stratify} {label!r} is on this row only; "
                        f"cutting {' and '.join(fractions)} from train stratified needs at least "
                        "2 rows of each label (fix the label, or give data.files."
                        f"{' and data.files.'.join(fractions)})")
    carved = {}
    remaining = 1.0
    for split, fraction in fractions.items():
        try:
            parts = train.train_test_split(test_size=fraction / remaining, seed=seed,
                                           stratify_by_column=stratify)
        except ValueError as err:  # too few rows for the split and the classes
            raise DataError(f"{path}: cannot cut {split} ({fraction:g}) from {len(train)} rows "
                            f"stratified by {stratify}: {err}") from None
        carved[split], train = parts["test"], parts["train"]
        remaining -= fraction
    carved["train"] = train
    return carved


def read_records(path: str | Path) -> list[dict]:
    """All rows of a CSV/TSV/JSONL file as dicts (for evaluation on a user's own file)."""
    return _read(Path(path)).to_list()
