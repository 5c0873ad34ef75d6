"""The README's two worked examples, run as written on small files of the same shape: the real
ArSarcasm-v2 and Mawqif files are not in the repository."""

import json
from pathlib import Path

from tests.conftest import run_module

FIXTURES = Path(__file__).parent / "fixtures"


def trained_and_evaluated(tmp_path: Path, *train_args: str) -> dict:
    run = tmp_path / "run"
    result = run_module("-m", "src.train", *train_args, f"paths.output_dir={run}")
    assert result.returncode == 0, result.stderr
    assert f"run: {run}" in result.stdout
    result = run_module("-m", "src.evaluate", f"run_dir={run}",
                        f"hydra.run.dir={tmp_path / 'eval'}", "bootstrap_resamples=50")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads((tmp_path / "eval" / "metrics.json").read_text())


def test_arsarcasm_sentiment_scores_f1_pn_on_its_raw_labels(tmp_path):
    metrics = trained_and_evaluated(tmp_path, "experiment=arsarcasm", "model=tfidf",
                                    f"arsarcasm_dir={FIXTURES / 'arsarcasm'}")
    assert list(metrics) == ["data", "sentiment"]
    assert metrics["data"]["test"]["file"].endswith("arsarcasm/testing_data.csv")
    assert metrics["data"]["text_column"]["column"] == "tweet"
    assert metrics["data"]["neutral_labels"]["sentiment"]["labels"] == ["NEU"]
    model = metrics["sentiment"]["model"]
    # F1-PN: the mean F1 of POS and NEG, from the per-class table of the same predictions.
    per_class = metrics["sentiment"]["per_class"]
    assert set(per_class) == {"NEG", "NEU", "POS"}
    assert model["polar_macro_f1"] == (per_class["NEG"]["f1"] + per_class["POS"]["f1"]) / 2


def test_mawqif_stance_reads_its_target_and_scores_each(tmp_path):
    metrics = trained_and_evaluated(tmp_path, "experiment=mawqif", "model=tfidf",
                                    f"mawqif_dir={FIXTURES / 'mawqif'}")
    assert metrics["data"]["target_column"]["column"] == "target"
    targets = metrics["stance"]["targets"]
    assert set(targets["per_target"]) == {"Covid Vaccine", "Digital Transformation",
                                          "Women empowerment"}
    polar = [scores["polar_macro_f1"] for scores in targets["per_target"].values()]
    assert targets["stance_eval_f1"] == sum(polar) / len(polar)
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "| StanceEval score (mean over targets) |" in report
    out = tmp_path / "labels.jsonl"
    result = run_module("-m", "src.predict_bulk",
                        str(FIXTURES / "mawqif" / "Mawqif_AllTargets_Test.csv"), "-o", str(out),
                        "--run-dir", str(tmp_path / "run"), "--target-column", "target")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.open()]
    assert len(rows) == 27 and {r["stance"] for r in rows} <= {"favor", "against", "none"}
