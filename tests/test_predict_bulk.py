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
        code = predict_bulk.main([str(source), "--output", str(output), "--run-dir",
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
    assert predict.main([str(articles / "a.txt"), "--run-dir", str(tiny_run[0]),
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
        shutil.copy(sidecar(whole), sidecar(part))
        code, _, err = bulk(articles, part)
        assert part.read_bytes() == data, cut
        assert message in err
        assert code == 2 and "b.txt: looks like a binary file" in err  # before the cut or not


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


def test_all_scores_and_max_length_as_predict_takes_them(bulk, tmp_path):
    records = read_jsonl(SPLIT_FILES["test"])[:5]
    source = tmp_path / "statements.jsonl"
    source.write_text("".join(json.dumps({"text": r["text"]}, ensure_ascii=False) + "\n"
                              for r in records), encoding="utf-8")
    code, rows, err = bulk(source, tmp_path / "out.jsonl", "--all-scores", "--max-length", "8")
    assert code == 0, err
    assert list(rows[0]) == [*predict_bulk.COLUMNS, "stance_scores", "sentiment_scores"]
    for row in rows:
        assert set(row["stance_scores"]) == {"regime", "russia", "opposition", "none"}
        assert sum(row["sentiment_scores"].values()) == pytest.approx(1, abs=1e-3)
        assert row["sentiment_score"] == max(row["sentiment_scores"].values())
    assert "longer than the model's limit of 8 tokens" in err


@pytest.fixture
def statements(tmp_path):
    """Three statements of the test split as a JSONL input."""
    source = tmp_path / "statements.jsonl"
    source.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False)
                              + "\n" for r in read_jsonl(SPLIT_FILES["test"])[:3]),
                      encoding="utf-8")
    return source


@pytest.fixture
def refused(capsys, tiny_run):
    """Run the bulk command, which must refuse ``output`` with exit code 2 and leave it as it
    was, byte for byte; returns stderr."""

    def run(source, output, *args):
        before = output.read_bytes()
        code = predict_bulk.main([str(source), "--output", str(output), "--run-dir",
                                  str(tiny_run[0]), *map(str, args)])
        assert code == 2 and output.read_bytes() == before
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return err

    return run


def sidecar(output):
    return output.with_name(output.name + ".meta.json")


def written_then_cut(bulk, source, output) -> bytes:
    """``output`` as a run over ``source`` leaves it when cut off before its last row."""
    code, _, err = bulk(source, output)
    assert code == 0, err
    whole = output.read_bytes()
    output.write_bytes(whole[:whole.rindex(b"\n", 0, -1) + 1])
    return whole


@pytest.mark.parametrize("contents", [b"my notes", b'{"record": 5}\n', b'{"id": 1}\n{"id": 2}\n'])
def test_an_output_it_did_not_write_is_refused_untouched(refused, statements, tmp_path,
                                                          contents):
    output = tmp_path / "o.jsonl"
    output.write_bytes(contents)
    err = refused(statements, output)
    assert err == (f"error: {output}: not written by python -m src.predict_bulk (no "
                   "o.jsonl.meta.json beside it); not touching it: write to another --output, "
                   "or delete it to start over\n")


def test_notes_added_to_its_own_output_are_not_taken_for_a_cut_off_row(bulk, refused,
                                                                        statements, tmp_path):
    output = tmp_path / "o.jsonl"
    bulk(statements, output)
    with output.open("ab") as handle:
        handle.write(b"my notes")
    assert f"{output}:4: not a row of python -m src.predict_bulk" in refused(statements, output)


def grown(source, run) -> list:
    with source.open("a", encoding="utf-8") as handle:
        handle.write('{"text": "نص آخر"}\n')
    return []


@pytest.mark.parametrize(
    ("change", "named"),
    [(grown, "the input {source} (changed since"),
     (lambda source, run: ["--stance", "model"], "--stance (combined then, model now)"),
     (lambda source, run: ["--run-dir", run / "stance"], "the sentiment model ({run}/sentiment "
                                                         "then, none now)"),
     (lambda source, run: ["--max-length", "16"], "--max-length (not given then, 16 now)")],
)
def test_resuming_needs_the_input_models_and_settings_it_started_with(bulk, refused, statements,
                                                                      tmp_path, tiny_run, change,
                                                                      named):
    output = tmp_path / "o.jsonl"
    written_then_cut(bulk, statements, output)
    err = refused(statements, output, *change(statements, tiny_run[0]))
    refusal = err.splitlines()[-1]  # after a warning of a missing task, say
    assert refusal.startswith(f"error: {output}: written from another input, models or "
                              "settings: ")
    assert named.format(source=statements, run=tiny_run[0]) in refusal
    assert refusal.endswith("; not touching it: write to another --output, or delete it to "
                            "start over")
    assert err.count("error:") == 1


def test_resuming_as_it_started_goes_on(bulk, statements, tmp_path):
    output = tmp_path / "o.jsonl"
    whole = written_then_cut(bulk, statements, output)
    code, _, err = bulk(statements, output)
    assert code == 0 and output.read_bytes() == whole
    assert "resuming after 1 complete records" in err  # the last one kept may be cut off


def test_an_output_folder_is_refused(capsys, statements, tmp_path, tiny_run):
    code = predict_bulk.main([str(statements), "-o", str(tmp_path), "--run-dir",
                              str(tiny_run[0])])
    err = capsys.readouterr().err
    assert code == 2 and err == f"error: {tmp_path}: a folder; expected a .jsonl file to write\n"


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_the_text_column_is_checked_before_the_input_is_streamed(bulk, tmp_path, suffix,
                                                                 monkeypatch):
    import datasets

    table = datasets.Dataset.from_list([{"id": "a", "body": "نص"}])
    source = tmp_path / f"statements{suffix}"
    table.to_json(source) if suffix == ".jsonl" else table.to_parquet(source)

    def streamed(*args, **kwargs):
        raise AssertionError("the input was streamed before its columns were checked")

    monkeypatch.setattr(datasets, "load_dataset", streamed)
    code, _, err = bulk(source, tmp_path / "out.jsonl")
    assert code == 2
    assert err == (f"error: {source}: no column 'text' (columns: id, body); "
                   "pass --text-column\n")


def test_an_output_in_a_missing_folder_is_refused(capsys, statements, tmp_path, tiny_run):
    output = tmp_path / "absent" / "o.jsonl"
    code = predict_bulk.main([str(statements), "-o", str(output), "--run-dir", str(tiny_run[0])])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {output}: no folder") and "Traceback" not in err
    assert not output.parent.exists()
