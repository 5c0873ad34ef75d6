"""Check dataset files: schema, labels, duplicates, near-duplicates, split leakage, balance.

    python -m src.data.validate                 # the project's split files
    python -m src.data.validate my.jsonl ...    # any files in the same format
    python -m src.data.validate --no-targets f  # schema and leakage only (small user files)

Problems are printed as ``file:line: problem``; the exit code is 1 when there are any, or when a
balance target is missed, 2 when a file cannot be read, and 0 otherwise.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from src.core.errors import reported
from src.data.io import DataError, read_numbered_jsonl
from src.data.neardup import THRESHOLD, near_duplicate_pairs
from src.data.paths import SPLIT_FILES
from src.data.schema import FIELDS, LABELS, REAL_FIELDS, SENTIMENTS, SOURCES, SPLITS, STANCES
from src.text.letters import QUOTE_STYLES

MIN_PER_STANCE = 180
MIN_PER_CELL = 40
MIN_SPEAKERS = 80
MIN_UNATTRIBUTED = 0.25
MAX_NEAR_DUPLICATES = 0.02
SPLIT_SHARES = {"train": 0.70, "dev": 0.15, "test": 0.15}
SPLIT_TOLERANCE = 0.05
TYPICAL_WORDS = (10, 60)
MIN_TYPICAL_LENGTH_SHARE = 0.8
# The real-news part of the dataset: its size, its spread and its test split.
REAL_MIN = {"statements": 1500, "articles": 120, "outlets": 8, "corpora": 2}
REAL_MIN_PER_CAMP = {"regime": 200, "russia": 150, "opposition": 150}
REAL_MIN_TEST = {"statements": 400, "articles": 30}
PROVENANCE = ("article_id", "corpus", "outlet")
# The fields that the checks and targets count or compare as single values.
COUNTED = (*LABELS, "id", "speaker", "source", "split", "group", *PROVENANCE)
CHOICES = {**LABELS, "source": SOURCES, "split": SPLITS}


@dataclass(frozen=True)
class Row:
    """A record and where it was read from."""

    path: Path
    line: int
    record: dict

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    goal: str
    met: bool


def _normalise_space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _one_of(names) -> str:
    return f"expected one of {', '.join(names)}"


def _field_problems(row: Row) -> list[str]:
    record = row.record
    problems = [f"missing field '{name}'" for name in FIELDS if name not in record]
    for task, names in LABELS.items():
        if task in record and record[task] not in names:
            problems.append(f"unknown {task} {record[task]!r} ({_one_of(names)})")
    for name in ("id", "text", "group"):
        if name in record and not (isinstance(record[name], str) and record[name].strip()):
            problems.append(f"'{name}' must be a non-empty string")
    for name in ("speaker", "derived_from"):
        value = record.get(name)
        if value is not None and not (isinstance(value, str) and value.strip()):
            problems.append(f"'{name}' must be a non-empty string or null")
    if "source" in record and record["source"] not in SOURCES:
        problems.append(f"unknown source {record['source']!r} ({_one_of(SOURCES)})")
    if record.get("source") == "real":
        problems += _real_problems(record)
    if "split" in record:
        if record["split"] not in SPLITS:
            problems.append(f"unknown split {record['split']!r} ({_one_of(SPLITS)})")
        elif row.path.stem in SPLITS and record["split"] != row.path.stem:
            problems.append(f"split {record['split']!r} in the {row.path.stem} file")
    return [f"{row.where}: {problem}" for problem in problems]


def _span_problem(record: dict, name: str) -> str | None:
    span = record.get(f"{name}_span")
    if span is None:
        return None
    text = record.get("text") or ""
    if not (isinstance(span, list) and len(span) == 2 and all(type(v) is int for v in span)
            and 0 <= span[0] < span[1] <= len(text)):
        return (f"'{name}_span' {span!r} is not [start, end] inside the text "
                f"(0 <= start < end <= {len(text)})")
    return None


def _real_problems(record: dict) -> list[str]:
    """A real statement's provenance, spans and flags."""
    problems = [f"missing field '{name}'" for name in REAL_FIELDS if name not in record]
    for name in PROVENANCE:
        if not (isinstance(record.get(name), str) and record[name].strip()):
            problems.append(f"provenance '{name}' must be a non-empty string")
    if not (type(record.get("index")) is int and record["index"] >= 0):
        problems.append(f"'index' must be the statement's position, got {record.get('index')!r}")
    for name in ("speaker", "cue"):
        problem = _span_problem(record, name)
        if problem:
            problems.append(problem)
    for flag in ("speaker_inherited", "clutter"):
        if flag in record and not isinstance(record[flag], bool):
            problems.append(f"'{flag}' must be true or false")
    span, speaker = record.get("speaker_span"), record.get("speaker")
    if (span is not None and not _span_problem(record, "speaker")
            and record["text"][span[0]:span[1]] != speaker):
        problems.append(f"speaker {speaker!r} is not the text at speaker_span {span} "
                        f"({record['text'][span[0]:span[1]]!r})")
    if record.get("speaker_inherited"):
        if speaker is None or span is not None:
            problems.append("an inherited speaker has a 'speaker' and a null 'speaker_span'")
    elif speaker is not None and span is None:
        problems.append("a speaker named in the statement needs its 'speaker_span' "
                        "(or 'speaker_inherited': true)")
    if record.get("clutter") is True and (record.get("stance"), record.get("sentiment"),
                                          speaker) != ("none", "neutral", None):
        problems.append("clutter is none/neutral with a null speaker")
    return problems


def _first_seen_problems(rows: list[Row], key: str, what: str) -> list[str]:
    problems, first = [], {}
    for row in rows:
        value = row.record.get(key)
        if not isinstance(value, str):
            continue
        if key == "text":
            if row.record.get("source") == "real":
                continue  # real news repeats itself; _real_leakage_problems checks the splits
            value = _normalise_space(value)
        if value in first:
            problems.append(f"{row.where}: duplicate {what} (first at {first[value].where})")
        else:
            first[value] = row
    return problems


def _leakage_problems(rows: list[Row]) -> list[str]:
    problems = []
    splits_of_group = defaultdict(dict)
    for row in rows:
        group, split = row.record.get("group"), row.record.get("split")
        if isinstance(group, str) and split in SPLITS:
            splits_of_group[group].setdefault(split, row)
    for group, first_rows in splits_of_group.items():
        if len(first_rows) > 1:
            where = ", ".join(f"{split} at {r.where}" for split, r in sorted(first_rows.items()))
            problems.append(f"{next(iter(first_rows.values())).where}: group {group!r} crosses "
                            f"splits ({where})")
    return problems


def _real_leakage_problems(rows: list[Row]) -> list[str]:
    """No article in two splits, and no real text (clutter aside) in two splits."""
    problems = []
    for key, what in (("article_id", "article"), ("text", "text")):
        first: dict[str, Row] = {}
        for row in rows:
            record = row.record
            if record.get("source") != "real" or record.get("split") not in SPLITS:
                continue
            if key == "text" and record.get("clutter"):
                continue
            value = record.get(key)
            if not isinstance(value, str):
                continue
            value = _normalise_space(value) if key == "text" else value
            seen = first.setdefault(value, row)
            if seen.record["split"] != record["split"]:
                problems.append(f"{row.where}: {what} {value[:60]!r} in {record['split']} and "
                                f"in {seen.record['split']} (first at {seen.where})")
    return problems


def _reference_problems(rows: list[Row]) -> list[str]:
    seeds = {row.record.get("id") for row in rows if row.record.get("source") == "seed"}
    problems = []
    for row in rows:
        record = row.record
        if record.get("source") == "seed" and record.get("split") not in (None, "test"):
            problems.append(f"{row.where}: seed statement in split {record['split']!r} "
                            "(seed statements belong in test)")
        parent = record.get("derived_from")
        if seeds and isinstance(parent, str) and parent not in seeds:
            problems.append(f"{row.where}: derived_from {parent!r} is not a seed statement id")
    return problems


def _near_duplicates(rows: list[Row]) -> tuple[list[tuple[Row, Row, float]], list[str]]:
    texts = [str(row.record.get("text", "")) for row in rows]
    pairs = [(rows[i], rows[j], score) for i, j, score in near_duplicate_pairs(texts)]
    problems = [
        f"{a.where}: near-duplicate of {b.where} (Jaccard {score:.2f}) across splits "
        f"{a.record.get('split')}/{b.record.get('split')}"
        for a, b, score in pairs
        if a.record.get("split") != b.record.get("split")
        and not (a.record.get("clutter") or b.record.get("clutter"))
    ]
    return pairs, problems


def find_problems(rows: list[Row]) -> tuple[list[str], list[tuple[Row, Row, float]]]:
    """Every problem of ``rows`` as a ``file:line: problem`` message, and the near-duplicate
    pairs (a target, not a problem, unless a pair crosses splits)."""
    problems = [message for row in rows for message in _field_problems(row)]
    problems += _first_seen_problems(rows, "id", "id")
    problems += _first_seen_problems(rows, "text", "text")
    problems += _leakage_problems(rows)
    problems += _real_leakage_problems(rows)
    problems += _reference_problems(rows)
    pairs, near_problems = _near_duplicates(rows)
    return problems + near_problems, pairs


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def measure_targets(records: list[dict], near_pairs: int) -> list[Target]:
    """The dataset's balance and variety targets, measured: those of the written statements
    (authored and seed) and, where there are real statements, those of real news."""
    real = [r for r in records if r.get("source") == "real"]
    written = [r for r in records if r.get("source") != "real"]
    return _written_targets(written, near_pairs) + (_real_targets(real) if real else [])


def _real_targets(records: list[dict]) -> list[Target]:
    def at_least(name: str, value: int, goal: int) -> Target:
        return Target(f"real: {name}", str(value), f">= {goal}", value >= goal)

    spread = {"statements": len(records),
              "articles": len({r.get("article_id") for r in records}),
              "outlets": len({r.get("outlet") for r in records}),
              "corpora": len({r.get("corpus") for r in records})}
    targets = [at_least(name, spread[name], goal) for name, goal in REAL_MIN.items()]
    camps = Counter(r.get("stance") for r in records)
    targets += [at_least(f"stance {camp}", camps[camp], goal)
                for camp, goal in REAL_MIN_PER_CAMP.items()]
    test = [r for r in records if r.get("split") == "test"]
    targets.append(at_least("test statements", len(test), REAL_MIN_TEST["statements"]))
    targets.append(at_least("test articles", len({r.get("article_id") for r in test}),
                            REAL_MIN_TEST["articles"]))
    targets.append(at_least("dev statements", sum(r.get("split") == "dev" for r in records), 1))
    return targets


def _written_targets(records: list[dict], near_pairs: int) -> list[Target]:
    total = len(records)
    targets = []
    stances = Counter(r.get("stance") for r in records)
    for stance in STANCES:
        targets.append(Target(f"stance {stance}", str(stances[stance]), f">= {MIN_PER_STANCE}",
                              stances[stance] >= MIN_PER_STANCE))
    cells = Counter((r.get("stance"), r.get("sentiment")) for r in records)
    smallest = min(cells[(st, se)] for st in STANCES for se in SENTIMENTS)
    targets.append(Target("smallest (stance, sentiment) cell", str(smallest),
                          f">= {MIN_PER_CELL}", smallest >= MIN_PER_CELL))
    speakers = {r.get("speaker") for r in records if r.get("speaker")}
    targets.append(Target("distinct speakers", str(len(speakers)), f">= {MIN_SPEAKERS}",
                          len(speakers) >= MIN_SPEAKERS))
    unattributed = sum(r.get("speaker") is None for r in records)
    targets.append(Target("no named speaker", _share(unattributed, total),
                          f">= {MIN_UNATTRIBUTED:.0%}",
                          total > 0 and unattributed / total >= MIN_UNATTRIBUTED))
    for style, mark in QUOTE_STYLES.items():
        if style == "curly":
            continue  # optional: news copy rarely uses it
        quoted = sum(mark in str(r.get("text", "")) for r in records)
        targets.append(Target(f"quoted with {mark}", str(quoted), ">= 1", quoted >= 1))
    unquoted = sum(not any(m in str(r.get("text", "")) for m in QUOTE_STYLES.values())
                   for r in records)
    targets.append(Target("without quotation marks", str(unquoted), ">= 1", unquoted >= 1))
    low, high = TYPICAL_WORDS
    typical = sum(low <= len(str(r.get("text", "")).split()) <= high for r in records)
    targets.append(Target(f"{low}-{high} words", _share(typical, total),
                          f">= {MIN_TYPICAL_LENGTH_SHARE:.0%}",
                          total > 0 and typical / total >= MIN_TYPICAL_LENGTH_SHARE))
    near_share = (near_pairs / total) if total else 0.0
    targets.append(Target(f"texts in near-duplicate pairs (Jaccard >= {THRESHOLD})",
                          _share(near_pairs, total), f"< {MAX_NEAR_DUPLICATES:.0%}",
                          near_share < MAX_NEAR_DUPLICATES))
    splits = Counter(r.get("split") for r in records)
    for split, share in SPLIT_SHARES.items():
        measured = splits[split] / total if total else 0.0
        targets.append(Target(f"{split} share", _share(splits[split], total), f"{share:.0%} ± 5",
                              abs(measured - share) <= SPLIT_TOLERANCE))
    return targets


def summary(records: list[dict]) -> str:
    """Counts per split and label, and per (stance, sentiment) cell, as plain-text tables."""
    lines = [f"{'split':<8}" + "".join(f"{name:>12}" for name in (*STANCES, *SENTIMENTS, "total"))]
    for split in (*SPLITS, "all"):
        subset = [r for r in records if split == "all" or r.get("split") == split]
        counts = Counter(r.get("stance") for r in subset) + Counter(r.get("sentiment")
                                                                    for r in subset)
        lines.append(f"{split:<8}" + "".join(f"{counts[name]:>12}"
                                             for name in (*STANCES, *SENTIMENTS))
                     + f"{len(subset):>12}")
    lines.append("")
    lines.append(f"{'cell':<12}" + "".join(f"{name:>12}" for name in SENTIMENTS))
    cells = Counter((r.get("stance"), r.get("sentiment")) for r in records)
    for stance in STANCES:
        lines.append(f"{stance:<12}" + "".join(f"{cells[(stance, s)]:>12}" for s in SENTIMENTS))
    sources = Counter(r.get("source") for r in records)
    lines.append("")
    lines.append("sources: " + ", ".join(f"{name} {sources[name]}" for name in SOURCES))
    return "\n".join(lines)


def _check_countable(row: Row) -> None:
    """A list or object where the checks count or compare single values is beyond what a
    problem message can describe: the file cannot be checked."""
    for name in COUNTED:
        value = row.record.get(name)
        if isinstance(value, list | dict):
            kind = "a list" if isinstance(value, list) else "an object"
            if name in CHOICES:
                expected = _one_of(CHOICES[name])
            else:
                expected = "expected a string" + (" or null" if name == "speaker" else "")
            raise DataError(f"{row.where}: '{name}' is {kind} ({expected})")


def read_rows(paths: list[Path]) -> list[Row]:
    rows = [Row(path, line, record) for path in paths for line, record in read_numbered_jsonl(path)]
    for row in rows:
        _check_countable(row)
    return rows


@reported
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.data.validate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path,
                        help="JSONL files (default: the project's train/dev/test files)")
    parser.add_argument("--no-targets", action="store_true",
                        help="skip the balance targets (for small or partial files)")
    args = parser.parse_args(argv)
    paths = args.files or list(SPLIT_FILES.values())
    rows = read_rows(paths)
    problems, near_pairs = find_problems(rows)
    records = [row.record for row in rows]
    print(summary(records))
    failed = bool(problems)
    if not args.no_targets:
        # Real news repeats agency copy across outlets; the target is about written text.
        involved = {id(row) for a, b, _ in near_pairs for row in (a, b)
                    if row.record.get("source") != "real"}
        print(f"\n{'target':<46}{'measured':>10}  goal")
        for target in measure_targets(records, len(involved)):
            mark = "ok" if target.met else "MISSED"
            print(f"{target.name:<46}{target.measured:>10}  {target.goal:<10} {mark}")
            failed |= not target.met
    for message in problems:
        print(message, file=sys.stderr)
    if near_pairs:
        print(f"\n{len(near_pairs)} near-duplicate pair(s):")
        for a, b, score in near_pairs:
            print(f"  {a.where} ~ {b.where}  Jaccard {score:.2f}")
    print(f"\n{len(records)} records in {len(paths)} file(s): "
          + (f"{len(problems)} problem(s)" if problems else "no problems"), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
