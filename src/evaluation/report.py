"""The evaluation of a run on the test split, and its report (``python -m src.evaluate``).

Writes into its output folder: ``metrics.json``, ``report.md``, ``predictions.jsonl``, and per
task a confusion matrix and a reliability diagram (PNG). Macro-F1 comes with a 95 % bootstrap
interval, and the model is compared with a majority-class baseline, the actor-list rule (stance)
and TF-IDF + logistic regression, by paired bootstrap on the same test items. The test and train
splits are those of the ``data`` config group, read by the loader training uses
(``src.data.loading.load_splits``). When the test split has real articles, a ``speakers``
section scores who speaks each statement (the rule attributor, and the run's speaker tagger when
it has one) and the stance their camps decide (``src.evaluation.speakers``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import DictConfig, OmegaConf
from sklearn.metrics import f1_score

from src.core.errors import ModelError
from src.data.io import DataError, write_jsonl
from src.data.schema import STANCES, TASKS
from src.evaluation.metrics import (
    bootstrap_interval,
    bootstrap_values,
    calibration_bins,
    classification_metrics,
    expected_calibration_error,
    macro_f1_from_counts,
    per_class,
)
from src.evaluation.multirun import HEADLINE, mean_std
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


def summarise(labels, y_true, y_pred, probabilities, resamples: int, seed: int) -> dict:
    summary = classification_metrics(labels, y_true, y_pred)
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


def evaluate(cfg: DictConfig) -> dict:
    """Evaluate a run (default: the newest), or every run of a multirun folder and their
    mean ± std."""
    if cfg.backend not in BACKENDS:
        raise ModelError(f"backend={cfg.backend}: expected one of {', '.join(BACKENDS)}")
    out = Path(cfg.paths.output_dir)
    run_dir = chosen_run(cfg.run_dir)
    # Read once the first run's models load (a wrong run folder is reported first), then shared.
    data = cache(partial(EvaluationData.read, cfg))
    runs = runs_in(run_dir)
    if not runs:
        return evaluate_run(cfg, run_dir, out, data)
    per_run = {run.name: evaluate_run(cfg, run, out / run.name, data) for run in runs}
    summary = {}
    for task in (task for task in TASKS if task in next(iter(per_run.values()))):
        summary[task] = {}
        for name in HEADLINE:
            values = np.array([r[task]["model"][name] for r in per_run.values()
                               if name in r[task]["model"]])
            if len(values):
                summary[task][name] = mean_std(values)
    results = {"runs": list(per_run), "mean_std": summary}
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"# Evaluation of {len(runs)} runs in {run_dir}", "",
             f"Each run's report is in its own folder ({', '.join(per_run)}). Mean ± sample "
             "standard deviation across the runs:", ""]
    for task, metrics in summary.items():
        lines += [f"## {task}", "", "| metric | mean ± std |", "| --- | --- |"]
        lines += [f"| {name} | {m['mean']:.3f} ± {m['std']:.3f} |" for name, m in metrics.items()]
        lines.append("")
    (out / "report.md").write_text("\n".join(lines))
    return results


def split_names(files) -> tuple[str, str]:
    """How the report names the test split and the train split of the data config's files."""
    train = f"`{files['train']}`"
    return (f"`{files['test']}`" if files.get("test") else f"the test split cut from {train}",
            train)


def labelled_records(split, tasks: tuple[str, ...]) -> list[dict]:
    """The rows of a split, with each task's label as its name rather than its class index."""
    names = {task: split.features[task] for task in tasks}
    records = split.to_list()
    for record in records:
        for task, feature in names.items():
            record[task] = feature.int2str(record[task])
    return records


@dataclass
class EvaluationData:
    """The test split, the train split the baselines learn from, and what follows from them
    alone, shared by every run of a multirun folder: each baseline is fitted once."""

    cfg: DictConfig
    test_name: str
    train_name: str
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
    _baselines: dict[tuple, dict[str, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def read(cls, cfg: DictConfig, tasks: tuple[str, ...]) -> EvaluationData:
        """The splits of ``cfg.data`` labelled for ``tasks``, the tasks of the models scored:
        a test file of one's own needs only their label columns."""
        from hydra.utils import instantiate

        from src.evaluation.speakers import gold_readings, read_articles, real_articles
        from src.inference.speakers import Speakers
        from src.text.attribution import ActorList

        params = OmegaConf.to_container(cfg.data, resolve=True)
        columns = params.get("label_columns") or {task: task for task in tasks}
        for task in tasks:
            if task not in columns:
                raise DataError(f"data.label_columns has no {task}, and the run has a {task} "
                                f"model to score (set data.label_columns.{task}=COLUMN)")
        params["label_columns"] = {task: columns[task] for task in tasks}
        splits = instantiate(params, _convert_="all")
        records = labelled_records(splits["test"], tasks)
        train = labelled_records(splits["train"], tasks)
        texts = [r["text"] for r in records]
        actors = ActorList.load()
        attributions = attribute_in_context(texts, records, actors)
        speakers = [r.get("speaker", a.speaker) for r, a in zip(records, attributions, strict=True)]
        articles = real_articles(records)
        return cls(cfg, *split_names(params["files"]), records, texts, train, attributions,
                   slices_of(records, speakers), actors, articles,
                   read_articles(Speakers(actors), texts, articles),
                   gold_readings(actors, records, articles))

    def baselines(self, task: str, labels: list[str], normalizer) -> dict[str, np.ndarray]:
        """Each baseline's predictions on the test statements."""
        key = (task, tuple(labels), normalizer)
        if key not in self._baselines:
            from src.models.tfidf import TfidfLogReg

            train_gold = gold_labels(self.train, task, labels, self.train_name)
            baselines = {"majority": np.full(len(self.texts), np.bincount(train_gold).argmax())}
            tfidf = TfidfLogReg().pipeline(self.cfg.seed, balanced=False)
            tfidf.fit([normalizer(r["text"]) for r in self.train], train_gold)
            baselines["tfidf"] = tfidf.predict([normalizer(t) for t in self.texts])
            if task == "stance":
                baselines["actor rule"] = np.array([labels.index(a.camp or "none")
                                                    for a in self.attributions])
            self._baselines[key] = baselines
        return self._baselines[key]


def evaluate_run(cfg: DictConfig, run_dir: Path, out: Path,
                 test_data: Callable[[tuple[str, ...]], EvaluationData]) -> dict:
    from src.inference.loading import load_models

    out.mkdir(parents=True, exist_ok=True)
    models, _ = load_models(run_dir, backend=cfg.backend)
    data = test_data(tuple(models))
    records, texts = data.records, data.texts
    results, predictions = {}, [{"text": t} for t in texts]
    predicted = {}
    # A stance model trained with its speaker (speaker_input) reads the rule attributor's, as
    # src.predict gives it in a run without a tagger.
    speakers = [(data.rule_readings[p].speaker, data.rule_readings[p].camp)
                if p in data.rule_readings else (a.speaker, a.camp)
                for p, a in enumerate(data.attributions)]
    for task, model in models.items():
        labels = model.labels
        y_true = gold_labels(records, task, labels, data.test_name)
        with progress_bar(len(texts), f"{task}: test split") as bar:
            probabilities = model.probabilities(texts, progress=bar.update, speakers=speakers)
        y_pred = predicted[task] = probabilities.argmax(axis=1)
        task_result = {
            "model": summarise(labels, y_true, y_pred, probabilities,
                               cfg.bootstrap_resamples, cfg.seed),
            "per_class": per_class(labels, y_true, y_pred),
            "slices": {name: {"n": int(mask.sum()),
                              **classification_metrics(labels, y_true[mask], y_pred[mask])}
                       for name, mask in data.slices.items() if mask.any()},
        }
        baselines = data.baselines(task, labels, model.normalizer)
        task_result["baselines"] = {
            name: {**summarise(labels, y_true, predicted, None, cfg.bootstrap_resamples,
                               cfg.seed),
                   "model_vs_baseline": paired_difference(y_true, y_pred, predicted, len(labels),
                                                          cfg.bootstrap_resamples, cfg.seed)}
            for name, predicted in baselines.items()
        }
        task_result["behaviour"] = behaviour_tests(task, model, texts, y_pred,
                                                   data.attributions, cfg.seed)
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
        results["speakers"] = speakers_section(cfg, run_dir, data, models, predicted,
                                               predictions)
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    write_jsonl(out / "predictions.jsonl", predictions)
    (out / "report.md").write_text(report(results, cfg, run_dir, data))
    return results


def speakers_section(cfg: DictConfig, run_dir: Path, data: EvaluationData, models: dict,
                     predicted: dict, predictions: list[dict]) -> dict:
    """Speakers and the stance they decide on the real articles; each real row of
    ``predictions`` gains every source's reading."""
    from src.evaluation.speakers import evaluate_speakers, read_articles
    from src.inference.speakers import Speakers, decide, tagger_of

    readings = {"rules": data.rule_readings}
    sources = {"rules": "the rule attributor's spans"}
    tagger = tagger_of(run_dir)
    if tagger is not None:
        readings["tagger"] = read_articles(Speakers(data.actors, tagger), data.texts,
                                           data.articles)
        sources["tagger"] = str(tagger.folder)
    labels = models["stance"].labels if "stance" in models else list(STANCES)
    actor_rule = np.array([labels.index(a.camp or "none") for a in data.attributions])
    model = predicted.get("stance")
    result = evaluate_speakers(data.actors, data.records, data.articles, labels, model,
                               actor_rule, readings, data.gold_readings,
                               cfg.bootstrap_resamples, cfg.seed, paired_difference)
    for source, by_position in readings.items():
        for position, reading in by_position.items():
            stance, decided_by = decide(reading.camp,
                                        None if model is None else labels[model[position]])
            predictions[position][f"speaker_{source}"] = {
                "speaker": reading.speaker, "actor": reading.actor, "camp": reading.camp,
                "resolution": reading.resolution, "stance": stance,
                "stance_source": decided_by}
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
        if task == "stance":
            tests["directional: speaker of another camp"] = speaker_swap(
                predict, model.labels, texts, attributions)
        if task == "sentiment" and NEGATION_PAIRS.exists():
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


def report(results: dict, cfg: DictConfig, run_dir: Path, data: EvaluationData) -> str:
    lines = [f"# Evaluation of {run_dir}", "",
             f"Test: {data.test_name} ({len(data.records)} statements). Baselines learn from "
             f"{data.train_name}. Backend: {cfg.backend}. Intervals: 95 % percentile bootstrap, "
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
