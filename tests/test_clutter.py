"""The clutter detector (``task=clutter``): its article features, a training run whose detector
finds the teasers and marker lines of articles it has not seen, how a flagged statement is read,
and the data errors."""

import json
import shutil

import pytest

from src import predict
from src.inference.clutter import CONTEXT, ClutterDetector, context_rows
from src.inference.speakers import Speakers
from src.text.attribution import ActorList
from src.train import train
from tests.conftest import make_cfg, record, run_module
from tests.test_speaker_tagger import write_splits

HEADLINE = "القوات الحكومية تستعيد بلدة {town} في ريف حماة"
BODY = [
    "قال المرصد السوري لحقوق الإنسان إن القوات الحكومية استعادت بلدة {town} في ريف حماة.",
    "وأضاف المرصد أن الاشتباكات في محيط بلدة {town} أسفرت عن مقتل عشرة مقاتلين.",
    "واتهمت المعارضة القوات الحكومية بقصف المنازل في بلدة {town} بالبراميل المتفجرة.",
    "وتقع بلدة {town} على الطريق الدولي بين حماة وإدلب.",
]
# Related stories about other news, as a news site closes an article with them.
TEASERS = [
    "قالت وزارة الصحة السعودية إن موسم الحج انتهى دون تسجيل أي إصابات بالأمراض المعدية",
    "أعلن الاتحاد الأوروبي لكرة القدم عن موعد جديد للمباراة النهائية في لشبونة",
]
MARKER = "رابط الخبر بصحيفة الوئام: {town} تعود إلى سيطرة الحكومة"
TOWNS = ["كفرنبودة", "اللطامنة", "مورك", "صوران", "طيبة الإمام", "حلفايا", "قلعة المضيق",
         "خان شيخون", "التمانعة", "الهبيط"]


def article(k: int, split: str) -> list[dict]:
    town = TOWNS[k % len(TOWNS)]
    lines = [(HEADLINE, False), *((line, False) for line in BODY), (MARKER, True),
             *((teaser, True) for teaser in TEASERS)]
    return [record(id=f"real-{split}-{k}-{i:02d}", text=text.format(town=town), source="real",
                   article_id=f"art-{split}-{k}", index=i, clutter=clutter,
                   speaker=None, speaker_span=None, cue_span=None, speaker_inherited=False,
                   split=split, group=f"art-{split}-{k}")
            for i, (text, clutter) in enumerate(lines)]


def articles(split: str, ks) -> list[dict]:
    return [row for k in ks for row in article(k, split)]


@pytest.fixture(scope="module")
def clutter_files(tmp_path_factory):
    return write_splits(tmp_path_factory.mktemp("clutter_data"), {
        "train": articles("train", range(6)), "dev": articles("dev", range(6, 8)),
        "test": articles("test", range(8, 10))})


@pytest.fixture(scope="module")
def clutter_run(tmp_path_factory, clutter_files):
    run_dir = tmp_path_factory.mktemp("clutter_run")
    return run_dir, train(make_cfg(run_dir, "model=tfidf", "task=clutter",
                                   *clutter_files))["clutter"]


def test_the_features_say_where_a_statement_stands_and_what_it_shares():
    texts = [row["text"] for row in article(0, "x")]
    rows = context_rows(texts)
    assert [len(row) for row in rows] == [1 + len(CONTEXT)] * len(texts)
    assert [row[0] for row in rows] == texts
    seen, headline, body, to_end, place, _, _, first, _, near = zip(*(row[1:] for row in rows),
                                                                    strict=True)
    assert first == (1.0, *[0.0] * (len(texts) - 1))
    assert place[0] == 0.0 and place[-1] == 1.0
    assert to_end[-1] == 0.0 and near[-1] == 1.0 and near[0] == 0.0
    # the body shares the headline's words; the teasers share none of the article's
    assert min(headline[1:5]) >= 0.2 and min(seen[1:5]) >= 0.2
    assert max(seen[-2:]) == max(body[-2:]) == 0.0


def test_the_detector_flags_the_clutter_of_articles_it_has_not_seen(clutter_run):
    run_dir, metrics = clutter_run
    assert metrics["test"]["clutter_f1"] == 1.0, metrics
    detector = ClutterDetector(ClutterDetector.in_run(run_dir))
    rows = article(3, "user")
    assert detector([row["text"] for row in rows]) == [row["clutter"] for row in rows]
    saved = json.loads((run_dir / "clutter" / "labels.json").read_text())
    assert saved["task"] == "clutter" and saved["features"] == ["text", *CONTEXT]
    assert json.loads((run_dir / "metrics.json").read_text())["clutter"] == metrics


def test_same_data_and_seed_train_the_same_detector(clutter_run, clutter_files, tmp_path):
    run_dir, metrics = clutter_run
    again = train(make_cfg(tmp_path, "model=tfidf", "task=clutter", *clutter_files))
    assert again["clutter"] == metrics
    texts = [row["text"] for row in article(4, "user")]
    first, again = (ClutterDetector(folder / "clutter")._pipeline.predict_proba(
        context_rows(texts)) for folder in (run_dir, tmp_path))
    assert (first == again).all()


def test_a_flagged_statement_has_no_speaker_and_is_no_ones_context():
    texts = ["قالت المعارضة السورية إن الاشتباكات مستمرة في ريف حماة",
             "قالت وزارة الخارجية الروسية إن الهدنة صامدة",
             "وأضافت أن عشرة مقاتلين قتلوا في الاشتباكات"]
    actors = ActorList.load()
    plain = Speakers(actors)(texts)
    assert plain[1].speaker == "وزارة الخارجية الروسية" and not plain[1].clutter
    assert plain[2].speaker == "وزارة الخارجية الروسية"
    read = Speakers(actors, clutter=lambda batch: [False, True, False])(texts)
    assert (read[1].speaker, read[1].cue, read[1].camp, read[1].clutter) == (
        None, None, None, True)
    assert read[0] == plain[0]
    assert read[2].inherited and read[2].speaker == "المعارضة السورية"


def test_predict_reads_flagged_lines_as_clutter_with_stance_none(clutter_run, tiny_run, tmp_path,
                                                                 capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run[0], run_dir)
    shutil.copytree(clutter_run[0] / "clutter", run_dir / "clutter")
    rows = article(5, "user")
    path = tmp_path / "article.txt"
    path.write_text("\n".join(row["text"] for row in rows) + "\n", encoding="utf-8")
    code = predict.main([str(path), "--lines", "--format", "jsonl", "--run-dir", str(run_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"web clutter from the detector in {run_dir / 'clutter'}" in err
    predicted = [json.loads(line) for line in out.splitlines()]
    assert [row["clutter"] for row in predicted] == [row["clutter"] for row in rows]
    for row in predicted:
        if row["clutter"]:
            assert (row["speaker"], row["camp"], row["stance"], row["stance_source"],
                    row["stance_score"]) == (None, None, "none", "clutter", None)
        else:
            assert row["stance_source"] in ("actor", "model")
    assert predicted[1]["speaker"] == "المرصد السوري لحقوق الإنسان"


@pytest.mark.parametrize("case", ["no article columns", "no clutter"])
def test_clutter_task_errors_exit_2(tmp_path, case):
    folder = tmp_path / "data"
    rows = articles("x", range(2))
    if case == "no article columns":
        rows = [{k: v for k, v in row.items() if k != "article_id"} for row in rows]
        expected = (f"{folder}/train.jsonl: task=clutter needs the columns article_id, index, "
                    "text, clutter")
    else:
        rows = [dict(row, clutter=False) for row in rows]
        expected = (f"{folder}/train.jsonl: no real statement is marked clutter, so there is "
                    "nothing for task=clutter to learn")
    result = run_module("-m", "src.train", "model=tfidf", "task=clutter",
                        *write_splits(folder, {"train": rows, "dev": rows, "test": rows}),
                        f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2, result.stderr
    assert f"error: {expected}" in result.stderr
    assert "Traceback" not in result.stderr
