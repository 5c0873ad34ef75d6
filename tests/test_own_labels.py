"""A model trained with ``data=table`` on labels of the user's own works in every command: the
task is read from what the model saved, never guessed from its labels."""

import json

import pytest

from src import export, predict, predict_bulk
from src.data.paths import RAW_ARTICLE
from src.models import layout
from src.train import train
from tests.conftest import make_cfg

pytestmark = pytest.mark.slow  # trains a tiny run and exports it to ONNX

STANCES = ("pro", "anti", "mixed")
SENTIMENTS = ("good", "bad")
WORDS = ("الحكومة", "المعارضة", "المفاوضات", "الهدنة", "القصف", "المساعدات")


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    """A tiny run on a CSV with made-up stance and sentiment labels."""
    folder = tmp_path_factory.mktemp("own_labels")
    rows = ["text,position,tone"]
    for i in range(60):
        rows.append(f"قال المتحدث إن {WORDS[i % len(WORDS)]} {i} مستمرة,"
                    f"{STANCES[i % 3]},{SENTIMENTS[i % 2]}")
    table = folder / "mine.csv"
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = folder / "run"
    train(make_cfg(run, "model=tiny", "trainer=cpu_smoke", "data=table",
                   f"data.files.train={table}", "data.label_columns.stance=position",
                   "data.label_columns.sentiment=tone"))
    return run


def test_the_run_folder_says_its_tasks_and_labels(own_run):
    folders = layout.model_folders(own_run)
    assert set(folders) == {"stance", "sentiment"}
    assert sorted(layout.saved(folders["stance"])[1]) == sorted(STANCES)
    assert sorted(layout.saved(folders["sentiment"])[1]) == sorted(SENTIMENTS)


def test_predict_labels_with_the_users_labels(own_run, capsys):
    code = predict.main([str(RAW_ARTICLE), "--format", "jsonl", "--model", str(own_run)])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and {r["stance"] for r in rows} <= set(STANCES)
    assert {r["sentiment"] for r in rows} <= set(SENTIMENTS)
    # An actor's camp is a Qawl stance, not one of these labels: the model decides every row.
    assert {r["stance_source"] for r in rows} == {"model"}


def test_predict_bulk_and_the_onnx_export(own_run, tmp_path, capsys):
    statements = tmp_path / "statements.jsonl"
    statements.write_text("".join(json.dumps({"id": f"s{i}", "text": f"قال الوزير إن {w} مستمرة"},
                                             ensure_ascii=False) + "\n"
                                  for i, w in enumerate(WORDS)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code = predict_bulk.main([str(statements), "--output", str(out), "--model", str(own_run)])
    assert code == 0, capsys.readouterr().err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(WORDS) and {r["stance"] for r in rows} <= set(STANCES)

    code = export.main(["--run-dir", str(own_run), "--onnx"])
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    code = predict.main([str(RAW_ARTICLE), "--format", "jsonl", "--model", str(own_run),
                         "--backend", "onnx"])
    out_text, err = capsys.readouterr()
    assert code == 0, err
    assert {json.loads(line)["sentiment"] for line in out_text.splitlines()} <= set(SENTIMENTS)
