"""Round trip between the dataset and Label Studio (labelling config: data/labelstudio/config.xml).

``to_tasks`` turns records into import tasks, optionally pre-annotated with model predictions;
``from_export`` turns a Label Studio JSON export (the full "JSON" format, not "JSON-MIN") back
into records. From the command line::

    python -m src.data.labelstudio export IN.jsonl OUT.json [--predictions PRED.jsonl]
    python -m src.data.labelstudio import EXPORT.json OUT.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from src.core.errors import USAGE, error, reported, warn
from src.data.io import DataError, read_numbered_jsonl, write_jsonl
from src.data.schema import FIELDS, LABELS, TASKS

# The object tag that the config's Choices point at.
TO_NAME = "text"
# The Labels control that marks spans on the text, and its labels; a record holds each as
# ``<label>_span: [start, end]`` (character offsets into ``text``) or null.
SPAN_CONTROL = "spans"
SPANS = ("speaker", "cue")
# Ticks for a speaker carried over from an earlier statement and for web clutter, and the box
# where the carried-over speaker's name is written (it is not in the statement's text).
FLAGS_CONTROL = "flags"
INHERITED_CONTROL = "inherited_speaker"
# Label provenance that `from_export` adds; kept out of task data with the labels themselves.
PROVENANCE = ("annotator", "annotated_at")


def to_tasks(
    records: Iterable[Mapping],
    predictions: Mapping[str, Mapping] | None = None,
    model_version: str | None = None,
) -> list[dict]:
    """Label Studio import tasks, one per record; ``predictions`` (id -> ``stance``,
    ``sentiment`` and optional ``stance_score``/``sentiment_score``) become pre-annotations."""
    predictions = predictions or {}
    tasks = []
    for record in records:
        # Existing labels stay out of the task data: annotators would see them in the data
        # manager and be biased, and on import a stale annotator could outlive a new
        # annotation. Pass labels as predictions to have them pre-selected instead.
        data = {k: v for k, v in record.items() if k not in TASKS and k not in PROVENANCE}
        task: dict = {"data": data}
        prediction = predictions.get(record.get("id"))
        if prediction is not None:
            task["predictions"] = [_prediction(prediction, model_version, record.get("text", ""))]
        tasks.append(task)
    return tasks


def _prediction(prediction: Mapping, model_version: str | None, text: str) -> dict:
    result = []
    for name in TASKS:
        item: dict = {
            "from_name": name,
            "to_name": TO_NAME,
            "type": "choices",
            "value": {"choices": [prediction[name]]},
        }
        if prediction.get(f"{name}_score") is not None:
            item["score"] = prediction[f"{name}_score"]
        result.append(item)
    for name in SPANS:
        span = prediction.get(f"{name}_span")
        if span is not None:
            start, end = span
            result.append({"from_name": SPAN_CONTROL, "to_name": TO_NAME, "type": "labels",
                           "value": {"start": start, "end": end, "text": text[start:end],
                                     "labels": [name]}})
    built: dict = {"result": result}
    if model_version is not None:
        built["model_version"] = model_version
    scores = [item["score"] for item in result if "score" in item]
    if scores:
        # Label Studio sorts and samples tasks by one score per prediction; the least
        # confident label is what decides whether a task needs a human look.
        built["score"] = min(scores)
    return built


def read_predictions(path: str | Path) -> dict[str, dict]:
    """Model predictions from a JSONL file, keyed by record id, with labels checked."""
    predictions: dict[str, dict] = {}
    for number, record in read_numbered_jsonl(path):
        where = f"{path}:{number}"
        if not isinstance(record.get("id"), str):
            raise DataError(f"{where}: expected a string 'id'")
        if record["id"] in predictions:
            raise DataError(f"{where}: id {record['id']!r} predicted twice")
        for name in TASKS:
            _check_label(name, record.get(name), where)
            score = record.get(f"{name}_score")
            if score is not None and (
                isinstance(score, bool) or not isinstance(score, int | float)
            ):
                raise DataError(f"{where}: expected a number for '{name}_score', got {score!r}")
        predictions[record["id"]] = record
    return predictions


def _check_label(name: str, value: object, where: str) -> None:
    if value not in LABELS[name]:
        raise DataError(f"{where}: {name} {value!r} is not one of {', '.join(LABELS[name])}")


def from_export(
    export: object, path: str | Path, skipped: Counter[str] | None = None
) -> list[dict]:
    """Records from a parsed Label Studio JSON export; ``path`` names the file in errors.

    Each task's data fields are kept and the labels come from its latest non-cancelled
    annotation. Tasks without one are left out; ``skipped``, if given, counts them by reason.
    Two tasks of one ``data.id`` (imported twice, say) give one record, from the later
    annotation (the later task on a tie), and a warning that names both tasks.
    """
    if not isinstance(export, list):
        raise DataError(
            f"{path}: expected a list of tasks (Label Studio JSON export), "
            f"got {type(export).__name__}"
        )
    # data.id -> (when the kept annotation was made, the task's name, its record)
    kept: dict[str | int, tuple[datetime, str, dict]] = {}
    for index, task in enumerate(export):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise DataError(
                f"{path}: task {index}: expected an object with a 'data' object "
                "(JSON-MIN and CSV exports are not supported)"
            )
        data = task["data"]
        where = f"{path}: task {index} (id {data.get('id', task.get('id'))!r})"
        if not isinstance(data.get("text"), str) or not data["text"]:
            raise DataError(f"{where}: expected a non-empty string data.text")
        if data.get("id") is None:
            raise DataError(f"{where}: expected data.id, the record's id")
        name = _task_name(index, task)
        if isinstance(data["id"], bool) or not isinstance(data["id"], str | int | float):
            raise DataError(f"{path}: {name}: expected data.id to be a string or a number, "
                            f"got {_json_type(data['id'])}")
        annotations = task.get("annotations", [])
        if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
            raise DataError(f"{where}: expected 'annotations' to be a list of objects")
        # A cancelled annotation is Label Studio's "skip": the annotator gave no labels.
        usable = [a for a in annotations if not a.get("was_cancelled")]
        if not usable:
            if skipped is not None:
                skipped["all annotations cancelled" if annotations else "no annotation"] += 1
            continue
        # Several usable annotations mean the task was relabelled; the latest is the decision.
        # Reversed, so that of two with the same time (or none) the later in the list wins.
        latest = max(reversed(usable), key=lambda annotation: _when(annotation, where))
        record, when = _record(data, latest, where), _when(latest, where)
        earlier = kept.get(data["id"])
        if earlier is not None:
            replaces = when >= earlier[0]
            why = ("annotated at the same time, later in the file" if when == earlier[0]
                   else "annotated later")
            warn(f"{path}: data.id {data['id']!r} is in {earlier[1]} and {name}; kept "
                 f"{name if replaces else earlier[1]}, {why}")
            if not replaces:
                continue
        kept[data["id"]] = (when, name, record)
    return [record for _, _, record in kept.values()]


def _task_name(index: int, task: dict) -> str:
    """``task N`` (its place in the export) and Label Studio's own id, where there is one."""
    return f"task {index}" + (f" (Label Studio id {task['id']!r})" if "id" in task else "")


def _json_type(value: object) -> str:
    return {list: "a list", dict: "an object", bool: "true or false"}.get(
        type(value), type(value).__name__)


def _stamp(annotation: dict, where: str) -> str | None:
    stamp = annotation.get("updated_at") or annotation.get("created_at")
    if stamp is not None and not isinstance(stamp, str):
        raise DataError(f"{where}: expected an ISO 8601 time string, got {stamp!r}")
    return stamp


def _when(annotation: dict, where: str) -> datetime:
    stamp = _stamp(annotation, where)
    if stamp is None:
        return datetime.min.replace(tzinfo=timezone.utc)
    try:
        # Python 3.10 does not read the "Z" that Label Studio ends its UTC times with.
        moment = datetime.fromisoformat(stamp[:-1] + "+00:00" if stamp.endswith("Z") else stamp)
    except ValueError:
        raise DataError(f"{where}: expected an ISO 8601 time, got {stamp!r}") from None
    # Label Studio writes UTC; naive and aware times must compare.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _record(data: dict, annotation: dict, where: str) -> dict:
    labels = _labels(annotation, where)
    spans = _spans(annotation, data["text"], where)
    if not spans and data.get("source") == "real":
        # Narration: a real statement always carries its span fields, empty here.
        spans = {"speaker": None, "speaker_span": None, "speaker_inherited": False,
                 "cue_span": None, "clutter": False}
    labels.update(spans)
    merged = {**data, **labels}
    record = {name: merged.pop(name) for name in FIELDS if name in merged}
    record.update(merged)
    annotator = annotation.get("completed_by")
    if isinstance(annotator, dict):
        annotator = annotator.get("email", annotator.get("id"))
    if annotator is not None:
        record["annotator"] = annotator
    annotated_at = _stamp(annotation, where)
    if annotated_at is not None:
        record["annotated_at"] = annotated_at
    return record


def _results(annotation: dict, where: str) -> list[dict]:
    result = annotation.get("result")
    if not isinstance(result, list) or not all(isinstance(item, dict) for item in result):
        raise DataError(f"{where}: expected the annotation's 'result' to be a list of objects")
    return result


def _labels(annotation: dict, where: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in _results(annotation, where):
        name = item.get("from_name")
        # Other controls (a comment box, say) may be added to the config without harm.
        if item.get("type") != "choices" or name not in LABELS:
            continue
        value = item.get("value")
        choices = value.get("choices") if isinstance(value, dict) else None
        if not isinstance(choices, list) or len(choices) != 1:
            raise DataError(f"{where}: expected exactly one {name} choice, got {choices!r}")
        if name in labels:
            raise DataError(f"{where}: expected one {name} result, got several")
        _check_label(name, choices[0], where)
        labels[name] = choices[0]
    missing = [name for name in TASKS if name not in labels]
    if missing:
        # The config makes both choices required, so a gap means a different config was used.
        raise DataError(f"{where}: annotation has no {' or '.join(missing)} choice")
    return labels


def _spans(annotation: dict, text: str, where: str) -> dict:
    """The speaker and cue spans, the flags and an inherited speaker's name; {} when the
    annotation marks none of them."""
    found: dict = {}
    flags: list = []
    inherited_name = None
    for item in _results(annotation, where):
        value = item.get("value") if isinstance(item.get("value"), dict) else {}
        name = item.get("from_name")
        if name == SPAN_CONTROL and item.get("type") == "labels":
            labels, start, end = value.get("labels"), value.get("start"), value.get("end")
            if not (isinstance(labels, list) and len(labels) == 1 and labels[0] in SPANS):
                raise DataError(f"{where}: expected one span label of {', '.join(SPANS)}, "
                                f"got {labels!r}")
            if not (type(start) is int and type(end) is int and 0 <= start < end <= len(text)):
                raise DataError(f"{where}: {labels[0]} span {start!r}-{end!r} is not inside "
                                f"the text (0-{len(text)})")
            if labels[0] in found:
                raise DataError(f"{where}: expected at most one {labels[0]} span, got several")
            found[labels[0]] = [start, end]
        elif name == FLAGS_CONTROL and item.get("type") == "choices":
            flags = value.get("choices") or []
        elif name == INHERITED_CONTROL and item.get("type") == "textarea":
            texts = value.get("text") or []
            inherited_name = texts[0].strip() if texts and isinstance(texts[0], str) else None
    if not found and not flags and not inherited_name:
        return {}
    inherited = "speaker_inherited" in flags
    if inherited and not inherited_name:
        raise DataError(f"{where}: speaker_inherited is ticked but no inherited speaker is "
                        "written")
    speaker_span = found.get("speaker")
    speaker = text[slice(*speaker_span)] if speaker_span else (inherited_name if inherited
                                                                 else None)
    return {"speaker": speaker, "speaker_span": speaker_span, "speaker_inherited": inherited,
            "cue_span": found.get("cue"), "clutter": "clutter" in flags}


def read_export(path: str | Path, skipped: Counter[str] | None = None) -> list[dict]:
    """Records from a Label Studio JSON export file (see :func:`from_export`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    try:
        export = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply (expected a list of tasks)") from None
    return from_export(export, path, skipped)


def _read_records(path: str | Path) -> list[dict]:
    seen: set[object] = set()
    records = []
    for number, record in read_numbered_jsonl(path):
        if not isinstance(record.get("text"), str) or not record["text"]:
            raise DataError(f"{path}:{number}: expected a non-empty string 'text'")
        # Annotations come back keyed by id only, so ids must tell records apart.
        if record.get("id") is None or record["id"] in seen:
            raise DataError(f"{path}:{number}: expected a unique 'id', got {record.get('id')!r}")
        seen.add(record["id"])
        records.append(record)
    return records


def _write_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def _export(args: argparse.Namespace) -> str:
    records = _read_records(args.input)
    predictions = read_predictions(args.predictions) if args.predictions else None
    tasks = to_tasks(records, predictions, args.model_version)
    _write_json(args.output, tasks)
    summary = f"wrote {len(tasks)} tasks to {args.output}"
    if predictions is not None:
        attached = sum("predictions" in task for task in tasks)
        unmatched = len(predictions) - attached
        summary += f" ({attached} with predictions, {len(tasks) - attached} without"
        summary += f"; {unmatched} predictions matched no record)" if unmatched else ")"
    return summary


def _import(args: argparse.Namespace) -> str:
    skipped: Counter[str] = Counter()
    records = read_export(args.input, skipped)
    write_jsonl(args.output, records)
    summary = f"wrote {len(records)} records to {args.output}"
    if skipped:
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items()))
        summary += f"; skipped {sum(skipped.values())} tasks ({reasons})"
    return summary


@reported
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m src.data.labelstudio", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="dataset JSONL -> Label Studio import tasks")
    export.add_argument("input", type=Path, metavar="IN.jsonl")
    export.add_argument("output", type=Path, metavar="OUT.json")
    export.add_argument(
        "--predictions",
        type=Path,
        metavar="PRED.jsonl",
        help="model predictions (id, stance, sentiment, optional *_score)",
    )
    export.add_argument("--model-version", help="shown with the predictions in Label Studio")
    export.set_defaults(run=_export)
    import_ = commands.add_parser("import", help="Label Studio JSON export -> dataset JSONL")
    import_.add_argument("input", type=Path, metavar="EXPORT.json")
    import_.add_argument("output", type=Path, metavar="OUT.jsonl")
    import_.set_defaults(run=_import)
    for command in (export, import_):
        command.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    args = parser.parse_args(argv)

    try:
        if args.output.exists() and not args.force:
            raise DataError(f"{args.output}: already exists (use --force to overwrite)")
        summary = args.run(args)
    except OSError as err:
        error(str(err))
        return USAGE
    print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
