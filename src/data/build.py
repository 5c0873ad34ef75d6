"""Assemble the annotated statements into the versioned train/dev/test files.

    python -m src.data.build

Reads ``data/annotations/seed.jsonl``, ``data/annotations/authored/*.jsonl`` and
``data/annotations/real/*.jsonl`` and writes ``data/qawl/{train,dev,test}.jsonl``. Groups (a seed
sentence with its variations, a paraphrase family, a real article) stay in one split; every seed
group goes to test; the authored statements are split 70/15/15 and the real articles
58/15/27 (a real test split of over 400 statements), each stratified by (stance, sentiment) cell.

Splits are versioned: a group keeps the split it has in the current files, so a relabel or a new
statement never moves a record between train and test; only new groups are drawn, towards the
shares. ``--new-groups train`` puts every new group in one split instead: a round of annotation
that only adds training data leaves dev and test, and every figure measured on them, as they
were. ``--reshuffle`` draws every group afresh (a new major version). The result depends only
on the annotations, the current files and ``SEED``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter

from sklearn.model_selection import StratifiedGroupKFold

from src.data.io import DataError, read_jsonl, write_jsonl
from src.data.paths import ANNOTATIONS_DIR, DATA_DIR, SPLIT_FILES
from src.data.schema import FIELDS, REAL_FIELDS, SENTIMENTS, SOURCES, SPLITS, STANCES

SEED = 13
FOLDS = 20  # about 4 % of all records each, so shares can be met to within a fold
SHARES = {"dev": 0.15, "test": 0.15}
# Real news is the test that counts: over 400 statements from over 30 whole articles.
REAL_SHARES = {"dev": 0.15, "test": 0.27}
CARD = DATA_DIR / "README.md"
COUNTS_BLOCK = re.compile(r"(<!-- counts:start -->\n).*?(<!-- counts:end -->)", re.DOTALL)


def group_of(record: dict) -> str:
    if record["source"] == "real":
        return f"article-{record['article_id']}"
    if record["source"] == "seed":
        return record["id"]
    if record.get("derived_from"):
        return record["derived_from"]
    if record.get("family"):
        return f"{record['id'].split('-')[0]}-{record['family']}"
    return record["id"]


def story_groups(records: list[dict]) -> dict[str, str]:
    """Real articles that tell one story: outlets update and re-file agency copy, so two pool
    articles can share near-identical statements. Such articles form one group (named after
    the first article id), or the copy in train would leak into test."""
    from src.data.neardup import near_duplicate_pairs

    real = [r for r in records if r["source"] == "real" and not r.get("clutter")]
    parent = {r["article_id"]: r["article_id"] for r in real}

    def root(article: str) -> str:
        while parent[article] != article:
            parent[article] = parent[parent[article]]
            article = parent[article]
        return article

    for i, j, _ in near_duplicate_pairs([r["text"] for r in real]):
        a, b = sorted((root(real[i]["article_id"]), root(real[j]["article_id"])))
        parent[b] = a
    return {article: f"article-{root(article)}" for article in parent}


def load_annotations() -> list[dict]:
    records = [dict(r, source="seed") for r in read_jsonl(ANNOTATIONS_DIR / "seed.jsonl")]
    for path in sorted((ANNOTATIONS_DIR / "authored").glob("*.jsonl")):
        records += [dict(r, source="authored") for r in read_jsonl(path)]
    for path in sorted((ANNOTATIONS_DIR / "real").glob("*.jsonl")):
        records += [dict(r, source="real") for r in read_jsonl(path)]
    return records


def pinned_splits() -> dict[str, str]:
    """The split of every group in the current files."""
    return {record["group"]: split for split, path in SPLIT_FILES.items() if path.exists()
            for record in read_jsonl(path)}


def assign_splits(records: list[dict], pinned: dict[str, str] | None = None,
                  new_split: str | None = None) -> list[dict]:
    """Copies of ``records`` with ``group`` and ``split`` set, in the schema's field order.
    Groups in ``pinned`` keep their split; the others go to ``new_split``, or without it are
    drawn in stratified group folds."""
    stories = story_groups(records)
    groups = [stories.get(r.get("article_id"), group_of(r)) if r["source"] == "real"
              else group_of(r) for r in records]
    # Every seed group goes to test, whatever the current files say.
    fixed = {**(pinned or {}), **{r["id"]: "test" for r in records if r["source"] == "seed"}}
    split_of = {i: fixed[group] for i, group in enumerate(groups) if group in fixed}
    if new_split is not None:
        split_of.update({i: new_split for i in range(len(records)) if i not in split_of})
    # Real and written statements are drawn apart, so that each has its own dev and test.
    for real, shares in ((False, SHARES), (True, REAL_SHARES)):
        members = [i for i, r in enumerate(records) if (r["source"] == "real") == real]
        free = [i for i in members if i not in split_of]
        placed = Counter(split_of[i] for i in members if i in split_of)
        split_of.update(_draw(records, groups, free, placed, shares, len(members)))
    assigned = []
    for i, record in enumerate(records):
        full = dict(record, group=groups[i], split=split_of[i],
                    derived_from=record.get("derived_from"))
        names = FIELDS + REAL_FIELDS if record["source"] == "real" else FIELDS
        assigned.append({name: full.get(name) for name in names})
    return assigned


def _draw(records: list[dict], groups: list[str], free: list[int], placed: Counter,
          shares: dict[str, float], total: int) -> dict[int, str]:
    """Splits of the records at indices ``free``, in stratified group folds: as many folds go to
    dev and to test as bring each nearest its share of ``total`` records, given the ``placed``
    ones."""
    n_folds = min(FOLDS, len({groups[i] for i in free}))
    if n_folds < 2:  # nothing to stratify: one new group goes to train
        return dict.fromkeys(free, "train")
    cells = [f"{records[i]['stance']}/{records[i]['sentiment']}" for i in free]
    folds = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=SEED)
    fold_of = {}
    for fold, (_, held) in enumerate(folds.split(free, cells, [groups[i] for i in free])):
        fold_of.update({free[i]: fold for i in held})
    fold_size = len(free) / n_folds
    split_of_fold, next_fold = {}, 0
    for split, share in shares.items():
        count = max(0, round((share * total - placed[split]) / fold_size))
        split_of_fold.update({fold: split for fold in range(next_fold, next_fold + count)})
        next_fold += count
    return {i: split_of_fold.get(fold, "train") for i, fold in fold_of.items()}


def cells_table(records: list[dict], title: str) -> list[str]:
    cells = Counter((r["stance"], r["sentiment"]) for r in records)
    return [f"| {title} | " + " | ".join(SENTIMENTS) + " |",
            "| --- |" + " ---: |" * len(SENTIMENTS),
            *(f"| {stance} | " + " | ".join(str(cells[(stance, s)]) for s in SENTIMENTS) + " |"
              for stance in STANCES)]


def counts_markdown(records: list[dict]) -> str:
    """The data card's count tables: per split and label, and per (stance, sentiment) cell."""
    columns = (*STANCES, *SENTIMENTS)
    lines = ["| split | " + " | ".join(columns) + " | total |",
             "| --- |" + " ---: |" * (len(columns) + 1)]
    for split in (*SPLITS, "all"):
        subset = [r for r in records if split in ("all", r["split"])]
        counts = Counter(r["stance"] for r in subset) + Counter(r["sentiment"] for r in subset)
        lines.append(f"| {split} | " + " | ".join(str(counts[c]) for c in columns)
                     + f" | {len(subset)} |")
    lines += ["", *cells_table(records, "stance × sentiment")]
    lines += ["", "| source | " + " | ".join(SPLITS) + " | total | articles |",
              "| --- |" + " ---: |" * (len(SPLITS) + 2)]
    for source in SOURCES:
        subset = [r for r in records if r["source"] == source]
        splits = Counter(r["split"] for r in subset)
        articles = len({r["article_id"] for r in subset}) if source == "real" else "—"
        lines.append(f"| {source} | " + " | ".join(str(splits[s]) for s in SPLITS)
                     + f" | {len(subset)} | {articles} |")
    variations = sum(bool(r["derived_from"]) for r in records)
    unattributed = sum(r["speaker"] is None for r in records) / len(records)
    lines += ["", f"{variations} authored statements are variations of a seed sentence. "
              f"{unattributed:.1%} of all statements have no named speaker."]
    return "\n".join(lines) + "\n"


def _percent(counts: Counter, names, total: int) -> str:
    return " | ".join(f"{counts[n] / total:.1%}" if total else "—" for n in names)


def real_markdown(records: list[dict], annotations: list[dict]) -> str:
    """The data card's real-news tables: outlets, class distributions beside the authored
    ones, and how often the annotation departs from the machine pre-annotation."""
    from src.data.agreement import speaker_key

    real = [r for r in records if r["source"] == "real"]
    if not real:
        return ""
    lines = ["", "| corpus | outlet | articles | statements | regime | russia | opposition | "
             "none | clutter |", "| --- | --- |" + " ---: |" * 7]
    outlets = sorted({(r["corpus"], r["outlet"]) for r in real})
    for corpus, outlet in outlets:
        subset = [r for r in real if (r["corpus"], r["outlet"]) == (corpus, outlet)]
        stances = Counter(r["stance"] for r in subset)
        lines.append(f"| {corpus} | {outlet} | {len({r['article_id'] for r in subset})} | "
                     f"{len(subset)} | " + " | ".join(str(stances[s]) for s in STANCES)
                     + f" | {sum(bool(r['clutter']) for r in subset)} |")
    lines += ["", *cells_table(real, "real: stance × sentiment")]
    written = [r for r in records if r["source"] != "real"]
    lines += ["", "| share of statements | " + " | ".join((*STANCES, *SENTIMENTS)) + " |",
              "| --- |" + " ---: |" * (len(STANCES) + len(SENTIMENTS))]
    for name, subset in (("real", real), ("authored + seed", written)):
        counts = Counter(r["stance"] for r in subset) + Counter(r["sentiment"] for r in subset)
        lines.append(f"| {name} | {_percent(counts, (*STANCES, *SENTIMENTS), len(subset))} |")
    scored = [a for a in annotations if a["source"] == "real" and (a.get("pre") or {}).get(
        "stance")]
    if scored:
        def changed(field: str) -> int:
            if field in ("stance", "sentiment"):
                return sum(a[field] != a["pre"][field] for a in scored)
            if field == "speaker":
                return sum(speaker_key(a) != speaker_key(a["pre"]) for a in scored)
            return sum(a["cue_span"] != a["pre"].get("cue_span") for a in scored)

        lines += ["", f"Annotation against the machine pre-annotation ({len(scored)} real "
                  "statements; speaker and cue by exact span):", "",
                  "| label | changed by the annotators | kept |", "| --- | ---: | ---: |"]
        for field in ("stance", "sentiment", "speaker", "cue"):
            n = changed(field)
            lines.append(f"| {field} | {n} ({n / len(scored):.1%}) | {len(scored) - n} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.data.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--reshuffle", action="store_true",
                     help="draw every group's split afresh instead of keeping the current ones")
    how.add_argument("--new-groups", choices=SPLITS, metavar="SPLIT",
                     help="put every group the current files lack in SPLIT (train, dev or "
                          "test) instead of drawing it")
    args = parser.parse_args(argv)
    try:
        annotations = load_annotations()
        records = assign_splits(annotations, {} if args.reshuffle else pinned_splits(),
                                args.new_groups)
    except DataError as err:
        print(err, file=sys.stderr)
        return 1
    for split in SPLITS:
        write_jsonl(SPLIT_FILES[split], (r for r in records if r["split"] == split))
    card = CARD.read_text(encoding="utf-8")
    counts = counts_markdown(records) + real_markdown(records, annotations)
    CARD.write_text(COUNTS_BLOCK.sub(lambda m: m[1] + counts + m[2], card), encoding="utf-8")
    counts = Counter(r["split"] for r in records)
    print(", ".join(f"{split} {counts[split]}" for split in SPLITS), f"(total {len(records)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
