"""Fine-tune the stance and sentiment classifiers and the speaker tagger:
``python -m src.train [overrides]``.

``train(cfg)`` does the work and returns the metrics, so tests and notebooks call it with a
composed config; ``main`` is the command-line wrapper.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from src.core.config import CONFIG_DIR
from src.core.errors import ModelError, reported
from src.data.io import DataError
from src.inference.clutter import CLUTTER_TASK
from src.models.clutter import fit_clutter
from src.models.fitting import METRICS_FILE, FitContext
from src.models.layout import RUN_CONFIG
from src.models.recipe import BertRecipe, check_training_args
from src.models.speaker_input import SpeakerInput
from src.models.speaker_tagger import (
    SPEAKER_TASK,
    annotated_splits,
    check_can_tag,
    fit_speaker_tagger,
)

CLASSIFIED = ("stance", "sentiment")
# The tasks that learn from the real articles' annotation rather than a label column.
ARTICLE_TASKS = (SPEAKER_TASK, CLUTTER_TASK)
# "all" is what any labelled data trains; the clutter detector needs whole real articles with
# their clutter marked, so it is asked for by name (task=clutter, resume=true adds it to a run).
TASKS = {"both": CLASSIFIED, "all": (*CLASSIFIED, SPEAKER_TASK), "stance": ("stance",),
         "sentiment": ("sentiment",), SPEAKER_TASK: (SPEAKER_TASK,),
         CLUTTER_TASK: (CLUTTER_TASK,)}
# Each task's dev score that the command line prints and a sweeper optimises.
HEADLINES = {SPEAKER_TASK: ("speaker_exact_f1", "speaker exact-F1"),
             CLUTTER_TASK: ("clutter_f1", "clutter F1")}
CLASSIFIER_HEADLINE = ("macro_f1", "macro-F1")
SPLITS = ("dev", "test")
LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
# Hydra writes its record of the job into the run folder before the run starts, and its
# default job logging (hydra/job_logging=default, before configs/train.yaml chose the console
# only) opens train.log there: neither means the folder is in use.
HYDRA_FILES = (".hydra", "train.log")
# What a resumed run must share with the run it continues: what its models learn from.
RUN_DEFINING = ("seed", "data", "model", "normalization", "speaker_input")
# How many names a message lists before it says how many more there are.
SHOWN = 5

# configs/train.yaml names the folder of Hydra's record of the job with it: a resumed job's
# record goes beside the first run's, which Hydra would otherwise overwrite.
if not OmegaConf.has_resolver("record_subdir"):
    OmegaConf.register_new_resolver(
        "record_subdir", lambda resume, time: f".hydra/resumed/{time}" if resume else ".hydra")


def tasks_of(cfg: DictConfig, available: list[str]) -> tuple[str, ...]:
    """The tasks to fit, given the label columns the data has: ``both`` and ``all`` take
    whichever of stance and sentiment it has. The columns of the speaker and clutter tasks are
    checked apart, by :func:`annotated_splits`."""
    if cfg.task not in TASKS:
        raise DataError(f"task={cfg.task}: expected one of {', '.join(TASKS)}")
    wanted = TASKS[cfg.task]
    if cfg.task in ("both", "all"):
        wanted = tuple(t for t in wanted if t in available or t in ARTICLE_TASKS)
    missing = [task for task in wanted if task not in available and task not in ARTICLE_TASKS]
    if missing or not wanted:
        raise DataError(f"the data has no {', '.join(missing) or 'label'} column "
                        f"(it has {', '.join(available) or 'none'}); set task= or "
                        "data.label_columns")
    return wanted


def log_level_of(cfg: DictConfig) -> str:
    """``cfg.log_level``, or debug under ``hydra.verbose=true``."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized() and HydraConfig.get().verbose:
        return "debug"
    level = cfg.get("log_level", "warning")
    if level not in LOG_LEVELS:
        raise DataError(f"log_level={level}: expected one of {', '.join(LOG_LEVELS)}")
    return level


def set_log_level(level: str) -> None:
    """Make datasets and transformers as talkative as ``level`` asks. Below info they report
    only errors and show no bars: what they say at warning during a run is expected (the load
    report of a freshly initialised head) and their bars (splits generated, columns cast, model
    shards written) would bury the training's own."""
    import datasets
    from transformers.utils import logging as transformers_logging

    detailed = LOG_LEVELS[level] <= logging.INFO
    verbosity = LOG_LEVELS[level] if detailed else logging.ERROR
    transformers_logging.set_verbosity(verbosity)
    datasets.logging.set_verbosity(verbosity)
    if detailed:
        transformers_logging.enable_progress_bar()
    else:
        transformers_logging.disable_progress_bar()
    # HF_DATASETS_DISABLE_PROGRESS_BARS, when set, decides (datasets warns if overruled).
    if datasets.config.HF_DATASETS_DISABLE_PROGRESS_BARS is None:
        if detailed:
            datasets.enable_progress_bars()
        else:
            datasets.disable_progress_bars()


def listed(names: Sequence[str]) -> str:
    more = len(names) - SHOWN
    return ", ".join(names[:SHOWN]) + (f" and {more} more" if more > 0 else "")


def check_unused(run_dir: Path) -> None:
    """Refuse to train into a folder that holds anything but Hydra's files: a second run there
    would leave its models beside the first's, and its metrics and config over them."""
    found = sorted(path.name for path in run_dir.iterdir()
                   if path.name not in HYDRA_FILES) if run_dir.is_dir() else []
    if found:
        raise ModelError(f"{run_dir}: not empty ({listed(found)}); train into a new folder, or "
                         "add resume=true to continue the run there")


def saved_config(run_dir: Path) -> DictConfig:
    """The configuration the run in ``run_dir`` saved when it started."""
    path = run_dir / RUN_CONFIG
    if not path.is_file():
        raise ModelError(f"{path}: no such file; resume=true continues the run in that folder "
                         "(hydra.run.dir=<run>) with the configuration it saved there")
    return OmegaConf.load(path)


def leaves(value, key: str) -> dict:
    """Each value of a nested config by its dotted key."""
    if isinstance(value, dict) and value:
        return {leaf: found for name, item in value.items()
                for leaf, found in leaves(item, f"{key}.{name}").items()}
    return {key: value}


def check_resumable(cfg: DictConfig, saved: DictConfig, path: Path) -> None:
    """Refuse to resume with another model, data or seed than the run's: its checkpoints and
    finished tasks were trained with those it saved in ``path``."""
    given, recorded = (OmegaConf.to_container(config, resolve=True) for config in (cfg, saved))
    differ = []
    for section in RUN_DEFINING:
        now, then = leaves(given.get(section), section), leaves(recorded.get(section), section)
        differ += [key for key in dict.fromkeys([*then, *now])
                   if key not in now or key not in then or now[key] != then[key]]
    if differ:
        raise ModelError(f"resume=true: {listed(differ)} differ from {path}; a resumed run "
                         "goes on with the model, data and seed it started with: leave them "
                         "out, or train into a new folder")


def resumed_config(cfg: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """What ``resume=true`` goes on with: the configuration the run saved, with this run's
    paths and the keys that this command line sets (a task to add, a trainer argument, the log
    level); :func:`check_resumable` refuses those that change the model, data or seed."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    run_dir = Path(cfg.paths.output_dir)
    resumed = saved_config(run_dir)
    absent = object()
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        value = OmegaConf.select(cfg, override.key_or_group, default=absent)
        if override.is_delete() or value is absent:
            raise ModelError(f"resume=true: {override.input_line} cannot be applied to "
                             f"{run_dir / RUN_CONFIG}; leave it out, or train into a new folder")
        OmegaConf.update(resumed, override.key_or_group, value, merge=False, force_add=True)
    resumed.paths = cfg.paths
    return resumed


def check_classes(train_split, tasks: Sequence[str], where: str) -> None:
    """Refuse to train a classifier on a train split of fewer than two of its classes. The
    loader cannot: it does not know which columns are trained (the speaker tagger learns from
    data of a single stance)."""
    for task in tasks:
        names = train_split.features[task].names
        found = [names[i] for i in sorted(set(train_split[task]))]
        if len(found) < 2:
            raise DataError(f"{where}: task {task} has {len(found)} "
                            f"class{'' if len(found) == 1 else 'es'} ({', '.join(found)}) in "
                            f"train, of {', '.join(names)}; expected at least 2 to train a "
                            "classifier")


def is_main_process() -> bool:
    """False in all but one of the processes of a torchrun job, which each run ``train``."""
    # Imported here: accelerate imports torch, seconds that a run stopped by a config or data
    # error should not spend before saying so.
    from accelerate import PartialState

    return PartialState().is_main_process


def train(cfg: DictConfig) -> dict:
    """Fit one model per task into ``cfg.paths.output_dir``; return ``{task: {split: metrics}}``.

    Each task's folder is a complete model export; ``metrics.json`` beside them holds all
    tasks, and ``config.yaml`` the configuration, saved when the run starts. The folder must be
    empty but for Hydra's files, unless ``resume=true``: then a finished task is kept and an
    unfinished one continues from its last checkpoint, with the model and data of the
    run's ``config.yaml``.
    """
    run_dir = Path(cfg.paths.output_dir)
    set_log_level(log_level_of(cfg))
    if cfg.resume:
        check_resumable(cfg, saved_config(run_dir), run_dir / RUN_CONFIG)
    else:
        check_unused(run_dir)
    # Only the trained classifiers' label columns are read: task=stance needs no sentiment.
    named = TASKS.get(cfg.task, ())
    data = instantiate(cfg.data, _convert_="all",
                       **({"tasks": list(named)} if cfg.task in CLASSIFIED else {}))
    normalizer = instantiate(cfg.normalization)
    recipe = instantiate(cfg.model)
    try:
        speaker_input = SpeakerInput.named(cfg.get("speaker_input"))
    except ValueError as err:
        raise DataError(str(err)) from None
    tasks = tasks_of(cfg, [t for t in CLASSIFIED if t in data["train"].column_names])
    files = cfg.data.get("files") or {}
    check_classes(data["train"], [task for task in tasks if task in CLASSIFIED],
                  files.get("train") or "the train split")
    data_of = dict.fromkeys(tasks, data)
    if SPEAKER_TASK in tasks:
        # Before any task trains: task=all should not fail once the classifiers are done.
        check_can_tag(recipe, cfg.model._target_)
    if any(task in ARTICLE_TASKS for task in tasks):
        real = annotated_splits(data, files)
        data_of.update({task: real for task in tasks if task in ARTICLE_TASKS})
    if isinstance(recipe, BertRecipe):
        check_training_args(cfg.trainer.args)
    if is_main_process() and not cfg.resume:
        run_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, run_dir / RUN_CONFIG, resolve=True)
    metrics = {}
    for task in tasks:
        done = run_dir / task / METRICS_FILE
        if cfg.resume and done.is_file():
            metrics[task] = json.loads(done.read_text())
            continue
        ctx = FitContext(task=task, data=data_of[task], normalizer=normalizer,
                         trainer=cfg.trainer, seed=cfg.seed, output_dir=run_dir / task,
                         checkpoint_dir=run_dir / "checkpoints" / task, resume=cfg.resume,
                         speaker_input=speaker_input if task == "stance" else SpeakerInput(),
                         neutral_labels=cfg.data.get("neutral_labels"))
        if task == SPEAKER_TASK:
            metrics[task] = fit_speaker_tagger(recipe, ctx)
        elif task == CLUTTER_TASK:
            metrics[task] = fit_clutter(ctx, files)
        else:
            metrics[task] = recipe.fit(ctx)
    if is_main_process():
        run_metrics = run_dir / METRICS_FILE
        # A resumed run of fewer tasks keeps the others' results.
        kept = json.loads(run_metrics.read_text()) if run_metrics.is_file() else {}
        run_metrics.write_text(json.dumps({**kept, **metrics}, indent=2) + "\n")
    return metrics


def summary_table(metrics: dict) -> str:
    """One row per task, one column per split and headline metric; a dash where a task has no
    such metric (the tagger's span F1 beside the classifiers' macro-F1)."""
    headlines = dict.fromkeys(HEADLINES.get(task, CLASSIFIER_HEADLINE) for task in metrics)
    columns = [(split, key, f"{split} {title}") for split in SPLITS for key, title in headlines]
    rows = [["task", *(title for _, _, title in columns)]]
    for task, splits in metrics.items():
        rows.append([task, *(f"{splits[split][key]:.4f}" if key in splits[split] else "—"
                             for split, key, _ in columns)])
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    return "\n".join("  ".join(cell.rjust(width) if i else cell.ljust(width)
                               for i, (cell, width) in enumerate(zip(row, widths, strict=True)))
                     for row in rows)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@reported(exits=True)
def main(cfg: DictConfig) -> float | None:
    if cfg.resume:
        from hydra.core.hydra_config import HydraConfig

        cfg = resumed_config(cfg, HydraConfig.get().overrides.task)
    metrics = train(cfg)
    if not is_main_process():
        return None
    print(summary_table(metrics))
    print(f"run: {cfg.paths.output_dir}")
    # Hydra sweepers (e.g. Optuna) optimise the returned value.
    return sum(splits["dev"][HEADLINES.get(task, CLASSIFIER_HEADLINE)[0]]
               for task, splits in metrics.items()) / len(metrics)


if __name__ == "__main__":
    main()
