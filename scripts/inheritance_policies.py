"""Statement-level speaker accuracy of each inheritance policy on the real articles of a file.

    python scripts/inheritance_policies.py data/qawl/dev.jsonl [--tagger RUN/speaker]

Span sources: the rule attributor; the gold spans and cues with the gold inheritance left out,
which shows each policy where the spans are right; and a trained tagger when one is given.
Choose a policy on dev, never on test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from src.data.loading import read_records
from src.evaluation.speakers import gold_spans, read_articles, real_articles, speaker_accuracy
from src.inference.speakers import POLICIES, Speakers
from src.text.attribution import ActorList


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--tagger", type=Path, help="a task=speaker export folder")
    args = parser.parse_args(argv)
    records = read_records(str(args.file))
    articles = real_articles(records)
    positions = [p for article in articles for p in article]
    texts = [r["text"] for r in records]
    actors = ActorList.load()
    tagger = None
    if args.tagger is not None:
        from src.inference.tagging import SpeakerTagger

        tagger = SpeakerTagger(args.tagger)
    print(f"{args.file}: {len(positions)} real statements, {len(articles)} articles")
    names = ["rule spans", "gold own spans and cues", *(["tagger"] if tagger else [])]
    print(f"{'policy':10}" + "".join(f"{name:>26}" for name in names))
    for policy in POLICIES:
        gold = {}
        for article in articles:
            found = Speakers(actors, policy=policy).read(
                [texts[p] for p in article], [gold_spans(records[p]) for p in article])
            gold.update(zip(article, found, strict=True))
        readings = [read_articles(Speakers(actors, policy=policy), texts, articles), gold]
        if tagger is not None:
            readings.append(read_articles(Speakers(actors, tagger, policy), texts, articles))
        row = [speaker_accuracy(found, records, positions) for found in readings]
        print(f"{policy:10}" + "".join(f"{value:26.3f}" for value in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
