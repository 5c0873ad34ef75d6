"""Fine-tune the stance and sentiment classifiers and the speaker tagger:
``python -m src.train [overrides]``.

``train(cfg)`` does the work and returns the metrics, so tests and notebooks call it with a
composed config; ``main`` is the command-line wrapper.
"""

from __future__ import annotations

import json
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from src.core.config import CONFIG_DIR
from src.core.errors import reported
from src.data.io import DataError
from src.models.fitting import METRICS_FILE, FitContext
from src.models.speaker_input import SpeakerInput
from src.models.speaker_tagger import (
    SPEAKER_TASK,
    annotated_splits,
    check_can_tag,
    fit_speaker_tagger,
)

CLASSIFIED = ("stance", "sentiment")
TASKS = {"both": CLASSIFIED, "all": (*CLASSIFIED, SPEAKER_TASK), "stance": ("stance",),
         "sentiment": ("sentiment",), SPEAKER_TASK: (SPEAKER_TASK,)}
# Each task's dev score that the command line prints and a sweeper optimises.
HEADLINES = {SPEAKER_TASK: ("speaker_exact_f1", "speaker exact-F1")}
CLASSIFIER_HEADLINE = ("macro_f1", "macro-F1")


def tasks_of(cfg: DictConfig, available: list[str]) -> tuple[str, ...]:
    """The tasks to fit, given the label columns the data has: ``both`` and ``all`` take
    whichever of stance and sentiment it has. The speaker task's columns are checked apart, by
    :func:`annotated_splits`."""
    if cfg.task not in TASKS:
        raise DataError(f"task={cfg.task}: expected one of {', '.join(TASKS)}")
    wanted = TASKS[cfg.task]
    if cfg.task in ("both", "all"):
        wanted = tuple(t for t in wanted if t in available or t == SPEAKER_TASK)
    missing = [task for task in wanted if task not in available and task != SPEAKER_TASK]
    if missing or not wanted:
        raise DataError(f"the data has no {', '.join(missing) or 'label'} column "
                        f"(it has {', '.join(available) or 'none'}); set task= or "
                        "data.label_columns")
    return wanted


def is_main_process() -> bool:
    """False in all but one of the processes of a torchrun job, which each run ``train``."""
    # Imported here: accelerate imports torch, seconds that a run stopped by a config or data
    # error should not spend before saying so.
    from accelerate import PartialState

    return PartialState().is_main_process


def train(cfg: DictConfig) -> dict:
    """Fit one model per task into ``cfg.paths.output_dir``; return ``{task: {split: metrics}}``.

    Each task's folder is a complete model export; ``metrics.json`` beside them holds all
    tasks. With ``resume=true`` a finished task is kept and an unfinished one continues from
    its last checkpoint.
    """
    run_dir = Path(cfg.paths.output_dir)
    data = instantiate(cfg.data, _convert_="all")
    normalizer = instantiate(cfg.normalization)
    recipe = instantiate(cfg.model)
    try:
        speaker_input = SpeakerInput.named(cfg.get("speaker_input"))
    except ValueError as err:
        raise DataError(str(err)) from None
    tasks = tasks_of(cfg, [t for t in CLASSIFIED if t in data["train"].column_names])
    data_of = dict.fromkeys(tasks, data)
    if SPEAKER_TASK in tasks:
        # Before any task trains: task=all should not fail once the classifiers are done.
        check_can_tag(recipe, cfg.model._target_)
        data_of[SPEAKER_TASK] = annotated_splits(data, cfg.data.get("files"))
    metrics = {}
    for task in tasks:
        done = run_dir / task / METRICS_FILE
        if cfg.resume and done.is_file():
            metrics[task] = json.loads(done.read_text())
            continue
        ctx = FitContext(task=task, data=data_of[task], normalizer=normalizer,
                         trainer=cfg.trainer, seed=cfg.seed, output_dir=run_dir / task,
                         checkpoint_dir=run_dir / "checkpoints" / task, resume=cfg.resume,
                         speaker_input=speaker_input if task == "stance" else SpeakerInput())
        metrics[task] = (fit_speaker_tagger(recipe, ctx) if task == SPEAKER_TASK
                         else recipe.fit(ctx))
    if is_main_process():
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
        OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    return metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@reported(exits=True)
def main(cfg: DictConfig) -> float | None:
    metrics = train(cfg)
    if not is_main_process():
        return None
    for task, splits in metrics.items():
        key, title = HEADLINES.get(task, CLASSIFIER_HEADLINE)
        print(f"{task:<10}" + "  ".join(f"{split} {title} {values[key]:.4f}"
                                        for split, values in splits.items()))
    print(f"outputs: {cfg.paths.output_dir}")
    # Hydra sweepers (e.g. Optuna) optimise the returned value.
    return sum(splits["dev"][HEADLINES.get(task, CLASSIFIER_HEADLINE)[0]]
               for task, splits in metrics.items()) / len(metrics)


if __name__ == "__main__":
    main()
