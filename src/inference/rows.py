"""From statements to output rows: the models' scores and the one stance decision."""

from __future__ import annotations

import sys
from pathlib import Path

from src.core.errors import warn
from src.inference.statements import STATEMENT_FIELDS, Statement

FIELDS = (*STATEMENT_FIELDS, "stance", "stance_source", "stance_score", "sentiment",
          "sentiment_score")


def speakers_for(run: Path, device: str | None):
    """Who speaks, for ``run``: its speaker tagger when it trained one, on ``device`` as the
    models are (default: cuda if available), the rule attributor otherwise; raises
    src.inference.loading.ModelError for a tagger that cannot be loaded."""
    import torch

    from src.inference.speakers import Speakers, tagger_of
    from src.text.attribution import ActorList

    tagger = tagger_of(run, device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if tagger is not None:
        print(f"speakers from the tagger in {tagger.folder}", file=sys.stderr)
    return Speakers(ActorList.load(), tagger)


def models_for(model: Path | None, device: str | None, max_length: int | None,
               backend: str) -> tuple[dict, Path]:
    """The models of ``model`` (default: the newest run) by task, and the run or model folder
    they came from, saying on stderr which run is used and which task it lacks; raises
    src.inference.loading.ModelError."""
    from src.inference.loading import load_models
    from src.models.layout import newest_run

    if model is None:
        model = newest_run()
        print(f"using model {model}", file=sys.stderr)
    models, missing = load_models(model, device, max_length, backend)
    for task in missing:
        warn(f"{model} has no {task} model: predicting {' and '.join(models)} only")
    return models, model


def score(statements: list[Statement], models: dict, batch_size: int, progress=None) -> dict:
    """Each task's label probabilities for ``statements``, warning of those cut to fit a model."""
    texts = [s.text for s in statements]
    # A stance model trained with its speaker (speaker_input) reads the one found here.
    speakers = [(s.speaker, s.camp) for s in statements]
    scores = {}
    for task, model in models.items():
        scores[task] = model.probabilities(texts, batch_size, progress, speakers=speakers)
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
                                                         stance_mode)
            if row["stance_source"] == "actor":
                row["stance_score"] = None
        yield {name: row[name] for name in (*FIELDS, *(f"{task}_scores" for task in models
                                                        if all_scores))}
