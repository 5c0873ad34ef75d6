"""From statements to output rows: the models' scores and the one stance decision."""

from __future__ import annotations

import sys
from pathlib import Path

from src.core.errors import QawlError, warn
from src.inference.statements import STATEMENT_FIELDS, Statement

FIELDS = (*STATEMENT_FIELDS, "stance", "stance_source", "stance_score", "sentiment",
          "sentiment_score")
# The special tokens and a speaker form («المتحدث: ») leave nothing of a statement below it.
MIN_MAX_LENGTH = 8


def check_sizes(batch_size: int, max_length: int | None) -> None:
    """Raise QawlError for a ``--batch-size`` or ``--max-length`` no model can score with."""
    if batch_size < 1:
        raise QawlError(f"--batch-size {batch_size}: expected a positive number of statements "
                        "per forward pass")
    if max_length is not None and max_length < MIN_MAX_LENGTH:
        raise QawlError(f"--max-length {max_length}: expected at least {MIN_MAX_LENGTH} tokens "
                        "per statement")


def speakers_for(run: Path, device: str | None, backend: str = "torch"):
    """Who speaks, for ``run``: its speaker tagger when it trained one, on ``device`` as the
    models are (default: cuda if available), the rule attributor otherwise; raises
    src.inference.loading.ModelError for a tagger that cannot be loaded. Only a tagger needs
    torch: the rule attributor keeps an onnx ``backend`` free of it."""
    from src.inference.clutter import clutter_of
    from src.inference.speakers import Speakers, tagger_of
    from src.inference.tagging import SpeakerTagger
    from src.text.attribution import ActorList

    tagger = None
    if SpeakerTagger.in_run(run) is not None:
        from src.inference.loading import torch_device

        tagger = tagger_of(run, torch_device(device))
        torch_only = ("" if backend == "torch" else f", which runs on torch: --backend {backend} "
                      "covers the stance and sentiment models only")
        print(f"speakers from the tagger in {tagger.folder}{torch_only}", file=sys.stderr)
    clutter = clutter_of(run)
    if clutter is not None:
        print(f"web clutter from the detector in {clutter.folder}", file=sys.stderr)
    return Speakers(ActorList.load(), tagger, clutter=clutter)


def models_for(model: Path | None, device: str | None, max_length: int | None,
               backend: str) -> tuple[dict, Path]:
    """The models of ``model`` (default: the newest run) by task, and the run or model folder
    they came from, saying on stderr which run is used, which task it lacks or cannot load
    (and why) and, once, when ``max_length`` is beyond what the models were trained on; raises
    src.inference.loading.ModelError when no task can be loaded."""
    from src.inference.loading import load_models
    from src.models.layout import newest_run

    if model is None:
        model = newest_run()
        print(f"using model {model}", file=sys.stderr)
    unusable: dict[str, str] = {}
    models, missing = load_models(model, device, max_length, backend,
                                  left_out=unusable.__setitem__)
    predicting = f"predicting {' and '.join(models)} only"
    for task in missing:
        warn(f"{model} has no {task} model: {predicting}")
    for task, reason in unusable.items():
        warn(f"{reason}; leaving {task} out: {predicting}")
    trained = {task: getattr(m, "trained_length", None) for task, m in models.items()}
    beyond = {task: length for task, length in trained.items()
              if length is not None and max_length is not None and max_length > length}
    if beyond:
        lengths = ", ".join(f"{task} {length}" for task, length in beyond.items())
        warn(f"--max-length {max_length} is beyond the tokens per statement the models were "
             f"trained on ({lengths}); training never saw statements that long, so their "
             "scores are less reliable")
    return models, model


def score(statements: list[Statement], models: dict, batch_size: int, progress=None,
          targets: list[str] | None = None) -> dict:
    """Each task's label probabilities for ``statements``, warning of those cut to fit a model;
    ``targets``, one per statement, go to a model that reads a target with each text."""
    texts = [s.text for s in statements]
    # A stance model trained with its speaker (speaker_input) reads the one found here.
    speakers = [(s.speaker, s.camp) for s in statements]
    scores = {}
    for task, model in models.items():
        scores[task] = model.probabilities(texts, batch_size, progress, speakers=speakers,
                                           targets=targets)
        for position in model.truncated:
            statement = statements[position]
            warn(f"{statement.file}:{statement.line}: statement {statement.index} is longer "
                 f"than the model's limit of {model.max_length} tokens; only its start was "
                 f"used for {task}")
    return scores


def rows_for(statements: list[Statement], models: dict, scores: dict, all_scores: bool,
             stance_mode: str = "combined"):
    """One output row per statement. The stance is decided once (src.inference.speakers.decide):
    the resolved speaker's camp, or the model's label (always with ``stance_mode`` "model", and
    for a stance model on labels of its own, which a camp is not one of)."""
    from src.data.schema import STANCES
    from src.inference.speakers import decide

    if "stance" in models and set(models["stance"].labels) != set(STANCES):
        stance_mode = "model"

    for position, statement in enumerate(statements):
        row = {name: getattr(statement, name) for name in STATEMENT_FIELDS}
        for task in ("stance", "sentiment"):
            if task in models:
                probabilities = scores[task][position]
                best = int(probabilities.argmax())
                row[task] = models[task].labels[best]
                row[f"{task}_score"] = round(float(probabilities[best]), 4)
                if all_scores:
                    row[f"{task}_scores"] = {label: round(float(p), 4) for label, p in
                                             zip(models[task].labels, probabilities, strict=True)}
            else:
                row[task] = row[f"{task}_score"] = None
        row["stance_source"] = None
        if "stance" in models:  # without a stance model there is no stance to print
            row["stance"], row["stance_source"] = decide(statement.camp, row["stance"],
                                                         stance_mode, statement.clutter)
            if row["stance_source"] in ("actor", "clutter"):
                row["stance_score"] = None
        yield {name: row[name] for name in (*FIELDS, *(f"{task}_scores" for task in models
                                                        if all_scores))}
