"""Choose whole news articles to annotate, and write them as pre-annotated Label Studio tasks.

    python -m src.data.select POOL --n-articles 130 --model outputs/train/runs/<run> -o OUT/

POOL is a JSONL file of articles (``id, corpus, source, category, url, date, title, text``, as
in the project's news pool) or a folder of ``.txt`` files (one article each, the file name as
its id). Every article is cut into statements with the project's segmenter (its title is the
first statement), speakers are attributed with the actor list, and a trained run pre-scores
every statement.

Articles are chosen whole, never sentence by sentence, greedily: each step takes the article
that adds most to

* the camps still short of their targets, counted by attributed speakers (``--camp-targets``;
  opposition voices are rare in news, so their shortfall weighs most),
* the model's uncertainty (active learning: one minus the mean top stance probability),
* the spread, by a penalty on outlets, corpora and months already well represented.

An article that shares a near-identical statement with the dataset (``--dataset``, the
project's splits by default) is set aside before the choice: agencies' copies of one story
would bring nothing new to train, and would put a test statement's twin in train.

OUT receives ``tasks.json`` (Label Studio import tasks: stance and sentiment as scored
choices, the speaker and the speech verb as ``speaker`` and ``cue`` span labels),
``statements.jsonl`` (the same, one statement a line, for annotating outside Label Studio) and
``selection.json`` (every chosen article with why it was chosen, in choice order).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path

from src.core.errors import USAGE, error, reported
from src.data.io import DataError, read_numbered_jsonl, write_jsonl
from src.data.labelstudio import to_tasks
from src.data.neardup import near_duplicates_across
from src.data.paths import SPLIT_FILES
from src.data.real import find_phrase
from src.data.schema import STANCES
from src.text.segmentation import split_statements

CAMP_TARGETS = {"regime": 200, "russia": 150, "opposition": 150}
# Articles outside this range are too thin to carry voices, or too long to annotate whole.
MIN_STATEMENTS, MAX_STATEMENTS = 5, 22
# Pool categories about the war; culture, sport and technology pieces mention Syria in passing.
CATEGORIES = ("middleEast", "internationalNews", "")
UNCERTAINTY_WEIGHT = 0.5
SPREAD_WEIGHT = 1.0


@dataclass
class Article:
    id: str
    corpus: str
    outlet: str
    url: str
    date: str
    category: str
    text: str
    statements: list[dict] = field(default_factory=list)

    @property
    def month(self) -> str:
        return _month(self.date)

    def camp_counts(self) -> Counter:
        return Counter(s["pre"]["camp"] for s in self.statements
                       if s["pre"]["camp"] in CAMP_TARGETS)

    def uncertainty(self) -> float:
        scores = [s["pre"]["stance_score"] for s in self.statements
                  if s["pre"].get("stance_score") is not None]
        return 1 - sum(scores) / len(scores) if scores else 0.0


def _month(date: str) -> str:
    """``YYYY-MM`` of an RFC 2822 or ISO date; '' when it cannot be read."""
    if re.match(r"\d{4}-\d{2}", date):
        return date[:7]
    try:
        return parsedate_to_datetime(date).strftime("%Y-%m")
    except (TypeError, ValueError):
        return ""


def read_pool(path: Path) -> list[Article]:
    """Articles of a JSONL pool or a folder of .txt files; the title is the first paragraph."""
    if path.is_dir():
        return [Article(id=file.stem, corpus="local", outlet="local", url="", date="",
                        category="", text=file.read_text(encoding="utf-8").removeprefix("\ufeff"))
                for file in sorted(path.glob("*.txt"))]
    articles = []
    for number, row in read_numbered_jsonl(path):
        where = f"{path}:{number}"
        for key in ("id", "text"):
            if not isinstance(row.get(key), str) or not row[key]:
                raise DataError(f"{where}: expected a non-empty string {key!r}")
        title = (row.get("title") or "").strip()
        articles.append(Article(
            id=row["id"], corpus=row.get("corpus") or "", outlet=row.get("source") or "",
            url=row.get("url") or "", date=row.get("date") or "",
            category=row.get("category") or "",
            text=f"{title}\n{row['text']}" if title else row["text"]))
    return articles


def statement_id(article_id: str, index: int) -> str:
    return f"real-{article_id}-{index:02d}"


def segment(articles: Iterable[Article], actors) -> None:
    """Fill each article's statements with text, offsets, provenance and the attributed speaker."""
    from src.text.attribution import Attributor

    for article in articles:
        attribute = Attributor(actors)
        article.statements = []
        for index, span in enumerate(split_statements(article.text)):
            found = attribute(span.text)
            speaker_span = find_phrase(span.text, found.speaker) if found.speaker else None
            article.statements.append({
                "id": statement_id(article.id, index), "text": span.text,
                "article_id": article.id, "corpus": article.corpus, "outlet": article.outlet,
                "url": article.url, "date": article.date, "index": index,
                "start": span.start, "end": span.end,
                "pre": {"speaker": found.speaker, "camp": found.camp,
                        "speaker_span": speaker_span,
                        "speaker_inherited": found.speaker is not None and speaker_span is None,
                        "cue_span": _cue(span.text, speaker_span)}})


def _cue(text: str, speaker_span: list[int] | None) -> list[int] | None:
    """The speech verb nearest the speaker: the rule attributor finds the pair, not the verb's
    place, so the nearest trigger word is the best pre-annotation it allows."""
    from src.text.attribution import _words, is_trigger

    triggers = [(start, end) for start, end, word in _words(text) if is_trigger(word)]
    if not triggers:
        return None
    anchor = speaker_span[0] if speaker_span else 0
    start, end = min(triggers, key=lambda t: abs(t[0] - anchor))
    # Words carry their punctuation ("وأضاف:"); the cue is the word alone.
    while end > start and not text[end - 1].isalpha():
        end -= 1
    return [start, end]


def prescore(articles: list[Article], run: Path) -> str:
    """Add each task's label and probability to every statement; returns the model's name."""
    from src.inference.loading import load_models

    models, _ = load_models(run)
    statements = [s for article in articles for s in article.statements]
    texts = [s["text"] for s in statements]
    for task, model in models.items():
        probabilities = model.probabilities(texts)
        for statement, row in zip(statements, probabilities, strict=True):
            best = int(row.argmax())
            statement["pre"][task] = model.labels[best]
            statement["pre"][f"{task}_score"] = round(float(row[best]), 4)
    return str(run)


def set_aside_near_duplicates(articles: list[Article], dataset: list[Path]
                              ) -> tuple[list[Article], dict[str, str]]:
    """The articles with no statement near-identical to one of the ``dataset`` files, and why
    each other one was set aside (its first such statement's dataset article and split)."""
    known = [(number, record, path) for path in dataset
             for number, record in read_numbered_jsonl(path)]
    for number, record, path in known:
        if not isinstance(record.get("text"), str):
            raise DataError(f"{path}:{number}: expected a string 'text'")
    statements = [(article, s["text"]) for article in articles for s in article.statements]
    pairs = near_duplicates_across([text for _, text in statements],
                                   [record["text"] for _, record, _ in known])
    reasons: dict[str, str] = {}
    for i, j, score in sorted(pairs):
        article, (_, record, path) = statements[i][0], known[j]
        if article.id not in reasons:
            twin = record.get("article_id") or record.get("id") or f"line {known[j][0]}"
            split = record.get("split") or path.stem
            reasons[article.id] = (f"shares near-identical statements with {twin} ({split}, "
                                   f"Jaccard {score:.2f})")
    return [a for a in articles if a.id not in reasons], reasons


def choose(articles: list[Article], n: int, targets: dict[str, int]) -> list[dict]:
    """Greedy choice of ``n`` articles; each entry says what the article brought."""
    outlets = Counter(a.outlet for a in articles)
    corpora = Counter(a.corpus for a in articles)
    months = Counter(a.month for a in articles)
    # Each stratum's fair share of the n articles, by the square root of its size, so that the
    # small outlets are not drowned by Sky News Arabia's 1,309 articles.
    def shares(counts: Counter) -> dict[str, float]:
        roots = {k: math.sqrt(v) for k, v in counts.items()}
        total = sum(roots.values())
        return {k: n * r / total for k, r in roots.items()}

    fair = {"outlet": shares(outlets), "corpus": shares(corpora), "month": shares(months)}
    # Fixed per article: computed once, not at every one of the n steps.
    camp_counts = {a.id: a.camp_counts() for a in articles}
    uncertainty = {a.id: a.uncertainty() for a in articles}
    taken: dict[str, Counter] = {kind: Counter() for kind in fair}
    camps: Counter = Counter()
    remaining = list(articles)
    chosen = []
    for _ in range(min(n, len(remaining))):
        def gain(article: Article) -> tuple[float, str]:
            counts = camp_counts[article.id]
            need = sum(min(counts[c], max(0, t - camps[c])) / t * (max(targets.values()) / t)
                       for c, t in targets.items())
            crowding = sum(taken[kind][key] / max(fair[kind][key], 1.0)
                           for kind, key in (("outlet", article.outlet),
                                             ("corpus", article.corpus),
                                             ("month", article.month)))
            return (need * 10 + UNCERTAINTY_WEIGHT * uncertainty[article.id]
                    - SPREAD_WEIGHT * crowding / 3, article.id)

        best = max(remaining, key=gain)
        remaining.remove(best)
        counts = camp_counts[best.id]
        camps.update(counts)
        for kind, key in (("outlet", best.outlet), ("corpus", best.corpus), ("month", best.month)):
            taken[kind][key] += 1
        chosen.append({"article_id": best.id, "corpus": best.corpus, "outlet": best.outlet,
                       "month": best.month, "statements": len(best.statements),
                       "camps": dict(counts), "uncertainty": round(uncertainty[best.id], 4),
                       "article": best})
    return chosen


def label_studio_tasks(statements: list[dict], model_version: str | None) -> list[dict]:
    records = [{k: v for k, v in s.items() if k != "pre"} for s in statements]
    predictions = {s["id"]: s["pre"] for s in statements if "stance" in s["pre"]}
    return to_tasks(records, predictions, model_version)


def parse_camp_targets(value: str) -> dict[str, int]:
    targets = {}
    for part in value.split(","):
        camp, _, count = part.partition("=")
        if camp not in STANCES or camp == "none" or not count.isdigit() or int(count) < 1:
            raise argparse.ArgumentTypeError(
                f"expected CAMP=COUNT,... with camps regime, russia, opposition, got {part!r}")
        targets[camp] = int(count)
    return targets


@reported
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.data.select", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pool", type=Path, help="JSONL of articles, or a folder of .txt files")
    parser.add_argument("--n-articles", type=int, default=130, metavar="K")
    parser.add_argument("--model", type=Path, help="run folder that pre-scores the statements")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder to write")
    parser.add_argument("--exclude", type=Path, action="append", default=[],
                        help="selection.json of an earlier round: its articles are not chosen")
    parser.add_argument("--dataset", type=Path, action="append", metavar="JSONL",
                        help="dataset file whose near-duplicates are set aside (repeatable; "
                             "default: the project's train, dev and test splits)")
    parser.add_argument("--camp-targets", type=parse_camp_targets, default=CAMP_TARGETS,
                        metavar="CAMP=N,...")
    parser.add_argument("--categories", default=",".join(CATEGORIES),
                        help="pool categories to draw from (comma-separated; '' = uncategorised)")
    args = parser.parse_args(argv)
    from src.text.attribution import ActorList

    try:
        if args.n_articles < 1:
            raise DataError(f"--n-articles {args.n_articles}: expected at least 1")
        if args.output.exists() and any(args.output.iterdir()):
            raise DataError(f"{args.output}: not empty; choose a new folder")
        if not args.pool.exists():
            raise DataError(f"{args.pool}: no such file or folder")
        excluded = set()
        for path in args.exclude:
            excluded |= {a["article_id"] for a in json.loads(path.read_text("utf-8"))["articles"]}
        categories = set(args.categories.split(","))
        articles = [a for a in read_pool(args.pool)
                    if a.id not in excluded and (a.corpus == "local" or a.category in categories)]
        segment(articles, ActorList.load())
        articles = [a for a in articles if MIN_STATEMENTS <= len(a.statements) <= MAX_STATEMENTS]
        dataset = args.dataset or [path for path in SPLIT_FILES.values() if path.exists()]
        articles, set_aside = set_aside_near_duplicates(articles, dataset)
        if not articles:
            raise DataError(f"{args.pool}: no article with {MIN_STATEMENTS}-{MAX_STATEMENTS} "
                            f"statements to choose from ({len(set_aside)} set aside as "
                            "near-duplicates of the dataset)")
        model_version = prescore(articles, args.model) if args.model else None
        chosen = choose(articles, args.n_articles, args.camp_targets)
    except (OSError, json.JSONDecodeError, KeyError) as err:
        error(str(err))
        return USAGE
    statements = [s for entry in chosen for s in entry.pop("article").statements]
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "tasks.json").write_text(
        json.dumps(label_studio_tasks(statements, model_version), ensure_ascii=False, indent=1),
        encoding="utf-8")
    write_jsonl(args.output / "statements.jsonl", statements)
    summary = {"pool": str(args.pool), "model": model_version, "candidates": len(articles),
               "camp_targets": args.camp_targets, "articles": chosen,
               "set_aside": set_aside}
    (args.output / "selection.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    camps = Counter()
    for entry in chosen:
        camps.update(entry["camps"])
    print(f"chose {len(chosen)} of {len(articles)} articles, {len(statements)} statements "
          f"({', '.join(f'{c} {camps[c]}' for c in args.camp_targets)} attributed), "
          f"from {len({e['outlet'] for e in chosen})} outlets; {len(set_aside)} set aside as "
          f"near-duplicates of the dataset; wrote {args.output}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
