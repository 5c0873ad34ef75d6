"""Invisible characters of scraped news (zero-width, bidi marks and controls, BOM, soft hyphen)
change neither who speaks nor the scores, and every offset still indexes the text as written."""

import json
from dataclasses import asdict

import pytest

from src import predict
from src.data.paths import RAW_ARTICLE
from src.inference.loading import load_task_model
from src.inference.speakers import Speakers
from src.inference.statements import find_statements
from src.text.attribution import ActorList, Attributor
from src.text.normalization import ArabicNormalizer
from src.text.rule_spans import RuleSpans
from src.text.segmentation import split_statements
from src.text.speaker_words import opens

# Spelled out, not imported: the test holds the set the project promises to remove.
INVISIBLES = ("\u200b\u200c\u200d\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e"
              "\u2066\u2067\u2068\u2069\ufeff\u00ad")
LINE = "قال المتحدث باسم\u200b الكرملين ديمتري\u200d بيسكوف «نرفض» ذلك."
CLEAN = "قال المتحدث باسم الكرملين ديمتري بيسكوف «نرفض» ذلك."


def visible(text: str) -> str:
    return text.translate({ord(char): None for char in INVISIBLES})


@pytest.fixture(scope="module")
def actors():
    return ActorList.load()


def scattered(text: str) -> str:
    """``text`` with an invisible character after every fifth character, every one in turn:
    inside words, around names, after full stops and before line breaks."""
    out = []
    for position, char in enumerate(text):
        out.append(char)
        if position % 5 == 4:
            out.append(INVISIBLES[position // 5 % len(INVISIBLES)])
    return "".join(out)


@pytest.mark.parametrize("char", INVISIBLES)
def test_normaliser_removes_each_invisible_character(char):
    assert ArabicNormalizer()(f"قال{char} المتحدث باسم{char}الكرملين") == "قال المتحدث باسمالكرملين"


def test_old_normalisation_settings_keep_the_text_as_trained(tmp_path):
    old = {"unicode": True, "dediac": True, "tatweel": True, "digits": True, "alef": False,
           "alef_maksura": False, "teh_marbuta": False}
    (tmp_path / "normalization.json").write_text(json.dumps(old))
    # An export saved before the setting existed was trained on text that kept them.
    assert ArabicNormalizer.load(tmp_path)(LINE) == LINE
    ArabicNormalizer().save(tmp_path)
    assert json.loads((tmp_path / "normalization.json").read_text())["invisible"] is True
    assert ArabicNormalizer.load(tmp_path)(LINE) == CLEAN


def test_statements_split_as_without_them_with_offsets_into_the_input():
    text = "قال لافروف «نعم».\u200f وأضاف\u200b أن الحل سياسي.\n\u200fدمشق\u200e - قال الأسد ذلك.\n"
    clean = visible(text)
    spans = split_statements(text)
    assert [visible(span.text) for span in spans] == [span.text for span in
                                                      split_statements(clean)]
    assert len(spans) == 3 and visible(spans[2].text) == "قال الأسد ذلك."
    assert all(text[span.start:span.end] == span.text for span in spans)
    assert not any(span.text[0] in INVISIBLES or span.text[-1] in INVISIBLES for span in spans)


def test_rules_read_through_them_with_offsets_as_written(actors):
    mentions = [(LINE[s:e], actor) for s, e, actor in actors.mentions(LINE)]
    assert [(visible(m), actor) for m, actor in mentions] == [
        (CLEAN[s:e], actor) for s, e, actor in actors.mentions(CLEAN)]
    assert mentions[-1][0] == "ديمتري\u200d بيسكوف"
    found = Attributor(actors)(LINE)
    assert LINE[found.span[0]:found.span[1]] == found.speaker == "ديمتري\u200d بيسكوف"
    assert found.quote == "نرفض" and found.cue == (0, 3)
    tagged = RuleSpans(actors)([LINE, "\u200fوأضاف\u200b:\u200f «لا»"])
    assert LINE[tagged[0].speaker.start:tagged[0].speaker.end] == "ديمتري\u200d بيسكوف"
    assert tagged[1].speaker is None and (tagged[1].cue.start, tagged[1].cue.end) == (1, 6)
    # The statement still opens with its cue: the speaker carries over.
    assert opens("\u200fوأضاف", (1, 6))


def test_the_speaker_is_found_as_written(actors):
    dirty, clean = (find_statements("x", line, split_statements, Speakers(actors))[0]
                    for line in (LINE, CLEAN))
    assert clean.speaker == "ديمتري بيسكوف" and clean.actor is not None
    assert dirty.speaker == "ديمتري\u200d بيسكوف"
    assert LINE[dirty.speaker_start:dirty.speaker_end] == dirty.speaker
    assert LINE[dirty.cue_start:dirty.cue_end] == dirty.cue == clean.cue
    assert (dirty.actor, dirty.camp, dirty.resolution) == (clean.actor, clean.camp,
                                                           clean.resolution)


def test_an_article_full_of_them_reads_as_the_clean_one(actors):
    """Statements, speakers (list, context, relay and inherited ones), cues and quotes of the
    seed article, each invisible character scattered through it."""
    clean_text = RAW_ARTICLE.read_text(encoding="utf-8")
    text = scattered(clean_text)
    dirty = find_statements("a", text, split_statements, Speakers(actors))
    clean = find_statements("a", clean_text, split_statements, Speakers(actors))
    assert len(dirty) == len(clean) > 10
    assert sum(statement.speaker is not None for statement in clean) > 10
    for found, expected in zip(dirty, clean, strict=True):
        assert text[found.start:found.end] == found.text
        if found.speaker_start is not None:
            assert text[found.speaker_start:found.speaker_end] == found.speaker
        if found.cue_start is not None:
            assert text[found.cue_start:found.cue_end] == found.cue
        as_clean = {name: visible(value) if isinstance(value, str) else value
                    for name, value in asdict(found).items()}
        offsets = ("start", "end", "speaker_start", "speaker_end", "cue_start", "cue_end")
        assert {k: v for k, v in as_clean.items() if k not in offsets} == {
            k: v for k, v in asdict(expected).items() if k not in offsets}


def test_predict_gives_the_clean_line_speaker_and_scores(tiny_run, tmp_path, capsys):
    dirty, clean = tmp_path / "dirty.txt", tmp_path / "clean.txt"
    dirty.write_text(LINE + "\n", encoding="utf-8")
    clean.write_text(CLEAN + "\n", encoding="utf-8")
    code = predict.main([str(dirty), str(clean), "--run-dir", str(tiny_run[0]), "--format",
                         "jsonl", "--all-scores"])
    out, err = capsys.readouterr()
    assert code == 0, err
    found, expected = (json.loads(line) for line in out.splitlines())
    assert LINE[found["start"]:found["end"]] == found["text"] == LINE
    assert LINE[found["speaker_start"]:found["speaker_end"]] == found["speaker"]
    assert visible(found["speaker"]) == expected["speaker"] == "ديمتري بيسكوف"
    for name in ("actor", "camp", "resolution", "stance", "stance_scores", "sentiment",
                 "sentiment_scores"):
        assert found[name] == expected[name], name


def test_character_model_scores_do_not_move(tmp_path):
    """A character n-gram model sees every character it is given, unlike BERT tokenizers,
    which drop format characters themselves."""
    import skops.io
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    texts = [CLEAN, "أدان الائتلاف القصف على المدينة", "قال الأسد إن الحرب انتهت",
             "رحبت موسكو بالاتفاق"]
    model = Pipeline([("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4))),
                      ("classifier", LogisticRegression(max_iter=1000))])
    model.fit(texts, [0, 1, 2, 3])
    skops.io.dump(model, tmp_path / "model.skops")
    (tmp_path / "labels.json").write_text(json.dumps(
        {"task": "stance", "id2label": dict(enumerate(("russia", "opposition", "regime",
                                                       "none")))}))
    ArabicNormalizer().save(tmp_path)
    scores = load_task_model(tmp_path).probabilities([LINE, CLEAN])
    assert scores[0].tolist() == scores[1].tolist()
