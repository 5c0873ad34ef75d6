"""After a multirun, mean ± std of every metric across the seeds of each configuration."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from src.models.fitting import METRICS_FILE

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"


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
    for metrics_file in sorted(sweep_dir.glob(f"*/{METRICS_FILE}")):
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
