"""``python -m src.evaluate`` scores a run on the data it was trained on (its config.yaml), with
what the command line gives over it; a run with one task that cannot be used still serves the
others, in evaluate and in predict, with a warning that says why."""

import json
import shutil

import pytest
from sklearn.metrics import f1_score

from src import export, predict, predict_bulk
from src.data.io import DataError
from src.data.loading import load_splits
from src.models.tfidf import TfidfLogReg
from src.text.normalization import ArabicNormalizer
from tests.conftest import command, make_cfg
from tests.test_evaluate import command_error, eval_cfg, evaluated_on

# Words that lean a tweet one way, and neutral filler; every tweet is told apart by its number.
LEANING = {"Favor": ["ندعم", "نؤيد", "رائع"], "Against": ["نرفض", "نعارض", "سيئ"],
           "None": ["اجتماع", "تقرير", "موعد"]}
MOODS = ("POS", "NEG", "NEU")
FILLER = ["القرار", "المشروع", "الخطة", "الاتفاق", "البرنامج"]
RAW_STANCE = {"Favor": "favor", "Against": "against", "None": "none"}


def write_tweets(path, rows: range) -> None:
    """A table of one's own: the text in ``tweet``, stance in ``position`` as Favor/Against/None
    and sentiment in ``mood`` as POS/NEG/NEU, apart from the stance; one row in five leans the
    other way."""
    lines = ["tweet,position,mood"]
    raw = list(LEANING)
    for row in rows:
        stance = raw[row % 3]
        words = LEANING[raw[(row + 1) % 3] if row % 5 == 0 else stance]
        lines.append(f"{words[row % 3]} {FILLER[row % 5]} رقم {row},{stance},"
                     f"{MOODS[row // 3 % 3]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    """A data=table run (TF-IDF) on a table of one's own, with the files it was trained on."""
    from src.train import train

    folder = tmp_path_factory.mktemp("own")
    train_file, test_file = folder / "tweets_train.csv", folder / "tweets_test.csv"
    write_tweets(train_file, range(90))
    write_tweets(test_file, range(1000, 1030))
    run = folder / "run"
    train(make_cfg(run, "model=tfidf", *TABLE, f"data.files.train={train_file}",
                   f"data.files.test={test_file}"))
    return run, train_file, test_file


TABLE = ("data=table", "data.text_column=tweet", "data.label_columns.stance=position",
         "data.label_columns.sentiment=mood",
         "data.label_values.stance={Favor: favor, Against: against, None: none}")


def tfidf_macro_f1(train_file, test_file, normalizer) -> float:
    """The stance macro-F1 on ``test_file`` of a TF-IDF fitted on the train split of
    ``train_file``, as the run's data config cuts it."""
    splits = load_splits({"train": str(train_file), "test": str(test_file)},
                         text_column="tweet", label_columns={"stance": "position"},
                         label_values={"stance": RAW_STANCE}, split_fractions={"dev": 0.15})
    pipeline = TfidfLogReg().pipeline(42, balanced=False)
    pipeline.fit([normalizer(t) for t in splits["train"]["text"]], splits["train"]["stance"])
    predicted = pipeline.predict([normalizer(t) for t in splits["test"]["text"]])
    return f1_score(splits["test"]["stance"], predicted, average="macro")


def test_a_run_is_evaluated_on_its_own_files_columns_and_labels(own_run, tmp_path):
    run, train_file, test_file = own_run
    results = evaluated_on(tmp_path, f"run_dir={run}")
    data, origin = results["data"], f"the run's config ({run / 'config.yaml'})"
    assert data["test"] == {"file": str(test_file), "cut_from": None, "statements": 30,
                            "from": origin}
    assert data["train"]["file"] == str(train_file) and data["train"]["from"] == origin
    assert data["text_column"] == {"column": "tweet", "from": origin}
    assert data["labels"]["stance"] == {"column": "position", "values": RAW_STANCE,
                                        "from": origin}
    assert data["labels"]["sentiment"] == {"column": "mood", "values": {}, "from": origin}
    report = (tmp_path / "report.md").read_text()
    assert f"| test split | `{test_file}`, 30 statements | {origin} |" in report
    assert f"| baselines fitted on | `{train_file}`, " in report
    assert f"| text column | `tweet` | {origin} |" in report
    assert ("| stance labels | column `position`: Favor → favor, Against → against, None → none "
            f"| {origin} |") in report
    expected = tfidf_macro_f1(train_file, test_file, ArabicNormalizer.load(run / "stance"))
    assert results["stance"]["baselines"]["tfidf"]["macro_f1"] == pytest.approx(expected)
    # Labels of one's own have no camp for the actor rule to decide.
    assert set(results["stance"]["baselines"]) == {"majority", "tfidf"}


def test_the_command_line_wins_over_the_run(own_run, tmp_path):
    run, train_file, _ = own_run
    other = tmp_path / "other.csv"
    write_tweets(other, range(2000, 2012))
    results = evaluated_on(tmp_path / "out", f"run_dir={run}", f"data.files.test={other}")
    data = results["data"]
    assert data["test"] == {"file": str(other), "cut_from": None, "statements": 12,
                            "from": f"the command line (data.files.test={other})"}
    # The rest is still the run's: its train file, text column and label mapping.
    assert data["train"]["file"] == str(train_file)
    assert data["labels"]["stance"]["values"] == RAW_STANCE
    with pytest.raises(DataError, match=r"qawl/test\.jsonl: stance .* is not among the model's "
                                        r"labels \(against, favor, none\)"):
        evaluated_on(tmp_path / "qawl", f"run_dir={run}", "data=qawl")


def test_a_whole_data_config_on_the_command_line(own_run, tmp_path):
    run, train_file, test_file = own_run
    results = evaluated_on(tmp_path, f"run_dir={run / 'stance'}", "data=table",
                           f"data.files.train={train_file}", f"data.files.test={test_file}",
                           "data.text_column=tweet", "data.label_columns.stance=position",
                           "data.label_values.stance={Favor: favor, Against: against, "
                           "None: none}")
    data = results["data"]
    assert set(results) == {"data", "stance"}
    assert data["text_column"] == {"column": "tweet",
                                   "from": "the command line (data.text_column=tweet)"}
    assert data["test"]["statements"] == 30 and data["test"]["from"].startswith(
        "the command line (data.files.test=")


def test_a_test_split_cut_from_train_is_the_one_training_cut(tmp_path):
    """Cut as training cut it, stratified by its first label column (stance), even when the run
    has only a sentiment model left: its scores are those training measured on that split."""
    from src.train import train

    table = tmp_path / "tweets.csv"
    write_tweets(table, range(150))
    run = tmp_path / "run"
    trained = train(make_cfg(run, "model=tfidf", *TABLE, f"data.files.train={table}"))
    shutil.rmtree(run / "stance")
    results = evaluated_on(tmp_path / "out", f"run_dir={run}")
    assert results["data"]["test"] == {"file": None, "cut_from": str(table), "statements": 23,
                                       "from": f"the run's config ({run / 'config.yaml'})"}
    model = results["sentiment"]["model"]
    assert model["macro_f1"] == pytest.approx(trained["sentiment"]["test"]["macro_f1"])
    assert model["accuracy"] == pytest.approx(trained["sentiment"]["test"]["accuracy"])


def test_polar_scores_leave_out_the_models_neutral_labels(own_run, tmp_path):
    run = shutil.copytree(own_run[0], tmp_path / "run")
    labels_file = run / "sentiment" / "labels.json"
    saved = json.loads(labels_file.read_text())
    saved["neutral_labels"] = ["NEU"]
    labels_file.write_text(json.dumps(saved))
    results = evaluated_on(tmp_path / "out", f"run_dir={run}")
    assert results["data"]["neutral_labels"]["sentiment"] == {
        "labels": ["NEU"], "from": f"neutral_labels in {labels_file}"}
    labels = saved["id2label"]
    rows = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").open()]
    gold = [row["sentiment_gold"] for row in rows]
    guess = [row["sentiment_predicted"] for row in rows]
    polar = [label for label in labels.values() if label != "NEU"]
    expected = f1_score(gold, guess, labels=polar, average="macro", zero_division=0)
    assert results["sentiment"]["model"]["polar_macro_f1"] == pytest.approx(expected)
    assert "| sentiment neutral labels (left out of polar macro-F1) | NEU |" in (
        tmp_path / "out" / "report.md").read_text()


@pytest.fixture
def broken_stance(tiny_run, tmp_path):
    """A copy of the tiny run whose stance config.json is not JSON."""
    run = tmp_path / "run"
    for task in ("stance", "sentiment"):
        shutil.copytree(tiny_run[0] / task, run / task)
    shutil.copy(tiny_run[0] / "config.yaml", run / "config.yaml")
    (run / "stance" / "config.json").write_text('{"id2label": ')
    return run


def test_evaluate_serves_the_task_that_loads(broken_stance, tmp_path, capsys):
    metrics = evaluated_on(tmp_path / "out", f"run_dir={broken_stance}", "data.max_samples=40")
    err = capsys.readouterr().err
    assert f"warning: {broken_stance / 'stance' / 'config.json'}: not valid JSON" in err
    assert "leaving stance out: evaluating sentiment only" in err
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == json.loads(
        json.dumps(metrics))
    assert "sentiment" in metrics and "stance" not in metrics
    assert "not valid JSON" in metrics["data"]["left_out"]["stance"]
    assert "| stance not evaluated | " in (tmp_path / "out" / "report.md").read_text()


def test_no_task_that_loads_is_an_error(broken_stance, tmp_path, capsys):
    (broken_stance / "sentiment" / "model.safetensors").unlink()
    err = command_error(capsys, eval_cfg(tmp_path / "out", f"run_dir={broken_stance}"))
    assert err.startswith(f"error: {broken_stance}: no model can be loaded: "
                                    f"{broken_stance / 'stance' / 'config.json'}: not valid JSON")
    assert f"; {broken_stance / 'sentiment'}: incomplete model folder" in err


def test_a_task_the_test_file_has_no_column_for_is_left_out(tiny_run, tmp_path, capsys):
    table = tmp_path / "mine.csv"
    table.write_text("text,sentiment\nرحب المبعوث بالاتفاق,positive\nأدان الائتلاف القصف,"
                     "negative\nعقد الاجتماع في جنيف,neutral\n", encoding="utf-8")
    results = evaluated_on(tmp_path / "out", f"run_dir={tiny_run[0]}", f"data.files.test={table}")
    assert "stance" not in results and results["sentiment"]["per_class"]["neutral"]["support"] == 1
    err = capsys.readouterr().err
    assert f"warning: {table}: missing column(s) stance" in err
    assert "leaving stance out: evaluating sentiment only" in err
    assert results["data"]["left_out"]["stance"].startswith(f"{table}: missing column(s) stance")


def test_predict_serves_the_task_that_loads(broken_stance, tmp_path, capsys):
    article = tmp_path / "article.txt"
    article.write_text("قال لافروف إن موسكو ترحب بالاتفاق\n", encoding="utf-8")
    result = command(capsys, predict.main, str(article), "--run-dir", str(broken_stance),
                     "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert (f"warning: {broken_stance / 'stance' / 'config.json'}: not valid JSON" in
            result.stderr and "leaving stance out: predicting sentiment only" in result.stderr)
    row = json.loads(result.stdout.splitlines()[0])
    assert row["stance"] is None and row["sentiment"] is not None
    (broken_stance / "sentiment" / "model.safetensors").unlink()
    result = command(capsys, predict.main, str(article), "--run-dir", str(broken_stance))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {broken_stance}: no model can be loaded: ")


def test_predict_bulk_serves_the_task_that_loads(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    for task in ("stance", "sentiment"):
        shutil.copytree(tiny_run[0] / task, run / task)
    (run / "stance" / "model.safetensors").unlink()
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "a.txt").write_text("قال لافروف إن موسكو ترحب بالاتفاق\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = command(capsys, predict_bulk.main, str(articles), "-o", str(out),
                     "--run-dir", str(run))
    assert result.returncode == 0, result.stderr
    assert (f"warning: {run / 'stance'}: incomplete model folder, no model.safetensors"
            in result.stderr and "leaving stance out: predicting sentiment only" in result.stderr)
    rows = [json.loads(line) for line in out.open()]
    assert rows and all(r["stance"] is None and r["sentiment"] is not None for r in rows)


def test_predict_bulk_serves_the_task_that_loads_beside_a_broken_config(broken_stance, tmp_path,
                                                                       capsys):
    lines = tmp_path / "statements.csv"
    lines.write_text("id,text\n1,قال لافروف إن موسكو ترحب بالاتفاق\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = command(capsys, predict_bulk.main, str(lines), "-o", str(out),
                     "--run-dir", str(broken_stance))
    assert result.returncode == 0, result.stderr
    assert "leaving stance out: predicting sentiment only" in result.stderr
    rows = [json.loads(line) for line in out.open()]
    assert rows and all(r["stance"] is None and r["sentiment"] is not None for r in rows)


def test_export_leaves_out_a_broken_task_and_refuses_a_run_of_none(broken_stance, capsys):
    folders = export.task_folders(broken_stance, ("stance", "sentiment"))
    assert folders == {"sentiment": broken_stance / "sentiment"}
    result = command(capsys, export.main, "--run-dir", str(broken_stance), "--task", "stance",
                     "--onnx")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {broken_stance / 'stance' / 'config.json'}: "
                                    "not valid JSON")
