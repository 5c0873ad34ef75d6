"""BERT-family checkpoints from the Hugging Face Hub or a local folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from src.core.errors import ModelError
from src.models.recipe import BertRecipe, pick_head


class ModelUnavailableError(ModelError):
    """The model can be neither found on disk nor fetched; the message says what to run."""


def _unavailable(name: str, reason: str) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"model '{name}' could not be fetched from the Hugging Face Hub ({reason}) and is not "
        "in the local cache. Run instead one of:\n"
        "  python -m src.train model=me5_small                     "
        "# multilingual-e5-small, pre-trained, offline (make setup converts it)\n"
        "  python -m src.train model=tiny                          "
        "# a small BERT built offline from the training data\n"
        "  python -m src.train model.name_or_path=/path/to/model   "
        "# any BERT checkpoint saved on disk\n"
        f"  hf download {name}   "
        "# on a machine with hub access, then copy ~/.cache/huggingface here"
    )


def resolve_model(name: str, revision: str | None = None) -> str:
    """``name`` if it is a usable local folder, a cached hub model or a reachable hub model;
    otherwise raise :class:`ModelUnavailableError` at once instead of retrying for minutes."""
    from huggingface_hub import HfApi, constants, try_to_load_from_cache
    from huggingface_hub.errors import RepositoryNotFoundError

    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ModelUnavailableError(f"model folder '{folder}' has no config.json: it is not a "
                                        "saved Hugging Face model (save one with save_pretrained)")
        return str(folder)
    if name.startswith((".", "/", "~")):
        raise ModelUnavailableError(f"model folder '{folder}' does not exist")
    if isinstance(try_to_load_from_cache(name, "config.json", revision=revision), str):
        return name
    if constants.is_offline_mode():
        raise _unavailable(name, "HF_HUB_OFFLINE is set")
    try:
        HfApi().model_info(name, revision=revision, timeout=10)
    except RepositoryNotFoundError:
        raise ModelUnavailableError(f"model '{name}' does not exist on the Hugging Face Hub "
                                    "(or is private: log in with `hf auth login`)") from None
    except Exception as err:  # network errors come from several libraries
        raise _unavailable(name, f"{type(err).__name__}: {err}") from None
    return name


@dataclass
class PretrainedBert(BertRecipe):
    """Fine-tune a pre-trained checkpoint: a hub id such as CAMeLBERT, or a local folder."""

    name_or_path: str = "CAMeL-Lab/bert-base-arabic-camelbert-msa"
    revision: str | None = None
    # A 250k-word vocabulary (XLM-R's) is most of a small model's weights, and updating it is
    # most of a CPU step's time: multilingual-e5-small's step takes 4.5 s, 1.5 s with it frozen.
    freeze_word_embeddings: bool = False

    @property
    def base_model(self) -> str | None:
        return None if Path(self.name_or_path).expanduser().is_dir() else self.name_or_path

    def describe(self) -> str:
        return f"{self.name_or_path}, fine-tuned"

    def build(self, labels: Sequence[str], train_texts: Sequence[str], head: str = "sequence"):
        from transformers import (
            AutoModelForSequenceClassification,
            AutoModelForTokenClassification,
            AutoTokenizer,
        )

        model_class = pick_head(head, AutoModelForSequenceClassification,
                                AutoModelForTokenClassification)
        source = resolve_model(self.name_or_path, self.revision)
        tokenizer = AutoTokenizer.from_pretrained(source, revision=self.revision)
        model = model_class.from_pretrained(
            source,
            revision=self.revision,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            # A checkpoint fine-tuned on other labels has a head of another size: replace it.
            ignore_mismatched_sizes=True,
            use_safetensors=None,
        )
        if self.freeze_word_embeddings:
            model.get_input_embeddings().weight.requires_grad_(False)
        return tokenizer, model
