"""A small BERT built from scratch on the training texts: the offline model for tests and demos."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from src.models.recipe import BertRecipe, pick_head

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece(texts: Sequence[str], vocab_size: int, min_frequency: int = 2):
    """A BERT tokenizer with a WordPiece vocabulary learnt from ``texts``: every character (as a
    word start and as a ``##`` continuation), then the most frequent words, word starts and word
    endings (2-4 characters), ties broken alphabetically.

    Counting is deterministic on purpose: the ``tokenizers`` trainer breaks ties in an order that
    changes from process to process, so two runs with one seed, or the processes of a torchrun
    job, learnt different vocabularies of different sizes."""
    from tokenizers.pre_tokenizers import BertPreTokenizer
    from transformers import BertTokenizer

    split = BertPreTokenizer()
    words = Counter(word for text in texts for word, _ in split.pre_tokenize_str(text))
    characters = sorted({char for word in words for char in word})
    base = [*SPECIAL_TOKENS, *characters, *(f"##{char}" for char in characters)]
    pieces: Counter[str] = Counter()
    for word, count in words.items():
        pieces[word] += count
        for size in range(2, min(5, len(word))):
            pieces[word[:size]] += count
            pieces[f"##{word[-size:]}"] += count
    known = set(base)
    ranked = [piece for piece, count in sorted(pieces.items(), key=lambda item: (-item[1], item[0]))
              if count >= min_frequency and piece not in known]
    vocabulary = base + ranked[: max(0, vocab_size - len(base))]
    # transformers 5 builds the tokenizer from `vocab`; a `vocab_file` alone is ignored.
    return BertTokenizer(vocab={token: i for i, token in enumerate(vocabulary)},
                         do_lower_case=False, tokenize_chinese_chars=False, strip_accents=False,
                         model_max_length=512)


@dataclass
class TinyBert(BertRecipe):
    """Randomly initialised BERT (hidden <= 256, a few layers) with its own WordPiece vocabulary.
    It learns from the fine-tuning data alone, with no pre-training: it exercises every code path
    of a real BERT offline and in seconds, and on this dataset it comes close to the tfidf
    baseline; a pre-trained checkpoint such as CAMeLBERT is what to fine-tune for results."""

    vocab_size: int = 4000
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    intermediate_size: int = 256
    max_position_embeddings: int = 512

    base_model = None

    def describe(self) -> str:
        return (f"a {self.num_hidden_layers}-layer BERT (hidden {self.hidden_size}) with a "
                "WordPiece vocabulary learnt from the training texts, trained from scratch "
                "(no pre-training)")

    def build(self, labels: Sequence[str], train_texts: Sequence[str], head: str = "sequence"):
        from transformers import (
            BertConfig,
            BertForSequenceClassification,
            BertForTokenClassification,
        )

        model_class = pick_head(head, BertForSequenceClassification, BertForTokenClassification)

        tokenizer = train_wordpiece(train_texts, self.vocab_size)
        config = BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            max_position_embeddings=self.max_position_embeddings,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
        )
        return tokenizer, model_class(config)
