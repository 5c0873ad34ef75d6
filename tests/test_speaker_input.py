import json

from conftest import make_cfg, record, run_module

from src.inference.loading import load_task_model
from src.models.speaker_input import SETTINGS_FILE, SpeakerInput

# One sentence, said by speakers of three camps: only the speaker tells the stance apart.
SAID = "وأكد أن الاتفاق سيطبق في الموعد المحدد دون تأخير"
SPEAKERS = {"regime": "وزير الخارجية السوري وليد المعلم", "russia": "سيرغي لافروف",
            "opposition": "الائتلاف الوطني السوري"}


def _rows(split: str) -> list[dict]:
    rows = []
    for copy in range(6):
        for stance, speaker in SPEAKERS.items():
            rows.append(record(id=f"{split}-{stance}-{copy}", text=SAID, stance=stance,
                               speaker=speaker, group=f"{split}-{stance}-{copy}", split=split))
    return rows


def test_forms_and_the_statement_without_speaker():
    colon = SpeakerInput.named("colon")
    assert colon("النص", "لافروف") == "لافروف: النص"
    assert colon("النص", None) == "النص"
    assert SpeakerInput.named("camp")("النص", "لافروف", "russia") == "لافروف (russia): النص"
    assert SpeakerInput.named(None)("النص", "لافروف") == "النص"


def test_stance_model_learns_what_only_the_speaker_says(tmp_path, write_jsonl):
    files = {split: write_jsonl(f"{split}.jsonl", _rows(split)) for split in ("train", "dev",
                                                                             "test")}
    from src.train import train

    # One sentence in every split: the splits share it on purpose.
    overrides = ["model=tfidf", "task=stance", "data.sources=null", "data.allow_overlap=true",
                 *(f"data.files.{split}={path}" for split, path in files.items())]
    with_speaker = train(make_cfg(tmp_path / "colon", *overrides, "speaker_input=colon"))
    without = train(make_cfg(tmp_path / "plain", *overrides))
    assert with_speaker["stance"]["test"]["accuracy"] == 1.0
    assert without["stance"]["test"]["accuracy"] < 0.5  # one text, three labels

    folder = tmp_path / "colon" / "stance"
    assert json.loads((folder / SETTINGS_FILE).read_text()) == {"template": "{speaker}: {text}"}
    assert not (tmp_path / "plain" / "stance" / SETTINGS_FILE).exists()
    model = load_task_model(folder)
    speakers = [(speaker, None) for speaker in SPEAKERS.values()]
    chosen = model.probabilities([SAID] * 3, speakers=speakers).argmax(axis=1)
    assert [model.labels[i] for i in chosen] == list(SPEAKERS)


def test_unknown_form_is_one_message_and_exit_2():
    result = run_module("-m", "src.train", "model=tfidf", "speaker_input=bogus")
    assert result.returncode == 2
    assert "speaker_input=bogus: expected null or one of colon, camp, sep" in result.stderr
    assert "Traceback" not in result.stderr
