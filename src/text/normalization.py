"""Arabic text normalisation, applied identically before training and before prediction.

The settings travel with every exported model (``normalization.json`` beside the weights), so
predictions on a saved model always see text prepared the way its training data was.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from camel_tools.utils.dediac import dediac_ar
from camel_tools.utils.normalize import (
    normalize_alef_ar,
    normalize_alef_maksura_ar,
    normalize_teh_marbuta_ar,
    normalize_unicode,
)

SETTINGS_FILE = "normalization.json"
TATWEEL = "\u0640"
EASTERN_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


@dataclass(frozen=True)
class ArabicNormalizer:
    """The CAMeLBERT fine-tuning preprocessing (Unicode normalisation and dediacritisation) plus
    optional orthographic conflations. Alef, alef-maksura and ta-marbuta conflation are off by
    default because CAMeLBERT was pre-trained on text that keeps those distinctions."""

    unicode: bool = True
    dediac: bool = True
    tatweel: bool = True
    digits: bool = True
    alef: bool = False
    alef_maksura: bool = False
    teh_marbuta: bool = False

    def __call__(self, text: str) -> str:
        if self.unicode:
            text = normalize_unicode(text)
        if self.dediac:
            text = dediac_ar(text)
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
        """The settings saved in ``folder``; a folder without them gets no normalisation."""
        path = Path(folder, SETTINGS_FILE)
        if not path.exists():
            return cls(**{field.name: False for field in fields(cls)})
        return cls(**json.loads(path.read_text()))
