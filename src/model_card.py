"""The README.md model card written beside every exported model."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from src.fitting import FitContext

TEMPLATE = Path(__file__).parent / "templates" / "model_card.md"
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
                 "polar_macro_f1": "Polar macro-F1 (without none/neutral)"}


def write_model_card(ctx: FitContext, metrics: dict, base_model: str | None, library: str,
                     architecture: str, recipe: str) -> None:
    """Render the card into ``ctx.output_dir/README.md``, metrics as ``model-index``."""
    model_name = f"qawl-{ctx.task}"
    eval_results = [
        EvalResult(task_type="text-classification", dataset_type=ctx.dataset_name,
                   dataset_name=ctx.dataset_name, dataset_split="test", metric_type=name,
                   metric_name=METRIC_TITLES[name], metric_value=value)
        for name, value in metrics["test"].items() if name in METRIC_TITLES
    ]
    data = ModelCardData(
        language="ar",
        license="apache-2.0",
        library_name=library,
        pipeline_tag="text-classification",
        base_model=base_model,
        datasets=[ctx.dataset_name],
        tags=["arabic", "stance-detection", "sentiment-analysis", "syria", "news"],
        model_name=model_name,
        eval_results=eval_results,
    )
    card = ModelCard.from_template(
        data,
        template_path=str(TEMPLATE),
        model_name=model_name,
        task=ctx.task,
        task_summary=SUMMARIES.get(ctx.task, ""),
        label_definitions=[(label, MEANINGS.get(label, "")) for label in ctx.labels],
        split_note="dev selects the checkpoint; test is held out",
        metric_names=[name for name in METRIC_TITLES if name in metrics["test"]],
        results=[(split, metrics[split]) for split in ("dev", "test")],
        normalization=", ".join(k for k, v in asdict(ctx.normalizer).items() if v) or "none",
        repo_hint=f"path/to/{ctx.task}",
        library=library,
        architecture=architecture,
        dataset=ctx.dataset_name,
        sizes=", ".join(f"{split} {len(ctx.data[split])}" for split in ctx.data),
        recipe=recipe,
    )
    card.save(str(Path(ctx.output_dir, "README.md")))
