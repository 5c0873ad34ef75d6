"""How the stance model is told who speaks: the statement prefixed with its speaker.

Stance is mostly the speaker's camp, so a stance model that sees the speaker can learn what the
words alone do not say. The form travels with the export (``speaker_input.json``), as the
normalisation does; a model without the file reads the statement alone. A statement with no
speaker is always given as it is, in training and at prediction alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SETTINGS_FILE = "speaker_input.json"
# "colon" is how Arabic headlines attribute («لافروف: ...»); "sep" is BERT's text pair written
# as one string, so that pipeline users pass one text whatever the tokenizer.
FORMS = {
    "colon": "{speaker}: {text}",
    "camp": "{speaker} ({camp}): {text}",
    "sep": "{speaker} [SEP] {text}",
}


@dataclass(frozen=True)
class SpeakerInput:
    template: str | None = None

    @classmethod
    def named(cls, form: str | None) -> SpeakerInput:
        if form is None:
            return cls()
        if form not in FORMS:
            raise ValueError(f"speaker_input={form}: expected null or one of {', '.join(FORMS)}")
        return cls(FORMS[form])

    def __call__(self, text: str, speaker: str | None = None, camp: str | None = None) -> str:
        if self.template is None or not speaker:
            return text
        return self.template.format(speaker=speaker, camp=camp or "?", text=text)

    def apply(self, texts: list[str], speakers: list[tuple[str | None, str | None]] | None):
        """``texts`` with their (speaker, camp) pairs, when the model was trained with them."""
        if speakers is None or self.template is None:
            return list(texts)
        return [self(text, *who) for text, who in zip(texts, speakers, strict=True)]

    def save(self, folder: str | Path) -> None:
        if self.template is not None:
            Path(folder, SETTINGS_FILE).write_text(
                json.dumps({"template": self.template}, ensure_ascii=False, indent=2) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> SpeakerInput:
        path = Path(folder, SETTINGS_FILE)
        return cls(json.loads(path.read_text())["template"]) if path.exists() else cls()
