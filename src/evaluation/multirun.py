"""After a multirun: of training, mean ± std of every metric across the seeds of each
configuration; of evaluation, each job's test split and a table of its headline metrics per
task."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from src.models.layout import METRICS

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
# The evaluation's headline metrics of a model, in report order.
HEADLINE = ("macro_f1", "accuracy", "polar_macro_f1", "weighted_f1", "ece")


def _flatten(metrics: dict, prefix: str = "") -> dict[str, float]:
    flat = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}/"))
        else:
            flat[name] = float(value)
    return flat


def mean_std(values: np.ndarray) -> dict[str, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return {"mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}


def summarise(sweep_dir: Path) -> dict[str, Any]:
    """Group the sweep's jobs by their overrides other than ``seed``; per group, the mean and
    sample standard deviation of each metric, and the seeds it covers."""
    groups: dict[str, list[tuple[str, dict[str, float]]]] = defaultdict(list)
    for metrics_file in sorted(sweep_dir.glob(f"*/{METRICS}")):
        overrides_file = metrics_file.parent / ".hydra" / "overrides.yaml"
        overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.exists() else []
        seed = next((o.split("=", 1)[1] for o in overrides if o.startswith("seed=")), "default")
        key = " ".join(o for o in overrides if not o.startswith("seed=")) or "(defaults)"
        groups[key].append((seed, _flatten(json.loads(metrics_file.read_text()))))
    summary = {}
    for key, runs in groups.items():
        names = sorted(set.intersection(*(set(flat) for _, flat in runs)))
        summary[key] = {
            "seeds": [seed for seed, _ in runs],
            "metrics": {name: mean_std(np.array([flat[name] for _, flat in runs]))
                        for name in names},
        }
    return summary


def to_markdown(summary: dict[str, Any]) -> str:
    lines = []
    for key, group in summary.items():
        lines += [f"## {key}", "", f"seeds: {', '.join(group['seeds'])}", "",
                  "| metric | mean ± std |", "| --- | --- |"]
        lines += [f"| {name} | {m['mean']:.4f} ± {m['std']:.4f} |"
                  for name, m in group["metrics"].items() if name.endswith("f1")
                  or name.endswith("accuracy")]
        lines.append("")
    return "\n".join(lines)


class SeedSummary(Callback):
    """Hydra callback: writes summary.json and summary.md into the multirun folder."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        summary = summarise(sweep_dir)
        if not summary:
            return
        (sweep_dir / SUMMARY_JSON).write_text(json.dumps(summary, indent=2) + "\n")
        (sweep_dir / SUMMARY_MD).write_text(to_markdown(summary))
        print(to_markdown(summary))


def test_split(data: dict, with_origin: bool = True) -> str:
    """The test split that an evaluation's ``data`` record names, in words."""
    test = data["test"]
    where = f"`{test['file']}`" if test["file"] else f"cut from `{test['cut_from']}`"
    return f"{where}, {test['statements']} statements" + (f", from {test['from']}"
                                                          if with_origin else "")


def _job_order(folder: Path) -> tuple[int, str]:
    return len(folder.name), folder.name


def headline_of(metrics: dict) -> dict[str, dict]:
    """Per task, the headline metrics of an evaluation's metrics.json: the model's values, or
    their mean ± std when it evaluated a folder of runs."""
    if "mean_std" in metrics:
        return metrics["mean_std"]
    return {task: {name: result["model"][name] for name in HEADLINE if name in result["model"]}
            for task, result in metrics.items()
            if isinstance(result, dict) and "model" in result}


def tests_of(metrics: dict) -> list[str]:
    """The test splits an evaluation's metrics.json names: one, or one per run of a folder of
    runs (the same, for runs trained on the same data)."""
    data = metrics.get("data") or {}
    records = list(data.values()) if "mean_std" in metrics else [data] if data else []
    return list(dict.fromkeys(test_split(record) for record in records))


def evaluation_summary(sweep_dir: Path) -> dict[str, Any]:
    """Every job of an evaluation sweep: its overrides, the ones that tell it from the other
    jobs (its label), its report, its test split and its headline metrics per task."""
    jobs = []
    for folder in sorted((p.parent for p in sweep_dir.glob(f"*/{METRICS}")), key=_job_order):
        overrides_file = folder / ".hydra" / "overrides.yaml"
        overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.exists() else []
        metrics = json.loads((folder / METRICS).read_text())
        jobs.append({"job": folder.name, "overrides": overrides or [],
                     "report": f"{folder.name}/report.md", "test": tests_of(metrics),
                     "headline": headline_of(metrics)})
    shared = set.intersection(*(set(job["overrides"]) for job in jobs)) if len(jobs) > 1 else set()
    for job in jobs:
        job["label"] = " ".join(o for o in job["overrides"] if o not in shared) or job["job"]
    return {"jobs": jobs}


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return f"{value['mean']:.3f} ± {value['std']:.3f}"
    return f"{value:.3f}"


def evaluation_markdown(summary: dict[str, Any]) -> str:
    jobs = summary["jobs"]
    lines = [f"# Evaluation of {len(jobs)} jobs", "",
             "Headline metrics of each job's models on its test split; the full reports are in "
             "the jobs' folders.", ""]
    lines += [f"- [{job['label']}]({job['report']}): test split {'; '.join(job['test'])}"
              for job in jobs if job["test"]]
    lines.append("")
    tasks = dict.fromkeys(task for job in jobs for task in job["headline"])
    for task in tasks:
        names = [name for name in HEADLINE
                 if any(name in job["headline"].get(task, {}) for job in jobs)]
        lines += [f"## {task}", "", "| job | " + " | ".join(names) + " |",
                  "| --- |" + " --- |" * len(names)]
        for job in jobs:
            if task in job["headline"]:
                metrics = job["headline"][task]
                lines.append(f"| [{job['label']}]({job['report']}) | "
                             + " | ".join(_cell(metrics.get(name)) for name in names) + " |")
        lines.append("")
    return "\n".join(lines)


class EvaluationSummary(Callback):
    """Hydra callback of evaluation sweeps: writes summary.json and summary.md into the
    multirun folder."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        summary = evaluation_summary(sweep_dir)
        if not summary["jobs"]:
            return
        markdown = evaluation_markdown(summary)
        (sweep_dir / SUMMARY_JSON).write_text(json.dumps(summary, indent=2) + "\n")
        (sweep_dir / SUMMARY_MD).write_text(markdown)
        print(f"summary: {sweep_dir / SUMMARY_MD}")
