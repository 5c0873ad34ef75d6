"""Arabic text normalisation, applied identically before training and before prediction.

The settings travel with every exported model (``normalization.json`` beside the weights), so
predictions on a saved model always see text prepared the way its training data was. Speaker
attribution instead reads a :class:`VisibleText`: the text without its invisible characters,
whose offsets translate back to the text as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from camel_tools.utils.normalize import (
    normalize_alef_ar,
    normalize_alef_maksura_ar,
    normalize_teh_marbuta_ar,
    normalize_unicode,
)

from src.core.errors import ModelError
from src.text.letters import ARABIC_INDIC_DIGITS, INVISIBLE, PERSIAN_DIGITS, TATWEEL

SETTINGS_FILE = "normalization.json"
EASTERN_DIGITS = str.maketrans(ARABIC_INDIC_DIGITS + PERSIAN_DIGITS, "0123456789" * 2)
# camel_tools' dediac_ar on its own character set (AR_DIAC_CHARSET: tanwin, the short vowels,
# shadda, sukun, dagger alef). Importing camel_tools.utils.dediac first builds a set of every
# Unicode character by category, a second of each prediction's start; tests/test_onnx.py
# checks the two stay equal.
DIACRITICS = re.compile("[\u064b-\u0652\u0670]")


@dataclass(frozen=True)
class ArabicNormalizer:
    """The CAMeLBERT fine-tuning preprocessing (Unicode normalisation and dediacritisation) plus
    optional orthographic conflations. Alef, alef-maksura and ta-marbuta conflation are off by
    default because CAMeLBERT was pre-trained on text that keeps those distinctions.
    ``invisible`` removes the characters of ``src.text.letters.INVISIBLE`` first."""

    unicode: bool = True
    dediac: bool = True
    tatweel: bool = True
    digits: bool = True
    alef: bool = False
    alef_maksura: bool = False
    teh_marbuta: bool = False
    invisible: bool = True

    def __call__(self, text: str) -> str:
        if self.invisible:
            text = INVISIBLE.sub("", text)
        if self.unicode:
            text = normalize_unicode(text)
        if self.dediac:
            text = DIACRITICS.sub("", text)
        if self.tatweel:
            text = text.replace(TATWEEL, "")
        if self.digits:
            text = text.translate(EASTERN_DIGITS)
        if self.alef:
            text = normalize_alef_ar(text)
        if self.alef_maksura:
            text = normalize_alef_maksura_ar(text)
        if self.teh_marbuta:
            text = normalize_teh_marbuta_ar(text)
        return text

    def save(self, folder: str | Path) -> None:
        Path(folder, SETTINGS_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> ArabicNormalizer:
        """The settings saved in ``folder``; a folder without them gets no normalisation, and a
        step the file does not name is off: the export was saved before the step existed, so
        its training text did not have it. Raises ModelError for a file that is not settings."""
        path = Path(folder, SETTINGS_FILE)
        off = {field.name: False for field in fields(cls)}
        if not path.exists():
            return cls(**off)
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ModelError(f"{path}: not valid JSON ({err})") from None
        unknown = sorted(set(settings) - set(off)) if isinstance(settings, dict) else []
        if not isinstance(settings, dict) or unknown:
            found = f"unknown {', '.join(unknown)}" if unknown else type(settings).__name__
            raise ModelError(f"{path}: expected an object of settings among {', '.join(off)} "
                             f"(found {found})")
        return cls(**{**off, **settings})


@dataclass(frozen=True)
class VisibleText:
    """``text`` without the invisible characters of ``written``, and where each of its
    characters stands in ``written`` (with ``len(written)`` after the last)."""

    written: str
    text: str
    origins: Sequence[int]

    @classmethod
    def of(cls, written: str) -> VisibleText:
        if not INVISIBLE.search(written):
            return cls(written, written, range(len(written) + 1))
        origins = [i for i, char in enumerate(written) if not INVISIBLE.match(char)]
        return cls(written, "".join(written[i] for i in origins), [*origins, len(written)])

    def original(self, start: int, end: int) -> tuple[int, int]:
        """Where ``text[start:end]`` is in ``written``: from its first character to its last,
        with the invisible characters between them, and none before or after."""
        if start == end:
            return self.origins[start], self.origins[start]
        return self.origins[start], self.origins[end - 1] + 1
