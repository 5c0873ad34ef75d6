import json
import shutil

import pytest

from src import predict, predict_bulk
from src.data.io import read_jsonl
from src.data.paths import RAW_ARTICLE, SPLIT_FILES


@pytest.fixture
def bulk(capsys, tiny_run):
    """Run the bulk command in this process; returns (exit code, rows written, stderr)."""

    def run(source, output, *args):
        code = predict_bulk.main([str(source), "--output", str(output), "--model",
                                  str(tiny_run[0]), *map(str, args)])
        rows = ([json.loads(line) for line in output.read_text().splitlines()]
                if output.exists() else [])
        return code, rows, capsys.readouterr().err

    return run


@pytest.fixture
def articles(tmp_path):
    folder = tmp_path / "articles"
    (folder / "more").mkdir(parents=True)
    shutil.copy(RAW_ARTICLE, folder / "a.txt")
    (folder / "b.txt").write_bytes(b"\x00\x01 not text")
    (folder / "more" / "c.txt").write_text(
        "قال وزير الخارجية الروسي سيرغي لافروف إن المحادثات كانت مثمرة.\n"
        "وأضاف أن الجولة المقبلة ستعقد في أستانا.\n")
    (folder / "notes.md").write_text("not an article")
    return folder


def test_folder_rows_match_predict_and_bad_files_are_reported(bulk, articles, tmp_path, capsys,
                                                              tiny_run):
    code, rows, err = bulk(articles, tmp_path / "out.jsonl")
    assert code == 2 and "b.txt: looks like a binary file" in err
    assert {r["record"] for r in rows} == {0, 2}  # b.txt keeps its number, without rows
    assert predict.main([str(articles / "a.txt"), "--model", str(tiny_run[0]),
                         "--format", "jsonl"]) == 0
    single = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    first = [r for r in rows if r["record"] == 0]
    assert [{k: v for k, v in r.items() if k not in ("record", "source")} for r in first] == \
        [{k: v for k, v in r.items() if k != "file"} for r in single]
    last = [r for r in rows if r["record"] == 2]
    assert [r["speaker"] for r in last] == ["سيرغي لافروف", "سيرغي لافروف"]  # carried over
    source = (articles / "more" / "c.txt").read_text()
    assert source[last[0]["speaker_start"]:last[0]["speaker_end"]] == "سيرغي لافروف"
    assert last[1]["speaker_start"] is None and last[1]["resolution"] == "inherited"
    assert source[last[1]["cue_start"]:last[1]["cue_end"]] == "وأضاف"
    assert list(rows[0]) == list(predict_bulk.COLUMNS)


def test_an_interrupted_run_resumes_where_it_stopped(bulk, articles, tmp_path):
    whole = tmp_path / "whole.jsonl"
    bulk(articles, whole)
    data = whole.read_bytes()
    second_row_of_last = data.index(b'"record": 2', data.index(b'"record": 2') + 1)
    cuts = {len(data) // 3: "", second_row_of_last + 5: "resuming after 2 complete"}
    for cut, message in cuts.items():  # mid-line in the first record, then mid-record
        part = tmp_path / f"part-{cut}.jsonl"
        part.write_bytes(data[:cut])
        _, _, err = bulk(articles, part)
        assert part.read_bytes() == data, cut
        assert message in err


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_table_of_statements_keeps_ids(bulk, tmp_path, suffix):
    from datasets import Dataset

    records = read_jsonl(SPLIT_FILES["test"])[:40]
    table = Dataset.from_list([{"id": r["id"], "text": r["text"]} for r in records])
    source = tmp_path / f"statements{suffix}"
    table.to_json(source) if suffix == ".jsonl" else table.to_parquet(source)
    code, rows, _ = bulk(source, tmp_path / "out.jsonl")
    assert code == 0
    assert [r["source"] for r in rows] == [r["id"] for r in records]
    assert [r["text"] for r in rows] == [r["text"] for r in records]
    assert [r["record"] for r in rows] == list(range(40))


def test_missing_column_and_foreign_output_are_refused(bulk, tmp_path):
    code, _, err = bulk(SPLIT_FILES["test"], tmp_path / "out.jsonl", "--text-column", "body")
    assert code == 2 and "no column 'body'" in err and "--text-column" in err
    foreign = tmp_path / "results.jsonl"
    foreign.write_text('{"id": 1}\n{"id": 2}\n')
    code, _, err = bulk(SPLIT_FILES["test"], foreign)
    assert code == 2 and "results.jsonl:1" in err
    assert foreign.read_text() == '{"id": 1}\n{"id": 2}\n'
