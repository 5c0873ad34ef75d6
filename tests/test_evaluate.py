import json
import shutil

import pytest
from hydra import compose, initialize_config_dir

from src.core.config import CONFIG_DIR
from src.data.schema import TASKS
from src.evaluate import evaluate


def eval_cfg(output_dir, *overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("eval", overrides=[f"paths.output_dir={output_dir}",
                                          "bootstrap_resamples=100", *overrides])


@pytest.fixture(scope="module")
def evaluated(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    return out, evaluate(eval_cfg(out, f"run_dir={tiny_run[0]}"))


def test_writes_every_artefact(evaluated):
    out, results = evaluated
    for name in ("metrics.json", "report.md", "predictions.jsonl", "confusion_stance.png",
                 "reliability_stance.png", "confusion_sentiment.png", "reliability_sentiment.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(results))
    rows = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    assert len(rows) == results["stance"]["per_class"]["none"]["support"] + sum(
        c["support"] for label, c in results["stance"]["per_class"].items() if label != "none")
    assert {"text", "stance_gold", "stance_predicted", "stance_scores"} <= set(rows[0])


def test_report_numbers_match_metrics(evaluated):
    out, results = evaluated
    report = (out / "report.md").read_text()
    for result in (results[task] for task in TASKS):
        model = result["model"]
        low, high = model["macro_f1_ci95"]
        assert f"| model | {model['macro_f1']:.3f} [{low:.3f}, {high:.3f}]" in report
        for name in result["baselines"]:
            assert f"against {name}:" in report
        assert low <= model["macro_f1"] <= high


def test_baselines_and_slices(evaluated):
    _, results = evaluated
    stance = results["stance"]
    assert set(stance["baselines"]) == {"majority", "tfidf", "actor rule"}
    assert set(results["sentiment"]["baselines"]) == {"majority", "tfidf"}
    assert stance["baselines"]["actor rule"]["macro_f1"] > 0.6, "the actor list knows the camps"
    slices = stance["slices"]
    assert slices["source seed"]["n"] == 19
    assert slices["named speaker"]["n"] + slices["no named speaker"]["n"] == sum(
        c["support"] for c in stance["per_class"].values())


def test_speakers_on_the_real_test_articles(evaluated):
    out, results = evaluated
    speakers = results["speakers"]
    assert (speakers["statements"], speakers["articles"]) == (456, 31)
    assert set(speakers["attribution"]) == {"rules"}  # the tiny run trained no tagger
    assert set(speakers["stance"]["systems"]) == {"model", "actor rule", "rules + combined"}
    assert speakers["stance"]["best_single"] in ("model", "actor rule")
    assert 0 < speakers["camp_linking"]["accuracy"] <= 1
    report = (out / "report.md").read_text()
    assert "## speakers (real articles)" in report and "| rules + combined |" in report
    rows = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    combined = [row["speaker_rules"] for row in rows if "speaker_rules" in row]
    assert len(combined) == 456
    assert all(r["stance"] == r["camp"] for r in combined if r["stance_source"] == "actor")


def test_own_csv_test_file(tiny_run, tmp_path):
    table = tmp_path / "mine.csv"
    table.write_text("text,sentiment\nرحب المبعوث بالاتفاق,positive\nأدان الائتلاف القصف,"
                     "negative\nعقد الاجتماع في جنيف,neutral\n", encoding="utf-8")
    results = evaluate(eval_cfg(tmp_path / "out", f"run_dir={tiny_run[0] / 'sentiment'}",
                                f"data.test_file={table}"))
    assert set(results) == {"sentiment"}
    assert results["sentiment"]["slices"]["no named speaker"]["n"] >= 1


def test_behavioural_tests_are_reported(evaluated):
    out, results = evaluated
    stance, sentiment = results["stance"]["behaviour"], results["sentiment"]["behaviour"]
    assert stance["invariance: diacritics"]["n"] > 100
    # The normaliser strips diacritics and tatweel, so those never change a prediction.
    assert stance["invariance: diacritics"]["failures"] == 0
    assert stance["invariance: tatweel"]["failures"] == 0
    assert stance["directional: speaker of another camp"]["n"] > 50
    assert sentiment["directional: negation flips polarity"]["n"] == 40
    assert "| invariance: alef/hamza |" in (out / "report.md").read_text()


def test_multirun_folder_gives_mean_and_std(tiny_run, tmp_path):
    multirun = tmp_path / "multirun"
    for seed_run in ("0", "1"):
        shutil.copytree(tiny_run[0] / "stance", multirun / seed_run / "stance")
    out = tmp_path / "out"
    results = evaluate(eval_cfg(out, f"run_dir={multirun}"))
    assert results["runs"] == ["0", "1"]
    macro = results["mean_std"]["stance"]["macro_f1"]
    single = json.loads((out / "0" / "metrics.json").read_text())["stance"]["model"]["macro_f1"]
    assert macro == {"mean": pytest.approx(single), "std": 0.0}
    assert "± 0.000" in (out / "report.md").read_text()


def test_missing_run_folder_is_a_clear_error(tmp_path):
    from tests.conftest import run_module

    result = run_module("-m", "src.evaluate", f"run_dir={tmp_path / 'absent'}",
                        f"hydra.run.dir={tmp_path / 'out'}")
    assert result.returncode == 2
    assert "absent: no such model or run folder" in result.stderr
    assert "Traceback" not in result.stderr
