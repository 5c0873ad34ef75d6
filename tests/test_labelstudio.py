"""Label Studio round trip: tasks out, export back in, the CLI, and the labelling config."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from src.data.io import DataError, read_jsonl, write_jsonl
from src.data.labelstudio import (
    FLAGS_CONTROL,
    INHERITED_CONTROL,
    SPAN_CONTROL,
    SPANS,
    from_export,
    main,
    read_export,
    to_tasks,
)
from src.data.schema import SENTIMENTS, STANCES

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "labelstudio_export.json"
CONFIG = ROOT / "data" / "labelstudio" / "config.xml"

RECORDS = [
    {
        "id": "seed-01",
        "text": "كشف مركز التنسيق الروسي الجمعة إحباط هجوم مسلح على قاعدة حميميم.",
        "stance": "russia",
        "sentiment": "positive",
        "speaker": "مركز التنسيق الروسي",
        "source": "seed",
        "derived_from": None,
        "start": 53,
        "end": 118,
    },
    {
        "id": "auth-06-1",
        "text": "عبّرت المعارضة السورية عن مخاوف جدية من هجوم كاسح على المنطقة.",
        "stance": "opposition",
        "sentiment": "negative",
        "speaker": "المعارضة السورية",
        "source": "authored",
        "derived_from": "seed-06",
        "group": "seed-06",
        "split": "dev",
    },
    {
        "id": "seed-07",
        "text": "ورجّح التدخل الروسي في الحرب السورية الكفة لصالح النظام.",
        "stance": "none",
        "sentiment": "neutral",
        "speaker": None,
        "source": "seed",
        "derived_from": None,
    },
]


def choices(stance: str, sentiment: str) -> list[dict]:
    return [
        {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": [value]}}
        for name, value in (("stance", stance), ("sentiment", sentiment))
    ]


def annotate(tasks: list[dict], labels: dict[str, tuple[str, str]]) -> list[dict]:
    """What Label Studio exports once the tasks are labelled: Label Studio's own task id,
    the imported data unchanged, and one annotation each."""
    return [
        {
            "id": 100 + index,
            "data": task["data"],
            "annotations": [
                {
                    "id": index,
                    "completed_by": 1,
                    "was_cancelled": False,
                    "result": choices(*labels[task["data"]["id"]]),
                    "created_at": "2024-05-01T09:00:00.000000Z",
                    "updated_at": "2024-05-01T09:00:00.000000Z",
                }
            ],
            "predictions": task.get("predictions", []),
        }
        for index, task in enumerate(tasks)
    ]


def task_with(**data: object) -> list[dict]:
    return [{"id": 7, "data": data, "annotations": [{"result": choices("none", "neutral")}]}]


# --- to_tasks / from_export ---------------------------------------------------------------


def test_round_trip_keeps_text_fields_and_labels() -> None:
    tasks = to_tasks(RECORDS)
    labels = {r["id"]: (r["stance"], r["sentiment"]) for r in RECORDS}
    back = from_export(annotate(tasks, labels), "export.json")
    strip = ("annotator", "annotated_at")
    assert [{k: v for k, v in r.items() if k not in strip} for r in back] == RECORDS
    assert [list(r)[:4] for r in back] == [["id", "text", "stance", "sentiment"]] * 3


def test_tasks_hide_labels_and_provenance_from_annotators() -> None:
    record = {**RECORDS[0], "annotator": 4, "annotated_at": "2024-01-01T00:00:00Z"}
    (task,) = to_tasks([record])
    assert task["data"]["text"] == RECORDS[0]["text"]
    assert task["data"]["speaker"] == RECORDS[0]["speaker"]
    assert not {"stance", "sentiment", "annotator", "annotated_at"} & set(task["data"])
    assert "predictions" not in task


def test_predictions_become_pre_annotations() -> None:
    predictions = {
        "seed-01": {
            "stance": "regime",
            "sentiment": "negative",
            "stance_score": 0.9,
            "sentiment_score": 0.6,
        },
        "seed-07": {"stance": "none", "sentiment": "neutral"},
        "elsewhere": {"stance": "russia", "sentiment": "positive"},
    }
    tasks = to_tasks(RECORDS, predictions, model_version="xlmr-3")
    first, second, third = tasks
    (prediction,) = first["predictions"]
    assert prediction["model_version"] == "xlmr-3"
    assert prediction["score"] == 0.6
    assert [
        (r["from_name"], r["to_name"], r["type"], r["value"], r["score"])
        for r in prediction["result"]
    ] == [
        ("stance", "text", "choices", {"choices": ["regime"]}, 0.9),
        ("sentiment", "text", "choices", {"choices": ["negative"]}, 0.6),
    ]
    assert "predictions" not in second
    (unscored,) = third["predictions"]
    assert "score" not in unscored
    assert [r["value"]["choices"] for r in unscored["result"]] == [["none"], ["neutral"]]
    # A prediction is a suggestion, never a label: an export where nobody annotated is empty.
    for task in tasks:
        task["annotations"] = []
    assert from_export(tasks, "export.json") == []


def test_fixture_import() -> None:
    skipped: Counter[str] = Counter()
    records = read_export(FIXTURE, skipped)
    by_id = {r["id"]: r for r in records}
    assert list(by_id) == ["seed-01", "seed-06", "seed-10", "auth-05-1"]
    assert skipped == {"all annotations cancelled": 1, "no annotation": 1}
    # Edited last, though listed first.
    assert by_id["seed-06"]["stance"] == "opposition"
    assert by_id["seed-06"]["annotator"] == "rana@example.org"
    assert by_id["seed-06"]["annotated_at"] == "2024-05-02T11:30:00.000000Z"
    # A later cancelled annotation does not win.
    assert (by_id["seed-10"]["stance"], by_id["seed-10"]["annotator"]) == (
        "opposition",
        "omar@example.org",
    )
    assert by_id["seed-01"]["annotator"] == 1
    assert by_id["seed-01"]["start"] == 53
    authored = by_id["auth-05-1"]
    assert (authored["derived_from"], authored["group"], authored["split"]) == (
        "seed-05",
        "seed-05",
        "train",
    )
    assert (authored["stance"], authored["sentiment"]) == ("russia", "negative")


def test_tie_on_time_goes_to_the_later_annotation() -> None:
    export = task_with(id="x", text="نص")
    first = {"result": choices("regime", "positive"), "created_at": "2024-05-01T09:00:00Z"}
    second = {"result": choices("russia", "negative"), "created_at": "2024-05-01T09:00:00"}
    export[0]["annotations"] = [first, second]
    (record,) = from_export(export, "e.json")
    assert (record["stance"], record["annotated_at"]) == ("russia", "2024-05-01T09:00:00")


@pytest.mark.parametrize(
    ("export", "expected"),
    [
        ({"tasks": []}, "e.json: expected a list of tasks"),
        ([{"text": "نص"}], "e.json: task 0: expected an object with a 'data' object"),
        (task_with(id="x"), "e.json: task 0 (id 'x'): expected a non-empty string data.text"),
        (task_with(id="x", text=""), "task 0 (id 'x'): expected a non-empty string data.text"),
        (task_with(text="نص"), "task 0 (id 7): expected data.id"),
    ],
)
def test_malformed_export(export: object, expected: str) -> None:
    with pytest.raises(DataError, match=re.escape(expected)):
        from_export(export, "e.json")


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (choices("rusia", "positive"), "stance 'rusia' is not one of regime, russia"),
        (choices("russia", "happy"), "sentiment 'happy' is not one of positive, negative"),
        (choices("russia", "positive")[:1], "annotation has no sentiment choice"),
        (
            [{"from_name": "stance", "type": "choices", "value": {"choices": []}}],
            "expected exactly one stance choice",
        ),
        ("russia", "expected the annotation's 'result' to be a list"),
    ],
)
def test_bad_annotation_names_file_and_task(result: object, expected: str) -> None:
    ok = {"id": "ok", "text": "نص"}
    export = task_with(**ok) + task_with(id="seed-05", text="نص آخر")
    export[1]["annotations"] = [{"result": result}]
    with pytest.raises(DataError) as caught:
        from_export(export, "exports/project-7.json")
    message = str(caught.value)
    assert message.startswith("exports/project-7.json: task 1 (id 'seed-05'): ")
    assert expected in message


def test_other_controls_are_ignored() -> None:
    export = task_with(id="x", text="نص")
    comment = {"from_name": "note", "type": "textarea", "value": {"text": ["unclear"]}}
    export[0]["annotations"][0]["result"].append(comment)
    (record,) = from_export(export, "e.json")
    assert (record["stance"], record["sentiment"]) == ("none", "neutral")


# --- CLI --------------------------------------------------------------------------------


def test_cli_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = tmp_path / "records.jsonl"
    write_jsonl(records, RECORDS)
    predictions = tmp_path / "pred.jsonl"
    write_jsonl(
        predictions,
        [{"id": "seed-07", "stance": "none", "sentiment": "neutral", "stance_score": 0.7}],
    )
    tasks_path = tmp_path / "tasks.json"
    assert (
        main(
            [
                "export",
                str(records),
                str(tasks_path),
                "--predictions",
                str(predictions),
                "--model-version",
                "v1",
            ]
        )
        == 0
    )
    assert "wrote 3 tasks" in capsys.readouterr().err
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    assert [t["data"]["id"] for t in tasks if "predictions" in t] == ["seed-07"]

    export = tmp_path / "export.json"
    labelled = annotate(tasks[:2], {r["id"]: (r["stance"], r["sentiment"]) for r in RECORDS})
    export.write_text(json.dumps([*labelled, {"id": 9, "data": tasks[2]["data"]}]), "utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["import", str(export), str(out)]) == 0
    assert capsys.readouterr().err.strip() == (
        f"wrote 2 records to {out}; skipped 1 tasks (1 no annotation)"
    )
    back = read_jsonl(out)
    assert [(r["text"], r["stance"], r["sentiment"]) for r in back] == [
        (r["text"], r["stance"], r["sentiment"]) for r in RECORDS[:2]
    ]


def test_cli_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("keep me\n", encoding="utf-8")
    assert main(["import", str(FIXTURE), str(out)]) == 2
    assert capsys.readouterr().err == f"error: {out}: already exists (use --force to overwrite)\n"
    assert out.read_text(encoding="utf-8") == "keep me\n"
    assert main(["import", str(FIXTURE), str(out), "--force"]) == 0
    assert len(read_jsonl(out)) == 4


@pytest.mark.parametrize(
    ("command", "content", "expected"),
    [
        (
            "import",
            '[{"data": {"id": "a"}, "annotations": []}]',
            "task 0 (id 'a'): expected a non-empty string data.text",
        ),
        ("import", "[{", "in.txt:1: not valid JSON"),
        (
            "export",
            '{"id": "a", "text": "نص"}\n{"id": "a", "text": "نص"}\n',
            "in.txt:2: expected a unique 'id'",
        ),
        ("export", '{"id": "a"}\n', "in.txt:1: expected a non-empty string 'text'"),
    ],
)
def test_cli_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, content: str, expected: str
) -> None:
    source = tmp_path / "in.txt"
    source.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    assert main([command, str(source), str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert expected in err
    assert not out.exists()


def test_cli_bad_prediction_names_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = tmp_path / "records.jsonl"
    write_jsonl(records, RECORDS)
    predictions = tmp_path / "pred.jsonl"
    write_jsonl(
        predictions,
        [
            {"id": "seed-01", "stance": "russia", "sentiment": "positive"},
            {"id": "seed-07", "stance": "Russia", "sentiment": "neutral"},
        ],
    )
    out = tmp_path / "tasks.json"
    assert main(["export", str(records), str(out), "--predictions", str(predictions)]) == 2
    assert f"{predictions}:2: stance 'Russia' is not one of" in capsys.readouterr().err
    assert not out.exists()


def test_cli_as_module_has_no_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    done = subprocess.run(
        [sys.executable, "-m", "src.data.labelstudio", "import", str(missing), str(tmp_path / "o")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == f"error: {missing}: no such file\n"


# --- labelling config ---------------------------------------------------------------------


def test_config_choices_match_schema() -> None:
    root = ET.parse(CONFIG).getroot()
    blocks = {c.get("name"): c for c in root.iter("Choices")}
    assert set(blocks) == {"stance", "sentiment", FLAGS_CONTROL}
    assert tuple(c.get("value") for c in blocks[FLAGS_CONTROL].iter("Choice")) == (
        "speaker_inherited", "clutter")
    (spans,) = root.iter("Labels")
    assert (spans.get("name"), spans.get("toName")) == (SPAN_CONTROL, "text")
    assert tuple(label.get("value") for label in spans.iter("Label")) == SPANS
    assert [t.get("name") for t in root.iter("TextArea")] == [INHERITED_CONTROL]
    for name, labels in (("stance", STANCES), ("sentiment", SENTIMENTS)):
        block = blocks[name]
        assert (block.get("toName"), block.get("choice"), block.get("required")) == (
            "text",
            "single",
            "true",
        )
        assert tuple(c.get("value") for c in block.iter("Choice")) == labels
        # An alias would replace the value in the export and break the import.
        assert not any(c.get("alias") for c in block.iter("Choice"))
    (text,) = [t for t in root.iter("Text") if t.get("name") == "text"]
    assert text.get("value") == "$text"
    assert any(
        "rtl" in (view.get("style") or "") and text in list(view) for view in root.iter("View")
    )
    assert any(h.get("value") == "$speaker" for h in root.iter("Header"))


# --- real news: speaker and cue spans ------------------------------------------------------

REAL = {
    "id": "real-art-1-03",
    "text": "وقال المتحدث باسم الكرملين دميتري بيسكوف إن موسكو ترحب بالاتفاق.",
    "source": "real",
    "article_id": "art-1",
    "corpus": "ANT v2.1",
    "outlet": "BBC",
    "url": "http://example.org/1",
    "date": "2018-04-02",
    "index": 3,
}


def span(label: str, text: str, phrase: str) -> dict:
    start = text.index(phrase)
    return {"from_name": SPAN_CONTROL, "to_name": "text", "type": "labels",
            "value": {"start": start, "end": start + len(phrase), "text": phrase,
                      "labels": [label]}}


def test_span_predictions_go_out_and_annotations_come_back() -> None:
    text = REAL["text"]
    speaker = [text.index("دميتري"), text.index("دميتري") + len("دميتري بيسكوف")]
    cue = [0, len("وقال")]
    (task,) = to_tasks([REAL], {REAL["id"]: {"stance": "russia", "sentiment": "positive",
                                             "stance_score": 0.7, "sentiment_score": 0.6,
                                             "speaker_span": speaker, "cue_span": cue}})
    predicted = {item["from_name"] + ":" + item["type"]: item
                 for item in task["predictions"][0]["result"]}
    marked = [item["value"] for item in task["predictions"][0]["result"]
              if item["type"] == "labels"]
    assert [(v["labels"], v["text"]) for v in marked] == [(["speaker"], "دميتري بيسكوف"),
                                                          (["cue"], "وقال")]
    assert predicted["stance:choices"]["value"] == {"choices": ["russia"]}
    # The annotator accepts the prediction as it stands: the export carries it back.
    task["annotations"] = [{"result": task["predictions"][0]["result"]}]
    (record,) = from_export([task], "export.json")
    assert record["speaker"] == "دميتري بيسكوف"
    assert record["speaker_span"] == speaker and record["cue_span"] == cue
    assert (record["speaker_inherited"], record["clutter"]) == (False, False)
    assert record["article_id"] == "art-1" and record["index"] == 3


def test_inherited_speaker_and_clutter_come_back() -> None:
    text = "وأضاف أن الاتفاق صامد."
    inherited = {"data": dict(REAL, id="real-art-1-04", text=text, index=4), "annotations": [{
        "result": [*choices("russia", "neutral"), span("cue", text, "وأضاف"),
                   {"from_name": FLAGS_CONTROL, "to_name": "text", "type": "choices",
                    "value": {"choices": ["speaker_inherited"]}},
                   {"from_name": INHERITED_CONTROL, "to_name": "text", "type": "textarea",
                    "value": {"text": ["بيسكوف"]}}]}]}
    clutter = {"data": dict(REAL, id="real-art-1-05", text="شارك هذا المقال", index=5),
               "annotations": [{"result": [*choices("none", "neutral"),
                                           {"from_name": FLAGS_CONTROL, "to_name": "text",
                                            "type": "choices",
                                            "value": {"choices": ["clutter"]}}]}]}
    narration = {"data": dict(REAL, id="real-art-1-06", text="وتشهد المنطقة هدوءا.", index=6),
                 "annotations": [{"result": choices("none", "neutral")}]}
    first, second, third = from_export([inherited, clutter, narration], "export.json")
    assert (first["speaker"], first["speaker_span"], first["speaker_inherited"]) == (
        "بيسكوف", None, True)
    assert first["cue_span"] == [0, 5]
    assert (second["clutter"], second["speaker"]) == (True, None)
    # A real task with no span at all still gets every real field, empty.
    assert (third["speaker"], third["speaker_span"], third["cue_span"], third["clutter"]) == (
        None, None, None, False)


@pytest.mark.parametrize("bad, message", [
    ({"start": 3, "end": 999, "labels": ["speaker"]}, "is not inside the text"),
    ({"start": 0, "end": 4, "labels": ["speaker", "cue"]}, "expected one span label"),
])
def test_bad_spans_are_named(bad: dict, message: str) -> None:
    task = {"data": REAL, "annotations": [{"result": [
        *choices("russia", "positive"),
        {"from_name": SPAN_CONTROL, "to_name": "text", "type": "labels", "value": bad}]}]}
    with pytest.raises(DataError, match=message):
        from_export([task], "export.json")


def test_inherited_tick_needs_a_name() -> None:
    task = {"data": REAL, "annotations": [{"result": [
        *choices("russia", "positive"),
        {"from_name": FLAGS_CONTROL, "to_name": "text", "type": "choices",
         "value": {"choices": ["speaker_inherited"]}}]}]}
    with pytest.raises(DataError, match="no inherited speaker is written"):
        from_export([task], "export.json")


# --- duplicated and malformed ids, deep nesting -----------------------------------------------


def labelled_task(task_id: int, stance: str, when: str | None) -> dict:
    annotation: dict = {"result": choices(stance, "neutral")}
    if when is not None:
        annotation["updated_at"] = when
    return {"id": task_id, "data": {"id": "x", "text": "نص"}, "annotations": [annotation]}


@pytest.mark.parametrize(
    ("times", "kept"),
    [
        (("2024-05-02T09:00:00Z", "2024-05-01T09:00:00Z"), ("russia", 0, 100)),
        (("2024-05-01T09:00:00Z", "2024-05-02T09:00:00Z"), ("regime", 2, 104)),
        ((None, None), ("regime", 2, 104)),
    ],
)
def test_same_data_id_twice_keeps_the_latest_and_says_so(
    capsys: pytest.CaptureFixture[str], times: tuple, kept: tuple
) -> None:
    first, last = labelled_task(100, "russia", times[0]), labelled_task(104, "regime", times[1])
    records = from_export([first, *task_with(id="y", text="نص آخر"), last], "e.json")
    assert [(r["id"], r["stance"]) for r in records] == [("x", kept[0]), ("y", "none")]
    err = capsys.readouterr().err
    assert err.startswith("warning: e.json: data.id 'x' is in task 0 (Label Studio id 100) and "
                          "task 2 (Label Studio id 104)")
    assert f"kept task {kept[1]} (Label Studio id {kept[2]})" in err and err.count("\n") == 1


@pytest.mark.parametrize("bad_id", [["x"], {"id": "x"}])
def test_list_or_dict_id_names_the_task(bad_id: object) -> None:
    with pytest.raises(DataError) as caught:
        from_export(task_with(id=bad_id, text="نص"), "e.json")
    message = str(caught.value)
    assert message.startswith("e.json: task 0 (Label Studio id 7): expected data.id to be a "
                              "string or a number, got ")
    assert "\n" not in message


def test_deeply_nested_export_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export.json"
    export.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert main(["import", str(export), str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {export}: JSON nested too deeply (expected a list of tasks)\n"
