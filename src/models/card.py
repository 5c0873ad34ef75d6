"""The README.md model card written beside every exported model."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from src.inference.tagging import BIO_LABELS, TAGGER_FOLDER
from src.models.fitting import FitContext
from src.models.layout import SKOPS, TARGET_INPUT

TEMPLATE = Path(__file__).parent / "templates" / "model_card.md"
TAGGER_TEMPLATE = Path(__file__).parent / "templates" / "tagger_card.md"
MEANINGS = {
    "regime": "the Syrian government and its organs, state media, its UN envoy",
    "russia": "the Russian state: Kremlin, ministries, Hmeimim centre, envoys",
    "opposition": "Syrian political and armed opposition, activists, civil defence",
    "none": "reporter narration, or a speaker outside the three camps",
    "positive": "success, victory, reassurance, praise, welcome, hope",
    "negative": "accusation, condemnation, threat, warning, fear, rejection, casualties",
    "neutral": "facts, schedules, procedures, calls without evaluative words",
}
SUMMARIES = {
    "stance": "the camp whose position it voices, decided by attribution first.",
    "sentiment": "the polarity of its own wording, from its speaker's side.",
}
METRIC_TITLES = {"accuracy": "Accuracy", "macro_f1": "Macro-F1",
                 "polar_macro_f1": "Polar macro-F1"}
TAG_MEANINGS = {
    "O": "outside both spans",
    "B-SPEAKER": "first token of the phrase naming the speaker, as written: the shortest noun "
                 "phrase, without the title word, clitics and hashtags kept («للمرصد»)",
    "I-SPEAKER": "a further token of the speaker phrase",
    "B-CUE": "first token of the speech or claim word that ties the content to the speaker, "
             "clitics included («وقال», «بحسب», «وفقا», «نقلت»)",
    "I-CUE": "a further token of the cue",
}
SPAN_METRIC_TITLES = {"speaker_exact_f1": "Speaker span F1 (exact)",
                      "speaker_exact_precision": "Speaker span precision (exact)",
                      "speaker_exact_recall": "Speaker span recall (exact)",
                      "speaker_overlap_f1": "Speaker span F1 (overlap)",
                      "cue_exact_f1": "Cue span F1 (exact)",
                      "cue_overlap_f1": "Cue span F1 (overlap)"}


@dataclass(frozen=True)
class CardKind:
    """What differs between the card of a statement classifier and the speaker tagger's."""

    template: Path
    pipeline_tag: str
    tags: tuple[str, ...]
    metric_titles: dict[str, str]
    meanings: dict[str, str]


CLASSIFIER = CardKind(TEMPLATE, "text-classification",
                      ("arabic", "stance-detection", "sentiment-analysis", "syria", "news"),
                      METRIC_TITLES, MEANINGS)
TAGGER = CardKind(TAGGER_TEMPLATE, "token-classification",
                  ("arabic", "quote-attribution", "speaker-identification", "syria", "news"),
                  SPAN_METRIC_TITLES, TAG_MEANINGS)


def target_note(ctx: FitContext, library: str) -> str:
    """For a model that reads a target with each text: which, and how to give it."""
    if not ctx.reads_target:
        return ""
    how = ('with `pipeline`, `classify({"text": TARGET, "text_pair": TEXT})`'
           if library == "transformers" else "as `python -m src.predict --target TARGET` does")
    return (f" It reads each text with the target of its stance ({TARGET_INPUT}; trained on "
            f"{', '.join(ctx.trained_targets)}): give both, {how}.")


def write_model_card(ctx: FitContext, metrics: dict, base_model: str | None, library: str,
                     architecture: str, recipe: str) -> None:
    """Render the card into ``ctx.output_dir/README.md``, metrics as ``model-index``: a
    statement classifier's card, or the speaker tagger's for ``task=speaker``."""
    kind = TAGGER if ctx.task == TAGGER_FOLDER else CLASSIFIER
    labels = BIO_LABELS if kind is TAGGER else ctx.labels
    titles = dict(kind.metric_titles)
    if kind is CLASSIFIER:
        titles["polar_macro_f1"] = f"Polar macro-F1 (without {', '.join(ctx.neutral)})"
        if ctx.reads_target:
            titles["stance_eval_f1"] = "StanceEval score (polar F1 per target, averaged)"
    # Listed now, from the file as saved: a reader who asked the file at load time would trust
    # whatever it holds by then.
    trusted_types = []
    if library == "sklearn":
        import skops.io

        trusted_types = skops.io.get_untrusted_types(file=Path(ctx.output_dir, SKOPS))
    model_name = f"qawl-{ctx.task}"
    eval_results = [
        EvalResult(task_type=kind.pipeline_tag, dataset_type=ctx.dataset_name,
                   dataset_name=ctx.dataset_name, dataset_split="test", metric_type=name,
                   metric_name=titles[name], metric_value=value)
        for name, value in metrics["test"].items() if name in titles
    ]
    data = ModelCardData(
        language="ar",
        license="apache-2.0",
        library_name=library,
        pipeline_tag=kind.pipeline_tag,
        base_model=base_model,
        datasets=[ctx.dataset_name],
        tags=list(kind.tags),
        model_name=model_name,
        eval_results=eval_results,
    )
    card = ModelCard.from_template(
        data,
        template_path=str(kind.template),
        model_name=model_name,
        task=ctx.task,
        task_summary=SUMMARIES.get(ctx.task, "") + target_note(ctx, library),
        label_definitions=[(label, kind.meanings.get(label, "")) for label in labels],
        split_note="dev selects the checkpoint; test is held out",
        metric_names=[name for name in titles if name in metrics["test"]],
        results=[(split, metrics[split]) for split in ("dev", "test")],
        normalization=", ".join(k for k, v in asdict(ctx.normalizer).items() if v) or "none",
        repo_hint=f"path/to/{ctx.task}",
        library=library,
        architecture=architecture,
        dataset=ctx.dataset_name,
        sizes=", ".join(f"{split} {len(ctx.data[split])}" for split in ctx.data),
        recipe=recipe,
        trusted_types=trusted_types,
    )
    card.save(str(Path(ctx.output_dir, "README.md")))
