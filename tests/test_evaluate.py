import io
import json
import shutil
import sys
from functools import partial

import pytest
from hydra import compose, initialize_config_dir

from src import export
from src.core.config import CONFIG_DIR
from src.core.errors import ModelError
from src.data.io import DataError
from src.data.schema import TASKS
from src.evaluation import report
from src.evaluation.report import evaluate
from src.models import layout
from tests.conftest import run_module


def eval_overrides(output_dir, *overrides) -> list[str]:
    return [f"paths.output_dir={output_dir}", "bootstrap_resamples=100", *overrides]


def eval_cfg(output_dir, *overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("eval", overrides=eval_overrides(output_dir, *overrides))


def evaluated_on(output_dir, *overrides) -> dict:
    """``evaluate`` as ``python -m src.evaluate`` runs it with these overrides."""
    return evaluate(eval_cfg(output_dir, *overrides), eval_overrides(output_dir, *overrides))


@pytest.fixture(scope="module")
def evaluated(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    # The whole test split: the run trained on a sample of each (data.max_samples=96).
    return out, evaluated_on(out, f"run_dir={tiny_run[0]}", "data.max_samples=null")


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


@pytest.fixture
def own_table(tmp_path):
    """A test file of one's own: three statements, a sentiment column and no stance one."""
    table = tmp_path / "mine.csv"
    table.write_text("text,sentiment\nرحب المبعوث بالاتفاق,positive\nأدان الائتلاف القصف,"
                     "negative\nعقد الاجتماع في جنيف,neutral\n", encoding="utf-8")
    return table


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_own_csv_test_file_with_a_progress_bar_on_a_terminal(tiny_run, tmp_path, own_table,
                                                              monkeypatch):
    monkeypatch.setattr("sys.stderr", Terminal())
    results = evaluated_on(tmp_path / "out", f"run_dir={tiny_run[0] / 'sentiment'}",
                           f"data.files.test={own_table}", "data.max_samples=200")
    assert set(results) == {"data", "sentiment"}
    assert results["sentiment"]["slices"]["no named speaker"]["n"] >= 1
    assert results["sentiment"]["per_class"]["positive"]["support"] == 1
    assert (f"| test split | `{own_table}`, 3 statements | the command line "
            f"(data.files.test={own_table}) |") in (tmp_path / "out" / "report.md").read_text()
    bars = sys.stderr.getvalue()
    assert "sentiment: test split" in bars and "/3 [" in bars
    assert "sentiment: behavioural tests" in bars


def test_the_newest_run_is_the_default(tiny_run, tmp_path, own_table, monkeypatch, capsys):
    monkeypatch.setattr(report, "newest_run", lambda: tiny_run[0] / "sentiment")
    results = evaluated_on(tmp_path / "out", f"data.files.test={own_table}",
                           "data.max_samples=200")
    assert set(results) == {"data", "sentiment"}
    err = capsys.readouterr().err
    assert f"using model {tiny_run[0] / 'sentiment'}" in err
    assert "test split" not in err, "no progress bar when stderr is not a terminal"


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
    results = evaluated_on(out, f"run_dir={multirun}", "data.max_samples=100")
    assert results["runs"] == ["0", "1"]
    macro = results["mean_std"]["stance"]["macro_f1"]
    single = json.loads((out / "0" / "metrics.json").read_text())["stance"]["model"]["macro_f1"]
    assert macro == {"mean": pytest.approx(single), "std": 0.0}
    assert "± 0.000" in (out / "report.md").read_text()
    assert results["data"]["0"]["test"]["statements"] == 100


def test_a_task_without_its_label_column_is_a_clear_error(tiny_run, tmp_path, own_table):
    with pytest.raises(DataError, match=r"data\.label_columns has no sentiment, and the run "
                                        r"has a sentiment model"):
        evaluated_on(tmp_path / "out", f"run_dir={tiny_run[0] / 'sentiment'}", "data=table",
                     f"data.files.train={own_table}", "~data.label_columns.sentiment")


def test_missing_run_folder_is_a_clear_error(tmp_path):
    result = run_module("-m", "src.evaluate", f"run_dir={tmp_path / 'absent'}",
                        f"hydra.run.dir={tmp_path / 'out'}")
    assert result.returncode == 2
    assert "absent: no such model or run folder" in result.stderr
    assert "Traceback" not in result.stderr


def command_error(capsys, cfg) -> str:
    """What python -m src.evaluate prints for ``cfg``, which must stop it with exit code 2."""
    from src import evaluate as command

    with pytest.raises(SystemExit) as stopped:
        command.main(cfg)
    assert stopped.value.code == 2
    return capsys.readouterr().err


def test_no_trained_run_is_a_clear_error(tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setattr(report, "newest_run", partial(layout.newest_run, runs))
    err = command_error(capsys, eval_cfg(tmp_path / "out"))
    assert err.startswith(f"error: no trained run under {runs}: train one with")
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("run", ["sentiment", "."])
def test_a_test_file_without_a_text_column_is_a_clear_error(tiny_run, tmp_path, run):
    """Of one task or of the run's two: the text column every task needs is the error."""
    table = tmp_path / "mine.csv"
    table.write_text("body,stance,sentiment\nرحب المبعوث بالاتفاق,none,positive\n",
                     encoding="utf-8")
    with pytest.raises(DataError) as refused:
        evaluated_on(tmp_path / "out", f"run_dir={tiny_run[0] / run}", f"data.files.test={table}")
    assert str(refused.value).startswith(f"{table}: missing column(s) text")
    assert "found body, stance, sentiment" in str(refused.value)  # not the loader's row column


@pytest.mark.slow
def test_onnx_backend_scores_as_torch_does(tiny_run, evaluated, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run[0] / "stance", run / "stance")
    assert export.main(["--run-dir", str(run), "--onnx"]) == 0
    capsys.readouterr()
    out = tmp_path / "onnx"
    results = evaluated_on(out, f"run_dir={run}", "backend=onnx", "data.max_samples=60")
    assert set(results) == {"data", "stance", "speakers"}
    torch_rows = {row["text"]: row for row in map(json.loads, evaluated[0].joinpath(
        "predictions.jsonl").open())}
    onnx_rows = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    assert len(onnx_rows) == 60
    disagree = [row["text"] for row in onnx_rows
                if row["stance_predicted"] != torch_rows[row["text"]]["stance_predicted"]]
    assert len(disagree) <= 1, disagree
    assert "Backend: onnx." in (out / "report.md").read_text()
    # Only the fp32 file was written: int8 is looked for, and its absence reported.
    with pytest.raises(ModelError, match="--onnx --int8"):
        evaluated_on(tmp_path / "int8", f"run_dir={run}", "backend=onnx-int8")
    with pytest.raises(ModelError, match="backend=tensorrt: expected one of torch"):
        evaluated_on(tmp_path / "bad", f"run_dir={run}", "backend=tensorrt")


@pytest.mark.slow
def test_multirun_over_runs_writes_a_report_each_and_a_summary(tiny_run, tmp_path):
    runs = [tmp_path / "a", tmp_path / "b"]
    for run, tasks in zip(runs, [TASKS, ["stance"]], strict=True):
        run.mkdir()
        for task in tasks:
            (run / task).symlink_to(tiny_run[0] / task)
    sweep = tmp_path / "sweep"
    result = run_module("-m", "src.evaluate", "-m", f"run_dir={runs[0]},{runs[1]}",
                        f"hydra.sweep.dir={sweep}", "bootstrap_resamples=20",
                        "data.max_samples=40")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "statement/s" not in result.stderr
    for job in ("0", "1"):
        assert (sweep / job / "report.md").stat().st_size > 0
    summary = json.loads((sweep / "summary.json").read_text())
    assert [job["label"] for job in summary["jobs"]] == [f"run_dir={run}" for run in runs]
    first = json.loads((sweep / "0" / "metrics.json").read_text())
    assert summary["jobs"][0]["headline"]["stance"]["macro_f1"] == first["stance"]["model"][
        "macro_f1"]
    assert set(summary["jobs"][1]["headline"]) == {"stance"}
    stance, sentiment = (sweep / "summary.md").read_text().split("## sentiment")
    assert f"| [run_dir={runs[1]}](1/report.md) | " in stance
    assert f"| [run_dir={runs[0]}](0/report.md) | " in sentiment
    assert f"run_dir={runs[1]}" not in sentiment
