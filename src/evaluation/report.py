"""The evaluation of a run on the test split, and its report (``python -m src.evaluate``).

Writes into its output folder: ``metrics.json``, ``report.md``, ``predictions.jsonl``, and per
task a confusion matrix and a reliability diagram (PNG). Macro-F1 comes with a 95 % bootstrap
interval, and the model is compared with a majority-class baseline, the actor-list rule (stance)
and TF-IDF + logistic regression, by paired bootstrap on the same test items. The test and train
splits are those of the run's ``config.yaml`` (its files, text column and label mapping, as it
was trained), with the ``data.*`` keys of the command line over them; ``data=NAME`` on the
command line, or a model folder outside a run, takes the ``data`` config group instead. They are
read by the loader training uses (``src.data.loading.load_splits``), and the report says where
each part came from. A task that cannot be scored (its model folder does not load, the test file
has no column for it, its labels are not the model's) is left out with a warning, and the others
are scored. When the test split has real articles, a ``speakers``
section scores who speaks each statement (the rule attributor, and the run's speaker tagger when
it has one) and the stance their camps decide (``src.evaluation.speakers``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict
from sklearn.metrics import f1_score

from src.core.errors import ModelError, QawlError, warn
from src.data.io import DataError, write_jsonl
from src.data.schema import SENTIMENTS, STANCES, TASKS
from src.evaluation.metrics import (
    bootstrap_interval,
    bootstrap_values,
    calibration_bins,
    classification_metrics,
    expected_calibration_error,
    macro_f1_from_counts,
    per_class,
)
from src.evaluation.multirun import HEADLINE, mean_std, test_split
from src.models import layout
from src.models.layout import BACKENDS, newest_run, runs_in
from src.text.letters import QUOTED

if TYPE_CHECKING:
    from src.text.attribution import ActorList


def gold_labels(records: list[dict], task: str, labels: list[str], split: str) -> np.ndarray:
    """Each record's gold ``task`` label as an index into the model's ``labels``."""
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({r[task] for r in records} - set(index))
    if unknown:
        # The split's labels were checked against the data config when it was read (with the
        # file and row); what is left is a model trained on other labels.
        raise DataError(f"{split}: {task} {', '.join(map(repr, unknown))} is not among the "
                        f"model's labels ({', '.join(labels)})")
    return np.asarray([index[r[task]] for r in records])


def summarise(labels, neutral, y_true, y_pred, probabilities, resamples: int, seed: int) -> dict:
    summary = classification_metrics(labels, y_true, y_pred, neutral)
    summary["weighted_f1"] = float(f1_score(y_true, y_pred, average="weighted",
                                            zero_division=0))
    macro_f1 = partial(macro_f1_from_counts, n_labels=len(labels))
    summary["macro_f1_ci95"] = bootstrap_interval(y_true, y_pred, macro_f1,
                                                  resamples=resamples, seed=seed)
    if probabilities is not None:
        summary["ece"] = expected_calibration_error(probabilities, y_true)
    return summary


def paired_difference(y_true, ours, theirs, n_labels: int, resamples: int, seed: int) -> dict:
    """Macro-F1 of ``ours`` minus ``theirs`` with a paired 95 % bootstrap interval."""
    macro_f1 = partial(macro_f1_from_counts, n_labels=n_labels)
    differences = bootstrap_values(lambda t, o, th: macro_f1(t, o) - macro_f1(t, th),
                                   y_true, ours, theirs, resamples=resamples, seed=seed)
    low, high = np.percentile(differences, [2.5, 97.5])
    return {"difference": macro_f1(y_true, ours) - macro_f1(y_true, theirs),
            "ci95": [float(low), float(high)], "beats": bool(low > 0)}


def slices_of(records: list[dict], speakers: list[str | None]) -> dict[str, np.ndarray]:
    named = np.array([s is not None for s in speakers], dtype=bool)
    quoted = np.array([bool(QUOTED.search(r["text"])) for r in records], dtype=bool)
    slices = {"named speaker": named, "no named speaker": ~named,
              "quoted": quoted, "reported or narrated": ~quoted}
    if all("source" in r for r in records):
        for source in sorted({r["source"] for r in records}):
            slices[f"source {source}"] = np.array([r["source"] == source for r in records])
    for outlet in sorted({r["outlet"] for r in records if r.get("outlet")}):
        slices[f"outlet {outlet}"] = np.array([r.get("outlet") == outlet for r in records])
    return slices


def attribute_in_context(texts: list[str], records: list[dict], actors=None) -> list:
    """The rule attributor's reading of every statement (with ``actors``, default the project's
    list). Statements of one article are read in article order, so that a continuation
    («وأضاف») inherits its speaker; others stand alone."""
    from src.text.attribution import ActorList, Attributor

    actors = actors or ActorList.load()
    attributions: list = [None] * len(texts)
    articles: dict = {}
    for position, record in enumerate(records):
        article = record.get("article_id")
        if article is None:
            attributions[position] = Attributor(actors)(texts[position])
        else:
            articles.setdefault(article, []).append(position)
    for positions in articles.values():
        attribute = Attributor(actors)
        for position in sorted(positions, key=lambda p: records[p].get("index") or 0):
            attributions[position] = attribute(texts[position])
    return attributions


def progress_bar(total: int | None, what: str):
    """A bar on stderr of the statements scored, shown only when stderr is a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit="statement", file=sys.stderr, disable=None,
                leave=False)


def chosen_run(run_dir: str | None) -> Path:
    """``run_dir``, or the newest run (saying so on stderr, as predict does)."""
    if run_dir is not None:
        return Path(run_dir)
    run = newest_run()
    print(f"using model {run}", file=sys.stderr)
    return run


def evaluate(cfg: DictConfig, overrides: Sequence[str] = ()) -> dict:
    """Evaluate a run (default: the newest), or every run of a multirun folder and their
    mean ± std. ``overrides`` are the command line's (Hydra's ``overrides.task``): the ``data``
    keys among them are laid over each run's own data config (:func:`data_choice`)."""
    if cfg.backend not in BACKENDS:
        raise ModelError(f"backend={cfg.backend}: expected one of {', '.join(BACKENDS)}")
    out = Path(cfg.paths.output_dir)
    run_dir = chosen_run(cfg.run_dir)
    # The runs of a training multirun mostly share their data: each split read, and each
    # baseline fitted, once per data config.
    shared: dict[str, EvaluationData] = {}

    def data_for(choice: DataChoice, tasks: tuple[str, ...]) -> EvaluationData:
        key = json.dumps([choice.params, tasks, choice.cut_columns], sort_keys=True, default=str)
        if key not in shared:
            shared[key] = EvaluationData.read(cfg, choice, tasks)
        return shared[key]

    runs = runs_in(run_dir)
    if not runs:
        return evaluate_run(cfg, run_dir, out, overrides, data_for)
    per_run = {run.name: evaluate_run(cfg, run, out / run.name, overrides, data_for)
               for run in runs}
    summary = {}
    for task in (task for task in TASKS if any(task in r for r in per_run.values())):
        summary[task] = {}
        for name in HEADLINE:
            values = np.array([r[task]["model"][name] for r in per_run.values()
                               if task in r and name in r[task]["model"]])
            if len(values):
                summary[task][name] = mean_std(values)
    results = {"runs": list(per_run), "mean_std": summary,
               "data": {name: r["data"] for name, r in per_run.items()}}
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"# Evaluation of {len(runs)} runs in {run_dir}", "",
             f"Each run's report is in its own folder ({', '.join(per_run)}), with the data it "
             "was scored on:", ""]
    lines += [f"- {name}: {test_split(r['data'])}" for name, r in per_run.items()]
    lines += ["", "Mean ± sample standard deviation across the runs:", ""]
    for task, metrics in summary.items():
        lines += [f"## {task}", "", "| metric | mean ± std |", "| --- | --- |"]
        lines += [f"| {name} | {m['mean']:.3f} ± {m['std']:.3f} |" for name, m in metrics.items()]
        lines.append("")
    (out / "report.md").write_text("\n".join(lines))
    return results


def _related(given: str, key: str) -> bool:
    """Whether an override of ``given`` sets ``key``, part of it, or a config holding it."""
    return given == key or given.startswith(f"{key}.") or key.startswith(f"{given}.")


@dataclass(frozen=True)
class DataChoice:
    """The data a run is evaluated on: ``load_splits``' parameters, resolved, and where each
    of them came from."""

    params: dict
    # where the parameters the command line did not set came from
    base: str
    # (key under data, the override as typed) for each data override of the command line
    given: tuple[tuple[str, str], ...] = ()
    # The label columns training read, when the test split is cut from train: the cut is
    # stratified by the first, and must be training's, or the test split holds training rows.
    cut_columns: dict[str, str] | None = None

    def origin(self, *keys: str) -> str:
        """Where the data parameters ``keys`` came from, in words."""
        relevant = [(given, line) for given, line in self.given
                    if any(_related(given, key) for key in keys)]
        if not relevant:
            return self.base
        whole = all(any(given == key or key.startswith(f"{given}.") for given, _ in relevant)
                    for key in keys)
        return (f"the command line ({', '.join(line for _, line in relevant)})"
                + ("" if whole else f" over {self.base}"))


def run_config(path: Path) -> tuple[Path, DictConfig] | None:
    """The path and contents of the config.yaml that src.train saved for ``path`` (a run
    folder, or a model folder inside one); None for a model folder outside a run."""
    import yaml

    if layout.is_run_folder(path):
        config = path / layout.RUN_CONFIG
    elif layout.is_model_folder(path) and layout.is_run_folder(path.parent):
        config = path.parent / layout.RUN_CONFIG
    else:
        return None
    if not config.is_file():
        return None
    try:
        saved = OmegaConf.load(config)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ModelError(f"{config}: not a readable config ({err}); choose the test data on "
                         "the command line with data=qawl or data=table") from None
    if not isinstance(saved, DictConfig) or not isinstance(saved.get("data"), DictConfig):
        raise ModelError(f"{config}: no data section (expected the config src.train saves); "
                         "choose the test data on the command line with data=qawl or data=table")
    return config, saved


def data_choice(cfg: DictConfig, run_dir: Path, overrides: Sequence[str]) -> DataChoice:
    """What ``run_dir`` is evaluated on: the data of its run's config.yaml (files, text column,
    label mapping, as it was trained), with the ``data.*`` keys of ``overrides`` set over it.
    ``data=NAME`` among ``overrides``, or a model folder outside a run, takes ``cfg.data``, the
    data group as composed."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = [o for o in OverridesParser.create().parse_overrides(list(overrides))
              if o.key_or_group.split(".")[0] == "data"]
    given = tuple((o.key_or_group.removeprefix("data").removeprefix("."), o.input_line)
                  for o in parsed)
    group = next((o.input_line for o in parsed if o.key_or_group == "data"), None)
    saved = None if group else run_config(run_dir)
    if saved is None:
        base = (f"the data group chosen on the command line ({group})" if group
                else "the data group of configs/eval.yaml (no run config.yaml around the model)")
        return DataChoice(OmegaConf.to_container(cfg.data, resolve=True), base, given)
    path, run = saved
    # The command line's values are applied as Hydra applies them, over the run's data
    # rather than the data group's, and resolved within the evaluation's config (paths).
    merged = cfg.copy()
    with open_dict(merged):
        merged.data = run.data
        # A run trained on a sample (data.max_samples, a quick look) is still scored on the
        # whole test split, unless the command line asks for a sample again.
        if merged.data.get("max_samples") is not None:
            merged.data.max_samples = None
        for override in parsed:
            if override.is_delete():
                parent, _, leaf = override.key_or_group.rpartition(".")
                node = OmegaConf.select(merged, parent)
                if isinstance(node, DictConfig) and leaf in node:
                    del node[leaf]
            else:
                OmegaConf.update(merged, override.key_or_group, override.value(), merge=False,
                                 force_add=True)
    params = OmegaConf.to_container(merged.data, resolve=True)
    cut = None
    if not (params.get("files") or {}).get("test"):
        trained = run.get("task")
        cut = {task: column for task, column in (params.get("label_columns") or {}).items()
               if trained not in layout.CLASSIFIER_TASKS or task == trained} or None
    return DataChoice(params, f"the run's config ({path})", given, cut)


def labelled_records(split, tasks: tuple[str, ...]) -> list[dict]:
    """The rows of a split, with each task's label as its name rather than its class index."""
    names = {task: split.features[task] for task in tasks}
    records = split.to_list()
    for record in records:
        for task, feature in names.items():
            record[task] = feature.int2str(record[task])
    return records


def read_splits(choice: DataChoice, tasks: tuple[str, ...]) -> tuple[dict, dict[str, str]]:
    """The splits of ``choice`` labelled for the ``tasks`` it can, and why it cannot for the
    others. Only their label columns are read: a test file of one's own needs no other. A task
    whose column or labels a file lacks is left out when the others load without it; what
    every task meets (no text column, no such file) is raised."""
    from hydra.utils import instantiate

    params = choice.params
    loader = instantiate(params, _partial_=True, _convert_="all")
    columns = params.get("label_columns") or {task: task for task in tasks}
    left_out = {task: f"data.label_columns has no {task}, and the run has a {task} model to "
                      f"score (set data.label_columns.{task}=COLUMN)"
                for task in tasks if task not in columns}
    # In the data config's order: the first stratifies the splits cut from train.
    usable = {task: column for task, column in columns.items() if task in tasks}
    if not usable:
        raise DataError("; ".join(left_out.values()))
    chosen = {**(choice.cut_columns or {}), **usable}
    try:
        return loader(label_columns=chosen), left_out
    except QawlError:
        if choice.cut_columns or len(usable) == 1:
            raise
        for task, column in usable.items():
            try:
                loader(label_columns={task: column})
            except QawlError as err:
                left_out[task] = str(err)
        served = {task: column for task, column in usable.items() if task not in left_out}
        if not served or len(served) == len(usable):
            raise
    return loader(label_columns=served), left_out


@dataclass
class EvaluationData:
    """The test split, the train split the baselines learn from, and what follows from them
    alone, shared by every run of a multirun folder evaluated on the same data: each baseline
    is fitted once."""

    cfg: DictConfig
    test_file: str
    train_file: str
    records: list[dict]
    texts: list[str]
    train: list[dict]
    attributions: list
    slices: dict[str, np.ndarray]
    actors: ActorList | None = None
    # The real articles (positions, in article order), read by the rule spans and with gold.
    articles: list[list[int]] = field(default_factory=list)
    rule_readings: dict = field(default_factory=dict)
    gold_readings: dict = field(default_factory=dict)
    # The tasks of the models that these splits cannot score, and why.
    left_out: dict[str, str] = field(default_factory=dict)
    _baselines: dict[tuple, dict[str, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def read(cls, cfg: DictConfig, choice: DataChoice, tasks: tuple[str, ...]) -> EvaluationData:
        """The splits of ``choice`` labelled for ``tasks``, the tasks of the models scored."""
        from datasets import ClassLabel

        from src.evaluation.speakers import gold_readings, read_articles, real_articles
        from src.inference.speakers import Speakers
        from src.text.attribution import ActorList

        splits, left_out = read_splits(choice, tasks)
        labelled = tuple(task for task in TASKS
                         if isinstance(splits["test"].features.get(task), ClassLabel))
        records = labelled_records(splits["test"], labelled)
        train = labelled_records(splits["train"], labelled)
        texts = [r["text"] for r in records]
        actors = ActorList.load()
        attributions = attribute_in_context(texts, records, actors)
        speakers = [r.get("speaker", a.speaker) for r, a in zip(records, attributions, strict=True)]
        articles = real_articles(records)
        files = choice.params["files"]
        return cls(cfg, files.get("test") or "", files["train"], records, texts, train,
                   attributions, slices_of(records, speakers), actors, articles,
                   read_articles(Speakers(actors), texts, articles),
                   gold_readings(actors, records, articles), left_out)

    @property
    def test_name(self) -> str:
        """The test split, as its messages name it."""
        return self.test_file or f"the test split cut from {self.train_file}"

    def actor_rule(self, labels: list[str]) -> np.ndarray:
        """The camp of each test statement's attributed actor, `none` for no camp, as indices
        into ``labels`` (the project's stances)."""
        return np.array([labels.index(a.camp or "none") for a in self.attributions])

    def baselines(self, task: str, labels: list[str], normalizer) -> dict[str, np.ndarray]:
        """Each baseline's predictions on the test statements."""
        key = (task, tuple(labels), normalizer)
        if key not in self._baselines:
            from src.models.tfidf import TfidfLogReg

            train_gold = gold_labels(self.train, task, labels, self.train_file)
            baselines = {"majority": np.full(len(self.texts), np.bincount(train_gold).argmax())}
            tfidf = TfidfLogReg().pipeline(self.cfg.seed, balanced=False)
            tfidf.fit([normalizer(r["text"]) for r in self.train], train_gold)
            baselines["tfidf"] = tfidf.predict([normalizer(t) for t in self.texts])
            # The rule decides a camp, which only a model of the project's stances has.
            if task == "stance" and set(labels) == set(STANCES):
                baselines["actor rule"] = self.actor_rule(labels)
            self._baselines[key] = baselines
        return self._baselines[key]


def neutral_source(folder: Path) -> str:
    """Where the neutral labels of the model in ``folder`` come from, in words."""
    saved = layout.labels_file(folder)
    if layout.NEUTRAL_LABELS in layout.read_json(saved):
        return f"{layout.NEUTRAL_LABELS} in {saved}"
    return (f"{' or '.join(layout.DEFAULT_NEUTRAL)} among its labels, the default: {saved} "
            f"records no {layout.NEUTRAL_LABELS}")


def usable_tasks(models: dict, data: EvaluationData, left_out: dict[str, str]) -> dict:
    """The models that ``data`` can score, by task, with their neutral labels; the others go
    into ``left_out`` with why."""
    usable = {}
    for task, model in models.items():
        if task in left_out:
            continue
        try:
            neutral = layout.neutral_labels(model.folder)
            gold_labels(data.records, task, model.labels, data.test_name)
            gold_labels(data.train, task, model.labels, data.train_file)
        except QawlError as err:
            left_out[task] = str(err)
            continue
        usable[task] = (model, neutral)
    return usable


def data_record(choice: DataChoice, data: EvaluationData, usable: dict,
                left_out: dict[str, str]) -> dict:
    """Where the evaluation's data came from, for metrics.json and the report's header."""
    params = choice.params
    columns, values = params.get("label_columns") or {}, params.get("label_values") or {}
    carved = () if data.test_file else ("split_fractions.test", "files.train")
    record = {
        "test": {"file": data.test_file or None,
                 "cut_from": None if data.test_file else data.train_file,
                 "statements": len(data.records), "from": choice.origin("files.test", *carved)},
        "train": {"file": data.train_file, "statements": len(data.train),
                  "sources": params.get("sources"), "from": choice.origin("files.train")},
        "text_column": {"column": params.get("text_column") or "text",
                        "from": choice.origin("text_column")},
        "labels": {task: {"column": columns.get(task, task), "values": values.get(task) or {},
                          "from": choice.origin(f"label_columns.{task}", f"label_values.{task}")}
                   for task in usable},
        "neutral_labels": {task: {"labels": neutral, "from": neutral_source(model.folder)}
                           for task, (model, neutral) in usable.items()},
        "left_out": left_out,
    }
    if params.get("target_column"):
        record["target_column"] = {"column": params["target_column"],
                                   "from": choice.origin("target_column")}
    if params.get("max_samples"):
        record["max_samples"] = {"rows": params["max_samples"],
                                 "from": choice.origin("max_samples")}
    return record


def evaluate_run(cfg: DictConfig, run_dir: Path, out: Path, overrides: Sequence[str],
                 data_for: Callable[[DataChoice, tuple[str, ...]], EvaluationData]) -> dict:
    from src.inference.loading import load_models

    left_out: dict[str, str] = {}
    models, _ = load_models(run_dir, backend=cfg.backend, left_out=left_out.__setitem__)
    choice = data_choice(cfg, run_dir, overrides)
    data = data_for(choice, tuple(task for task in models if task not in left_out))
    left_out.update(data.left_out)
    usable = usable_tasks(models, data, left_out)
    if not usable:
        raise DataError("; ".join(left_out.values()))
    for task, reason in left_out.items():
        warn(f"{reason}; leaving {task} out: evaluating {' and '.join(usable)} only")
    out.mkdir(parents=True, exist_ok=True)
    records, texts = data.records, data.texts
    results = {"data": data_record(choice, data, usable, left_out)}
    predictions, predicted = [{"text": t} for t in texts], {}
    # A stance model trained with its speaker (speaker_input) reads the rule attributor's, as
    # src.predict gives it in a run without a tagger.
    speakers = [(data.rule_readings[p].speaker, data.rule_readings[p].camp)
                if p in data.rule_readings else (a.speaker, a.camp)
                for p, a in enumerate(data.attributions)]
    # What each text takes its stance on, where the data names it (data.target_column).
    targets = [r["target"] for r in records] if records and "target" in records[0] else None
    for task, (model, neutral) in usable.items():
        labels = model.labels
        y_true = gold_labels(records, task, labels, data.test_name)
        if model.reads_target and targets is None:
            raise DataError(f"{data.test_name}: the {task} model reads a target with each text "
                            "and the test split names none; set data.target_column=COLUMN")
        with progress_bar(len(texts), f"{task}: test split") as bar:
            probabilities = model.probabilities(texts, progress=bar.update, speakers=speakers,
                                                targets=targets)
        y_pred = predicted[task] = probabilities.argmax(axis=1)
        task_result = {
            "model": summarise(labels, neutral, y_true, y_pred, probabilities,
                               cfg.bootstrap_resamples, cfg.seed),
            "per_class": per_class(labels, y_true, y_pred),
            "slices": {name: {"n": int(mask.sum()),
                              **classification_metrics(labels, y_true[mask], y_pred[mask],
                                                       neutral)}
                       for name, mask in data.slices.items() if mask.any()},
        }
        baselines = data.baselines(task, labels, model.normalizer)
        task_result["baselines"] = {
            name: {**summarise(labels, neutral, y_true, predicted, None,
                               cfg.bootstrap_resamples, cfg.seed),
                   "model_vs_baseline": paired_difference(y_true, y_pred, predicted, len(labels),
                                                          cfg.bootstrap_resamples, cfg.seed)}
            for name, predicted in baselines.items()
        }
        if targets is not None and task == "stance":
            from src.evaluation.targets import target_scores

            task_result["targets"] = target_scores(
                [labels[i] for i in y_true], [labels[i] for i in y_pred], targets, labels,
                neutral)
        # The perturbed statements would need their targets carried along; a model that
        # reads one is not put through them.
        task_result["behaviour"] = ({} if model.reads_target else
                                    behaviour_tests(task, model, texts, y_pred,
                                                    data.attributions, cfg.seed))
        results[task] = task_result
        for row, gold, guess, scores in zip(predictions, y_true, y_pred, probabilities,
                                            strict=True):
            row[f"{task}_gold"] = labels[gold]
            row[f"{task}_predicted"] = labels[guess]
            row[f"{task}_scores"] = {label: round(float(p), 4)
                                     for label, p in zip(labels, scores, strict=True)}
        plot_confusion(labels, y_true, y_pred, out / f"confusion_{task}.png", task)
        plot_reliability(probabilities, y_true, task_result["model"]["ece"],
                         out / f"reliability_{task}.png", task)
    if data.articles:
        results["speakers"] = speakers_section(
            cfg, run_dir, data, {task: model for task, (model, _) in usable.items()},
            predicted, predictions)
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    write_jsonl(out / "predictions.jsonl", predictions)
    (out / "report.md").write_text(report(results, cfg, run_dir))
    return results


def speakers_section(cfg: DictConfig, run_dir: Path, data: EvaluationData, models: dict,
                     predicted: dict, predictions: list[dict]) -> dict:
    """Speakers and the stance they decide on the real articles; each real row of
    ``predictions`` gains every source's reading."""
    from src.evaluation.speakers import evaluate_speakers, read_articles
    from src.inference.clutter import clutter_of
    from src.inference.speakers import Speakers, decide, tagger_of

    readings = {"rules": data.rule_readings}
    sources = {"rules": "the rule attributor's spans"}
    tagger = tagger_of(run_dir)
    if tagger is not None:
        readings["tagger"] = read_articles(Speakers(data.actors, tagger), data.texts,
                                           data.articles)
        sources["tagger"] = str(tagger.folder)
    clutter = clutter_of(run_dir)
    if clutter is not None:
        # Beside each source, not instead of it: what the detector adds is measured.
        spans_of = {"rules": None, "tagger": tagger}
        for source in list(readings):
            readings[f"{source} + clutter"] = read_articles(
                Speakers(data.actors, spans_of[source], clutter=clutter), data.texts,
                data.articles)
        sources["clutter"] = f"the statements that {clutter.folder} flags have no speaker"
    labels = models["stance"].labels if "stance" in models else list(STANCES)
    actor_rule = data.actor_rule(labels)
    model = predicted.get("stance")
    result = evaluate_speakers(data.actors, data.records, data.articles, labels, model,
                               actor_rule, readings, data.gold_readings,
                               cfg.bootstrap_resamples, cfg.seed, paired_difference)
    for source, by_position in readings.items():
        for position, reading in by_position.items():
            stance, decided_by = decide(reading.camp,
                                        None if model is None else labels[model[position]],
                                        clutter=reading.clutter)
            predictions[position][f"speaker_{source}"] = {
                "speaker": reading.speaker, "actor": reading.actor, "camp": reading.camp,
                "resolution": reading.resolution, "clutter": reading.clutter,
                "stance": stance, "stance_source": decided_by}
    return {**result, "sources": sources}


def behaviour_tests(task: str, model, texts: list[str], predicted: np.ndarray, attributions,
                    seed: int) -> dict:
    from src.evaluation.behaviour import NEGATION_PAIRS, invariance, negation, speaker_swap

    # How many variants the tests score is known only as they go: a bar without a total.
    with progress_bar(None, f"{task}: behavioural tests") as bar:

        def predict(batch: list[str]) -> np.ndarray:
            return model.probabilities(batch, progress=bar.update).argmax(axis=1)

        tests = {f"invariance: {name}": result
                 for name, result in invariance(predict, texts, seed, predicted).items()}
        # Both expect the project's labels: a camp, a polarity.
        if task == "stance" and set(model.labels) == set(STANCES):
            tests["directional: speaker of another camp"] = speaker_swap(
                predict, model.labels, texts, attributions)
        if (task == "sentiment" and set(model.labels) == set(SENTIMENTS)
                and NEGATION_PAIRS.exists()):
            tests["directional: negation flips polarity"] = negation(predict, model.labels)
    return tests


def plot_confusion(labels, y_true, y_pred, path: Path, task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    display = ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=list(range(len(labels))), display_labels=labels,
        cmap="Blues", colorbar=False)
    display.ax_.set_title(f"{task}: confusion on the test file")
    display.figure_.tight_layout()
    display.figure_.savefig(path, dpi=120)
    plt.close(display.figure_)


def plot_reliability(probabilities, y_true, ece: float, path: Path, task: str,
                     bins: int = 10) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, correct, index = calibration_bins(probabilities, y_true, bins)
    accuracy = [correct[index == b].mean() if (index == b).any() else 0 for b in range(bins)]
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    axis.bar(np.arange(bins) / bins, accuracy, width=1 / bins, align="edge", edgecolor="black",
             label="accuracy")
    axis.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    axis.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1),
             title=f"{task}: reliability (ECE {ece:.3f})")
    axis.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _f(value: float) -> str:
    return f"{value:.3f}"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def data_lines(data: dict) -> list[str]:
    """The report's table of the data scored on and where each part came from."""
    train = data["train"]
    sources = f"; sources {', '.join(train['sources'])}" if train.get("sources") else ""
    rows = [("test split", test_split(data, with_origin=False), data["test"]["from"]),
            ("baselines fitted on",
             f"`{train['file']}`, {train['statements']} statements{sources}", train["from"]),
            ("text column", f"`{data['text_column']['column']}`", data["text_column"]["from"])]
    for task, labels in data["labels"].items():
        mapping = ", ".join(f"{raw} → {label}" for raw, label in labels["values"].items())
        rows.append((f"{task} labels", f"column `{labels['column']}`: "
                     + (mapping or "values as they are"), labels["from"]))
    for task, neutral in data["neutral_labels"].items():
        rows.append((f"{task} neutral labels (left out of polar macro-F1)",
                     ", ".join(neutral["labels"]) or "— (every label is polar)",
                     neutral["from"]))
    if "target_column" in data:
        rows.append(("target column (what each stance is towards)",
                     f"`{data['target_column']['column']}`", data["target_column"]["from"]))
    if "max_samples" in data:
        rows.append(("sample", f"a random {data['max_samples']['rows']} rows of each split",
                     data["max_samples"]["from"]))
    rows += [(f"{task} not evaluated", reason, "") for task, reason in data["left_out"].items()]
    return ["| data | value | from |", "| --- | --- | --- |",
            *(f"| {what} | {_cell(value)} | {_cell(origin)} |" for what, value, origin in rows)]


def report(results: dict, cfg: DictConfig, run_dir: Path) -> str:
    lines = [f"# Evaluation of {run_dir}", "", *data_lines(results["data"]), "",
             f"Backend: {cfg.backend}. Intervals: 95 % percentile bootstrap, "
             f"{cfg.bootstrap_resamples} resamples, seed {cfg.seed}.", ""]
    for task, result in results.items():
        if task not in TASKS:
            continue
        lines += [f"## {task}", "", "| system | macro-F1 [95 % CI] | accuracy | polar macro-F1 |"
                  " weighted-F1 | ECE |", "| --- | --- | --- | --- | --- | --- |"]
        rows = [("model", result["model"]), *result["baselines"].items()]
        for name, m in rows:
            low, high = m["macro_f1_ci95"]
            lines.append(f"| {name} | {_f(m['macro_f1'])} [{_f(low)}, {_f(high)}] | "
                         f"{_f(m['accuracy'])} | {_f(m.get('polar_macro_f1', float('nan')))} | "
                         f"{_f(m['weighted_f1'])} | {_f(m['ece']) if 'ece' in m else '—'} |")
        lines.append("")
        for name, m in result["baselines"].items():
            versus = m["model_vs_baseline"]
            low, high = versus["ci95"]
            verdict = ("beats it beyond the interval" if versus["beats"] else
                       "is worse beyond the interval" if high < 0 else
                       "does not differ from it beyond the interval")
            lines.append(f"- against {name}: macro-F1 difference {versus['difference']:+.3f} "
                         f"[{low:+.3f}, {high:+.3f}]: the model {verdict}.")
        lines += ["", "| class | precision | recall | F1 | support |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {label} | {_f(c['precision'])} | {_f(c['recall'])} | {_f(c['f1'])} | "
                  f"{c['support']} |" for label, c in result["per_class"].items()]
        if "targets" in result:
            from src.evaluation.targets import target_table

            lines += ["", "Per target (StanceEval 2024's score: the Favor/Against F1 average of "
                      "each target, averaged over the targets):", "",
                      target_table(result["targets"])]
        lines += ["", "| slice | n | macro-F1 | accuracy |", "| --- | --- | --- | --- |"]
        lines += [f"| {name} | {s['n']} | {_f(s['macro_f1'])} | {_f(s['accuracy'])} |"
                  for name, s in result["slices"].items()]
        lines += ["", "| behavioural test | statements | failures | failure rate |",
                  "| --- | --- | --- | --- |"]
        lines += [f"| {name} | {b['n']} | {b['failures']} | {_rate(b['failure_rate'])} |"
                  for name, b in result["behaviour"].items()]
        lines += ["", f"![confusion](confusion_{task}.png) ![reliability](reliability_{task}.png)",
                  ""]
    if "speakers" in results:
        from src.evaluation.speakers import report_lines

        sources = results["speakers"]["sources"]
        lines += report_lines(results["speakers"], "Speaker sources: " + "; ".join(
            f"{name} ({where})" for name, where in sources.items()) + ".")
    return "\n".join(lines)
