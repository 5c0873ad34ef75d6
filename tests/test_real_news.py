"""Real news: choosing articles, merging labels, validating, splitting and loading by source."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from src.data.agreement import disagreements, speaker_key
from src.data.build import assign_splits
from src.data.io import DataError, read_jsonl
from src.data.loading import load_splits
from src.data.real import find_phrase, merge
from src.data.schema import LABELS
from src.data.select import main as select_main
from src.data.validate import Row, find_problems, measure_targets
from tests.conftest import command, record, run_module

ARTICLES = [
    {"id": "opp-1", "corpus": "ANT v2.1", "source": "BBC", "category": "middleEast",
     "url": "http://example.org/opp-1", "date": "Mon, 02 Apr 2018 10:00:00 +0000",
     "title": "المعارضة تتهم النظام بقصف الغوطة",
     "text": "دمشق - قال الائتلاف الوطني السوري إن القصف مستمر على الغوطة.\n"
             "وأضاف أن المدنيين يدفعون الثمن.\nوقال الدفاع المدني إن عشرة قتلوا.\n"
             "وقال المرصد السوري لحقوق الإنسان إن الطائرات قصفت البلدات.\n"
             "وتشهد المنطقة هدوءا حذرا منذ الصباح."},
    {"id": "rus-1", "corpus": "SaudiNewsNet", "source": "aawsat", "category": "",
     "url": "http://example.org/rus-1", "date": "2015-07-21 10:00:00",
     "title": "موسكو ترحب بالهدنة",
     "text": "وقال سيرغي لافروف إن موسكو ترحب بالهدنة.\nوأكدت زاخاروفا أن الهدنة صامدة.\n"
             "وقال بوتين إن الحل سياسي.\nوتواصل القوافل دخول المدينة.\nوعاد الهدوء."},
    {"id": "culture-1", "corpus": "ANT v2.1", "source": "CNN", "category": "culture",
     "url": "", "date": "", "title": "حفل في دمشق",
     "text": "أقيم حفل.\nغنى المطرب.\nحضر الجمهور.\nانتهى الحفل.\nعاد الناس."},
]


@pytest.fixture
def pool(tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in ARTICLES) + "\n",
                    encoding="utf-8")
    return path


def test_select_chooses_whole_articles_and_writes_span_pre_annotations(pool, tmp_path,
                                                                       tiny_run, capsys):
    run_dir, _ = tiny_run
    out = tmp_path / "round"
    assert select_main([str(pool), "--n-articles", "1", "--model", str(run_dir), "-o", str(out),
                        "--camp-targets", "opposition=10"]) == 0
    selection = json.loads((out / "selection.json").read_text())
    # The opposition voices decide the first pick; the culture piece is never a candidate.
    assert [a["article_id"] for a in selection["articles"]] == ["opp-1"]
    assert selection["candidates"] == 2
    statements = read_jsonl(out / "statements.jsonl")
    assert [s["index"] for s in statements] == list(range(6))  # the headline is statement 0
    assert statements[0]["text"] == ARTICLES[0]["title"]
    assert statements[1]["text"].startswith("قال الائتلاف")  # the dateline is left out
    assert {s["outlet"] for s in statements} == {"BBC"}
    tasks = json.loads((out / "tasks.json").read_text())
    assert len(tasks) == 6 and all("pre" not in task["data"] for task in tasks)
    first = tasks[1]["predictions"][0]["result"]
    by_type = Counter(item["type"] for item in first)
    assert by_type["choices"] == 2 and all(0 < i["score"] <= 1 for i in first if "score" in i)
    spans = {item["value"]["labels"][0]: item["value"]["text"] for item in first
             if item["type"] == "labels"}
    assert spans == {"speaker": "الائتلاف الوطني السوري", "cue": "قال"}
    assert "chose 1 of 2 articles" in capsys.readouterr().err


def test_select_sets_aside_articles_that_near_duplicate_the_dataset(pool, tmp_path,
                                                                   write_jsonl):
    # An agency's copy of opp-1's first statement, without its full stop, is already in the dataset.
    copy = "قال الائتلاف الوطني السوري إن القصف مستمر على الغوطة"
    dataset = write_jsonl("train.jsonl", [record(text=copy, article_id="old-7", split="train"),
                                          record(text="وقال المتحدث إن الوضع هادئ.")])
    out = tmp_path / "round"
    assert select_main([str(pool), "--n-articles", "2", "--dataset", str(dataset),
                        "-o", str(out)]) == 0
    selection = json.loads((out / "selection.json").read_text())
    assert [a["article_id"] for a in selection["articles"]] == ["rus-1"]
    assert list(selection["set_aside"]) == ["opp-1"]
    assert selection["set_aside"]["opp-1"].startswith(
        "shares near-identical statements with old-7 (train, Jaccard 0.")


def test_select_names_the_dataset_line_without_a_text(pool, tmp_path, write_jsonl, capsys):
    dataset = write_jsonl("train.jsonl", [record(), {"id": "x", "stance": "none"}])
    out = tmp_path / "round"
    done = command(capsys, select_main, str(pool), "--dataset", str(dataset), "-o", str(out))
    assert done.returncode == 2
    assert done.stderr == f"error: {dataset}:2: expected a string 'text'\n"
    assert not out.exists()


def test_select_refuses_a_folder_that_is_not_empty(pool, tmp_path):
    out = tmp_path / "round"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    done = run_module("-m", "src.data.select", str(pool), "-o", str(out))
    assert done.returncode == 2 and done.stderr == f"error: {out}: not empty; choose a new folder\n"
    assert (out / "mine.txt").read_text() == "keep"


WORKSHEET = [{"id": "real-a-00", "text": "وقال المتحدث باسم الكرملين دميتري بيسكوف إن بيسكوف يرحب.",
              "article_id": "a", "corpus": "ANT v2.1", "outlet": "BBC", "url": "u", "date": "d",
              "index": 0, "pre": {"stance": "none"}},
             {"id": "real-a-01", "text": "وأضاف أن الاتفاق صامد.", "article_id": "a",
              "corpus": "ANT v2.1", "outlet": "BBC", "url": "u", "date": "d", "index": 1,
              "pre": {"stance": "none"}}]


def labels(**overrides) -> dict:
    return {"id": "real-a-00", "stance": "russia", "sentiment": "positive",
            "speaker": "دميتري بيسكوف", "speaker_inherited": False, "cue": "وقال",
            "clutter": False, **overrides}


def test_merge_resolves_spans_and_inheritance(write_jsonl):
    worksheet = write_jsonl("worksheet.jsonl", WORKSHEET)
    rows = [labels(), labels(id="real-a-01", speaker="بيسكوف", speaker_inherited=True,
                             cue="وأضاف")]
    records, problems = merge(worksheet, write_jsonl("labels.jsonl", rows))
    assert problems == []
    first, second = records
    assert first["text"][slice(*first["speaker_span"])] == "دميتري بيسكوف"
    assert first["cue_span"] == [0, 4] and first["pre"] == {"stance": "none"}
    assert (second["speaker_span"], second["speaker_inherited"]) == (None, True)
    assert first["source"] == "real" and first["article_id"] == "a"


def test_merge_names_each_problem_by_line(write_jsonl):
    worksheet = write_jsonl("worksheet.jsonl", WORKSHEET)
    rows = [labels(speaker="لافروف"), labels(id="real-x-99"), labels(id="real-a-01",
                                                                      stance="moscow")]
    path = write_jsonl("labels.jsonl", rows)
    _, problems = merge(worksheet, path)
    assert problems == [
        f"{path}:1: speaker 'لافروف' is not in the statement's text (an inherited speaker "
        "needs speaker_inherited: true)",
        f"{path}:2: id 'real-x-99' is not in {worksheet}",
        f"{path}:3: stance 'moscow' is not one of regime, russia, opposition, none"]


def test_find_phrase_prefers_whole_words_and_counts_occurrences():
    text = "قال بيسكوف إن بيسكوفيين وبيسكوف و بيسكوف"
    assert find_phrase(text, "بيسكوف") == [4, 10]
    last = text.rindex("بيسكوف")
    assert find_phrase(text, "بيسكوف", 2) == [last, last + 6]
    assert find_phrase(text, "لافروف") is None


def real(**overrides) -> dict:
    text = "وقال لافروف إن الحل سياسي."
    base = record(id="real-a-01", text=text, stance="russia", sentiment="neutral",
                  speaker="لافروف", source="real", group="article-a", split="test",
                  article_id="a", corpus="ANT v2.1", outlet="BBC", url="u", date="d", index=1,
                  speaker_span=[5, 11], speaker_inherited=False, cue_span=[0, 4], clutter=False)
    return {**base, **overrides}


@pytest.mark.parametrize("overrides, problem", [
    ({"speaker_span": [5, 99]}, "'speaker_span' [5, 99] is not [start, end] inside the text"),
    ({"speaker_span": [0, 4]}, "speaker 'لافروف' is not the text at speaker_span [0, 4]"),
    ({"speaker_span": None}, "needs its 'speaker_span'"),
    ({"outlet": ""}, "provenance 'outlet' must be a non-empty string"),
    ({"index": "1"}, "'index' must be the statement's position"),
    ({"clutter": True}, "clutter is none/neutral with a null speaker"),
    ({"speaker_inherited": True}, "an inherited speaker has a 'speaker' and a null"),
])
def test_validate_checks_real_fields(overrides, problem, tmp_path):
    rows = [Row(tmp_path / "test.jsonl", 1, real(**overrides))]
    problems, _ = find_problems(rows)
    assert len(problems) == 1 and problem in problems[0]


def test_validate_finds_an_article_in_two_splits(tmp_path):
    rows = [Row(tmp_path / "dev.jsonl", 1, real(split="dev", group="x")),
            Row(tmp_path / "test.jsonl", 1, real(id="real-a-02", text="وقال لافروف إن الحرب انتهت.",
                                                 group="y"))]
    problems, _ = find_problems(rows)
    assert problems == [f"{tmp_path / 'test.jsonl'}:1: article 'a' in test and in dev "
                        f"(first at {tmp_path / 'dev.jsonl'}:1)"]


def test_real_targets_are_measured_apart_from_the_written_ones():
    rows = [real(id=f"real-{i}", article_id=str(i % 40), split="test") for i in range(450)]
    targets = {t.name: t for t in measure_targets([record(), *rows], 0)}
    assert targets["real: statements"].measured == "450" and not targets["real: statements"].met
    assert targets["real: test articles"].met and targets["real: stance russia"].met
    assert not targets["real: stance regime"].met and not targets["real: outlets"].met


def test_build_keeps_every_article_in_one_split_and_draws_reproducibly():
    authored = [record(id=f"a-{i}", stance=("none", "regime")[i % 2], source="authored")
                for i in range(60)]
    reals = [real(id=f"real-{i}", article_id=f"art-{i // 5}", index=i % 5,
                  text=f"وقال لافروف {i * 7919:09d} {i * 104729:09d}",
                  stance=("none", "russia", "regime")[i % 3], split=None) for i in range(200)]
    # art-39 re-files a statement of art-0, as outlets do with agency copy.
    reals[-1]["text"] = reals[0]["text"]
    first = assign_splits(authored + reals)
    again = assign_splits(authored + reals)
    assert first == again
    split_of_article = {}
    for r in first:
        if r["source"] == "real":
            assert split_of_article.setdefault(r["article_id"], r["split"]) == r["split"]
            story = "art-0" if r["article_id"] == "art-39" else r["article_id"]
            assert r["group"] == f"article-{story}" and "speaker_span" in r
        else:
            assert "speaker_span" not in r
    shares = Counter(r["split"] for r in first if r["source"] == "real")
    assert 0.2 <= shares["test"] / 200 <= 0.35 and shares["dev"] > 0


def test_sources_select_train_and_dev_but_test_keeps_all(write_jsonl):
    rows = [real(id=f"real-{i}", split="train", sentiment=("neutral", "negative")[i % 2])
            for i in range(6)] + [record(id=f"a-{i}", sentiment=("neutral", "negative")[i % 2])
                                  for i in range(6)]
    path = write_jsonl("all.jsonl", rows)
    # One file for every split: the texts are shared on purpose.
    data = load_splits({"train": path, "dev": path, "test": path}, sources=["real"],
                       labels=LABELS, allow_overlap=True)
    assert set(data["train"]["source"]) == {"real"} and set(data["dev"]["source"]) == {"real"}
    assert Counter(data["test"]["source"]) == {"real": 6, "authored": 6}
    with pytest.raises(DataError, match="no row of source seed"):
        load_splits({"train": path}, sources=["seed"], split_fractions={"dev": .2, "test": .2})


def test_agreement_compares_speakers_by_exact_span():
    one = {"a": {"stance": "none", "sentiment": "neutral", "speaker_span": [0, 3]},
           "b": {"stance": "regime", "sentiment": "negative", "speaker_span": None,
                 "speaker_inherited": True, "speaker": "المعلم"}}
    two = {"a": {"stance": "none", "sentiment": "neutral", "speaker_span": [0, 4]},
           "b": {"stance": "regime", "sentiment": "neutral", "speaker_span": None,
                 "speaker_inherited": True, "speaker": "المعلم"}}
    assert speaker_key(one["b"]) == "inherited:المعلم"
    assert disagreements(one, two) == [
        {"id": "a", "field": "speaker", "pass1": "span:0-3", "pass2": "span:0-4"},
        {"id": "b", "field": "sentiment", "pass1": "negative", "pass2": "neutral"}]
