"""Agreement between two independent annotation passes over the same real statements.

    python -m src.data.agreement             # print the tables
    python -m src.data.agreement --write     # and put them in the data card

Reads ``data/annotations/real/agreement/pass1.jsonl`` and ``pass2.jsonl`` (records as
``python -m src.data.real merge`` writes them; the second pass was made without seeing the
first) and ``adjudication.jsonl`` (one decision per disagreement: ``id``, ``field``, the two
values, ``decision``, ``reason``). Reports Cohen's kappa and raw agreement for stance,
sentiment and the speaker (exact span, or the same inherited name, or both null), the
confusions, and checks that every disagreement has a decision that the dataset carries.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter

from sklearn.metrics import cohen_kappa_score

from src.core.errors import reported
from src.data.io import DataError, read_jsonl
from src.data.paths import ANNOTATIONS_DIR, DATA_DIR
from src.data.schema import LABELS, TASKS

AGREEMENT_DIR = ANNOTATIONS_DIR / "real" / "agreement"
CARD = DATA_DIR / "README.md"
BLOCK = re.compile(r"(<!-- agreement:start -->\n).*?(<!-- agreement:end -->)", re.DOTALL)
FIELDS = (*TASKS, "speaker")


def speaker_key(record: dict) -> str:
    """The speaker as one category: its span, or the inherited name, or none."""
    if record.get("speaker_span"):
        return "span:{}-{}".format(*record["speaker_span"])
    if record.get("speaker_inherited"):
        return f"inherited:{record['speaker']}"
    return "none"


def value_of(record: dict, field: str) -> str:
    return speaker_key(record) if field == "speaker" else record[field]


def disagreements(first: dict[str, dict], second: dict[str, dict]) -> list[dict]:
    return [{"id": key, "field": field, "pass1": value_of(first[key], field),
             "pass2": value_of(second[key], field)}
            for key in sorted(first) for field in FIELDS
            if value_of(first[key], field) != value_of(second[key], field)]


def confusion_markdown(task: str, first: list[str], second: list[str]) -> str:
    names = LABELS[task]
    counts = Counter(zip(first, second, strict=True))
    lines = [f"| {task}: pass 1 ↓ / pass 2 → | " + " | ".join(names) + " |",
             "| --- |" + " ---: |" * len(names)]
    lines += [f"| {a} | " + " | ".join(str(counts[(a, b)]) for b in names) + " |"
              for a in names]
    return "\n".join(lines)


def report() -> str:
    first = {r["id"]: r for r in read_jsonl(AGREEMENT_DIR / "pass1.jsonl")}
    second = {r["id"]: r for r in read_jsonl(AGREEMENT_DIR / "pass2.jsonl")}
    if set(first) != set(second):
        only = sorted(set(first) ^ set(second))
        raise DataError(f"{AGREEMENT_DIR}: the passes cover different statements ({len(only)} "
                        f"in one only, e.g. {only[0]})")
    decisions = {(d["id"], d["field"]): d
                 for d in read_jsonl(AGREEMENT_DIR / "adjudication.jsonl")}
    found = disagreements(first, second)
    undecided = [d for d in found if (d["id"], d["field"]) not in decisions]
    if undecided:
        raise DataError(f"{AGREEMENT_DIR / 'adjudication.jsonl'}: no decision for "
                        f"{len(undecided)} disagreement(s), e.g. {undecided[0]['id']} "
                        f"{undecided[0]['field']}")
    final = {r["id"]: r for path in sorted((ANNOTATIONS_DIR / "real").glob("*.jsonl"))
             for r in read_jsonl(path)}
    for (key, field), decision in decisions.items():
        if key not in final or value_of(final[key], field) != decision["decision"]:
            raise DataError(f"{AGREEMENT_DIR / 'adjudication.jsonl'}: {key} {field}: the "
                            f"dataset does not carry the decision {decision['decision']!r}")
    ids = sorted(first)
    articles = len({first[i]["article_id"] for i in ids})
    lines = [f"Two independent passes over {len(ids)} real statements from {articles} whole "
             "articles; the second annotator saw neither the first pass nor the machine "
             "pre-annotation.", "",
             "| label | Cohen's κ | raw agreement | disagreements |",
             "| --- | ---: | ---: | ---: |"]
    for field in FIELDS:
        a = [value_of(first[i], field) for i in ids]
        b = [value_of(second[i], field) for i in ids]
        agree = sum(x == y for x, y in zip(a, b, strict=True))
        name = "speaker (exact span)" if field == "speaker" else field
        lines.append(f"| {name} | {cohen_kappa_score(a, b):.3f} | {agree / len(ids):.1%} | "
                     f"{len(ids) - agree} |")
    for task in TASKS:
        lines += ["", confusion_markdown(task, [first[i][task] for i in ids],
                                         [second[i][task] for i in ids])]
    outcome = Counter("pass 1" if d["decision"] == d["pass1"] else
                      "pass 2" if d["decision"] == d["pass2"] else "neither"
                      for d in decisions.values())
    lines += ["", f"All {len(found)} disagreements were adjudicated "
              f"(`data/annotations/real/agreement/adjudication.jsonl`, each with its reason): "
              f"{outcome['pass 1']} for pass 1, {outcome['pass 2']} for pass 2, "
              f"{outcome['neither']} for a third reading."]
    return "\n".join(lines) + "\n"


@reported
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.data.agreement",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update the data card's block")
    args = parser.parse_args(argv)
    text = report()
    print(text, end="")
    if args.write:
        card = CARD.read_text(encoding="utf-8")
        CARD.write_text(BLOCK.sub(lambda m: m[1] + text + m[2], card), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
