import csv
import io
import json
import shutil
import sys
import time
from pathlib import Path

import pytest

from src import predict
from src.core.errors import ModelError
from src.data.io import read_jsonl
from src.data.paths import ANNOTATIONS_DIR, RAW_ARTICLE
from src.inference import formats
from src.inference.rows import FIELDS as OUTPUT_FIELDS
from src.models.layout import newest_run
from tests.conftest import run_module


@pytest.fixture
def cli(capsys, tiny_run):
    """Run the predict command in this process; returns (exit code, stdout, stderr)."""

    def run(*args, model=None):
        code = predict.main([*map(str, args), "--run-dir", str(model or tiny_run[0])])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def rows_of(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_seed_article_gives_the_annotated_statements_and_speakers(cli):
    code, out, err = cli(RAW_ARTICLE, "--format", "jsonl")
    assert code == 0, err
    rows = rows_of(out)
    seeds = read_jsonl(ANNOTATIONS_DIR / "seed.jsonl")
    assert [(r["text"], r["speaker"]) for r in rows] == [(s["text"], s["speaker"]) for s in seeds]
    source = RAW_ARTICLE.read_text(encoding="utf-8")
    assert all(source[r["start"]:r["end"]] == r["text"] for r in rows)
    assert [r["index"] for r in rows] == list(range(len(seeds)))
    assert all(list(r) == list(OUTPUT_FIELDS) for r in rows)
    assert {r["stance"] for r in rows} <= {"regime", "russia", "opposition", "none"}
    assert rows[10]["quote"].startswith("المقاتلات الروسية")


def test_all_scores_and_csv(cli, tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("قال لافروف إن موسكو ترحب بالاتفاق\nأدان الائتلاف القصف\n", encoding="utf-8")
    code, out, _ = cli(path, "--lines", "--all-scores", "--format", "jsonl")
    rows = rows_of(out)
    assert code == 0 and len(rows) == 2
    for row in rows:
        assert sum(row["stance_scores"].values()) == pytest.approx(1, abs=1e-3)
        # The model's probability, or none when the speaker's camp decided the stance.
        assert row["stance_score"] == (max(row["stance_scores"].values())
                                       if row["stance_source"] == "model" else None)
    assert [row["stance_source"] for row in rows] == ["actor", "actor"]
    code, out, _ = cli(path, "--lines", "--all-scores", "--format", "jsonl", "--stance", "model")
    for row in rows_of(out):
        assert row["stance_score"] == max(row["stance_scores"].values())
    code, out, _ = cli(path, "--lines", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and list(table[0]) == list(OUTPUT_FIELDS)
    assert table[1]["speaker"] == "الائتلاف"


def test_table_keeps_arabic_cells_isolated(cli):
    code, out, _ = cli(RAW_ARTICLE, "--format", "table")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["file", "#", "speaker"]
    assert len(lines) == 20
    row = lines[2]
    assert row.count(formats.ISOLATE) == row.count(formats.POP) >= 2
    # The text column starts at the same display position on every line.
    header_start = formats.width(lines[0][: lines[0].index("text")])
    starts = {formats.width(line[: line.rindex(formats.ISOLATE)]) for line in lines[1:]}
    assert starts == {header_start}


def test_standard_input(cli, monkeypatch):
    data = "قال المتحدث باسم الكرملين إن الهدنة صامدة.".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, _ = cli("-", "--format", "jsonl")
    assert code == 0 and rows_of(out)[0]["file"] == "-"


def test_bad_files_are_reported_and_the_rest_still_processed(cli, tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("أعلنت وزارة الدفاع الروسية إحباط هجوم.", encoding="utf-8")
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    legacy = tmp_path / "legacy.txt"
    legacy.write_bytes("سطر أول\nقال المتحدث".encode("cp1256"))
    code, out, err = cli(tmp_path / "absent.txt", tmp_path, binary, legacy, good,
                         "--format", "jsonl")
    assert code == 2
    assert f"{tmp_path / 'absent.txt'}: no such file" in err
    assert f"{tmp_path}: is a directory" in err
    assert f"{binary}: looks like a binary file" in err
    assert f"{legacy}:1: not utf-8 text" in err and "--encoding" in err
    assert "Traceback" not in err
    assert [r["file"] for r in rows_of(out)] == [str(good)]
    code, out, _ = cli(legacy, "--encoding", "cp1256", "--lines", "--format", "jsonl")
    assert code == 0 and rows_of(out)[1]["text"] == "قال المتحدث"


def test_unreadable_file(cli, tmp_path, monkeypatch):
    path = tmp_path / "locked.txt"
    path.write_text("نص", encoding="utf-8")
    original = Path.read_bytes

    def refuse(self):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    code, _, err = cli(path)
    assert code == 2 and f"{path}: cannot be read (permission denied)" in err


def test_empty_file_warns_and_succeeds(cli, tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n  \n", encoding="utf-8")
    code, out, err = cli(path, "--format", "jsonl")
    assert code == 0 and out == "" and f"{path}: empty file" in err


def test_long_statement_is_truncated_with_a_warning(cli, tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("قال المتحدث " + "إن الوضع صعب جدا " * 20 + "\n", encoding="utf-8")
    code, out, err = cli(path, "--max-length", "16", "--format", "jsonl")
    assert code == 0 and len(rows_of(out)) == 1
    assert f"{path}:1: statement 0 is longer than the model's limit of 16 tokens" in err


def test_text_without_arabic_is_predicted_and_flagged(cli, tmp_path):
    path = tmp_path / "english.txt"
    path.write_text("The ceasefire holds.\n", encoding="utf-8")
    code, out, err = cli(path, "--format", "jsonl")
    assert code == 0 and len(rows_of(out)) == 1 and "has no Arabic text" in err


def test_model_folder_problems_exit_2(cli, tiny_run, tmp_path):
    article = RAW_ARTICLE
    code, _, err = cli(article, model=tmp_path / "absent")
    assert code == 2 and "no such model or run folder" in err
    incomplete = tmp_path / "incomplete"
    shutil.copytree(tiny_run[0] / "stance", incomplete)
    (incomplete / "model.safetensors").unlink()
    code, _, err = cli(article, model=incomplete)
    assert code == 2 and "incomplete model folder" in err
    foreign = tmp_path / "foreign"
    shutil.copytree(tiny_run[0] / "stance", foreign)
    config = json.loads((foreign / "config.json").read_text())
    config["id2label"] = {"0": "favor", "1": "against", "2": "x", "3": "none"}
    (foreign / "config.json").write_text(json.dumps(config))
    code, out, err = cli(article, "--format", "jsonl", model=foreign)
    # The task is what the model saved: its own labels are predicted, and no actor's camp
    # (a Qawl stance) replaces them.
    assert code == 0 and {row["stance"] for row in rows_of(out)} <= {"favor", "against", "x",
                                                                      "none"}
    assert {row["stance_source"] for row in rows_of(out)} == {"model"}
    del config["finetuning_task"]
    (foreign / "config.json").write_text(json.dumps(config))
    code, _, err = cli(article, model=foreign)
    assert code == 2 and "finetuning_task is None, expected one of" in err
    empty = tmp_path / "not-a-run"
    empty.mkdir()
    code, _, err = cli(article, model=empty)
    assert code == 2 and "neither a model folder nor a run folder" in err


def test_run_with_one_task_predicts_it_and_says_which_is_missing(cli, tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run[0] / "stance", run / "stance")
    code, out, err = cli(RAW_ARTICLE, "--format", "jsonl", model=run)
    rows = rows_of(out)
    assert code == 0 and "has no sentiment model" in err
    assert rows[0]["sentiment"] is None and rows[0]["stance"] is not None


def test_single_model_folder(cli, tiny_run):
    code, out, _ = cli(RAW_ARTICLE, "--format", "jsonl", model=tiny_run[0] / "sentiment")
    rows = rows_of(out)
    assert code == 0 and rows[0]["stance"] is None and rows[0]["sentiment"] is not None


def test_newest_run_is_the_default(tmp_path, tiny_run):
    with pytest.raises(ModelError, match="no trained run"):
        newest_run(tmp_path)
    for name in ("old", "new"):
        shutil.copytree(tiny_run[0] / "stance", tmp_path / name / "stance")
        time.sleep(0.01)
    assert newest_run(tmp_path).name == "new"


def test_help_answers_fast():
    started = time.monotonic()
    result = run_module("-m", "src.predict", "--help")
    assert result.returncode == 0 and "--all-scores" in result.stdout
    assert time.monotonic() - started < 1.5
