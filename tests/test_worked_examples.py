"""The README's two worked examples, run as written on small files of the same shape: the real
ArSarcasm-v2 and Mawqif files are not in the repository."""

import csv
import json
from pathlib import Path

import pytest

from src import predict_bulk
from src.train import train
from tests.conftest import command, make_cfg
from tests.test_evaluate import evaluated_on

# Made-up rows in each dataset's columns, written per test session: the real files stay outside
# the repository (../shared), and so does anything named like them.
ARSARCASM_COLUMNS = ["tweet", "sarcasm", "sentiment", "dialect"]
SENTIMENT_WORDS = {"POS": ("والله الخدمة روعة", "الحمد لله نجحنا", "فرحانين بالنتيجة"),
                   "NEG": ("والله وضع يقهر", "زهقنا من هالغلاء", "قرار ظالم ومرفوض"),
                   "NEU": ("المباراة الساعة تسعة", "الاجتماع بكرة الصبح", "الرحلة بعد الظهر")}
MAWQIF_COLUMNS = ["ID", "text", "target", "stance", "stance:confidence", "against_reason",
                  "favor_reason", "none_reason", "sarcasm", "sarcasm:confidence", "sentiment",
                  "sentiment:confidence", "datetime", "Date"]
TARGETS = {"Women empowerment": "تمكين المرأة", "Covid Vaccine": "لقاح كورونا",
           "Digital Transformation": "التحول الرقمي"}
STANCE_FORMS = {"Favor": ("أؤيد {t} بقوة", "{t} خطوة رائعة للوطن"),
                "Against": ("أرفض {t} تماما", "{t} قرار خاطئ"),
                "None": ("وش رأيكم في {t}؟", "متى يبدأ {t}؟")}
MOODS = {"Favor": "Positive", "Against": "Negative", "None": "Neutral"}


def write_csv(path: Path, header: list[str], rows: list[list], encoding="utf-8") -> None:
    with path.open("w", newline="", encoding=encoding) as handle:
        csv.writer(handle).writerows([header, *rows])


@pytest.fixture(scope="module")
def arsarcasm_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("arsarcasm")
    for name, count, start in (("training_data.csv", 72, 0), ("testing_data.csv", 24, 500)):
        rows = []
        for i in range(count):
            label = list(SENTIMENT_WORDS)[i % 3]
            rows.append([f"{SENTIMENT_WORDS[label][(i // 3) % 3]} {start + i}", "False", label,
                         "msa"])
        write_csv(folder / name, ARSARCASM_COLUMNS, rows)
    return folder


@pytest.fixture(scope="module")
def mawqif_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mawqif")
    for name, count, start in (("Mawqif_AllTargets_Train.csv", 90, 1),
                               ("Mawqif_AllTargets_Test.csv", 27, 1000)):
        rows = []
        for i in range(count):
            target, stance = list(TARGETS)[i % 3], list(STANCE_FORMS)[(i // 3) % 3]
            text = STANCE_FORMS[stance][(i // 9) % 2].format(t=TARGETS[target])
            rows.append([start + i, f" {text} {start + i}", target, stance, "0.9", "", "", "",
                         "No", "1", MOODS[stance], "1", "2021-05-01 10:00:00+00:00",
                         "01/05/2021"])
        # Mawqif's files open with a byte-order mark.
        write_csv(folder / name, MAWQIF_COLUMNS, rows, encoding="utf-8-sig")
    return folder


def trained_and_evaluated(tmp_path: Path, *train_args: str) -> dict:
    """The README's train and evaluate commands, composed as the command line composes them."""
    run = tmp_path / "run"
    train(make_cfg(run, *train_args))
    evaluated_on(tmp_path / "eval", f"run_dir={run}")
    return json.loads((tmp_path / "eval" / "metrics.json").read_text())


def test_arsarcasm_sentiment_scores_f1_pn_on_its_raw_labels(tmp_path, arsarcasm_dir):
    metrics = trained_and_evaluated(tmp_path, "experiment=ar_sarcasm_v2", "model=tfidf",
                                    f"arsarcasm_dir={arsarcasm_dir}")
    assert list(metrics) == ["data", "sentiment"]
    assert metrics["data"]["test"]["file"] == str(arsarcasm_dir / "testing_data.csv")
    assert metrics["data"]["text_column"]["column"] == "tweet"
    assert metrics["data"]["neutral_labels"]["sentiment"]["labels"] == ["NEU"]
    model = metrics["sentiment"]["model"]
    # F1-PN: the mean F1 of POS and NEG, from the per-class table of the same predictions.
    per_class = metrics["sentiment"]["per_class"]
    assert set(per_class) == {"NEG", "NEU", "POS"}
    assert model["polar_macro_f1"] == (per_class["NEG"]["f1"] + per_class["POS"]["f1"]) / 2


def test_mawqif_stance_reads_its_target_and_scores_each(tmp_path, mawqif_dir, capsys):
    metrics = trained_and_evaluated(tmp_path, "experiment=mawqif", "model=tfidf",
                                    f"mawqif_dir={mawqif_dir}")
    assert metrics["data"]["target_column"]["column"] == "target"
    targets = metrics["stance"]["targets"]
    assert set(targets["per_target"]) == {"Covid Vaccine", "Digital Transformation",
                                          "Women empowerment"}
    polar = [scores["polar_macro_f1"] for scores in targets["per_target"].values()]
    assert targets["stance_eval_f1"] == sum(polar) / len(polar)
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "| StanceEval score (mean over targets) |" in report
    out = tmp_path / "labels.jsonl"
    result = command(capsys, predict_bulk.main, str(mawqif_dir / "Mawqif_AllTargets_Test.csv"),
                     "-o", str(out), "--run-dir", str(tmp_path / "run"),
                     "--target-column", "target")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.open()]
    assert len(rows) == 27 and {r["stance"] for r in rows} <= {"favor", "against", "none"}
